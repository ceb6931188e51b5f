//! Waiting for a killed service to come back (process-kill's `await_restart`): a process
//! matching the same selection that is none of the killed ones (a new PID, or the same PID
//! reused with a new start time), and how long it took.

use std::time::{Duration, Instant};

use super::selection::{self, Selection};
use crate::platform::linux::ProcRef;
use crate::platform::linux::procs;

/// How often /proc is scanned while waiting.
const POLL: Duration = Duration::from_millis(20);

/// Polls until a process matching `selection` that is none of `killed` runs, or `within`
/// passes. Returns the report line: the new PID and the time to recover, or that nothing
/// came back (the steady state's check after the faults is the judge of that).
pub fn await_restart(selection: &Selection, killed: &[ProcRef], within: Duration) -> String {
    let started = Instant::now();
    let was: Vec<String> = killed.iter().map(|k| k.pid.to_string()).collect();
    let was = was.join(", ");
    loop {
        let replacement = procs::all_pids()
            .into_iter()
            .filter_map(procs::read_stat)
            .filter(|s| selection::matches(selection, s))
            .find(|s| !killed.contains(&s.proc_ref()));
        if let Some(new) = replacement {
            return format!(
                "restarted after {:.3} s: pid {} ({}) replaces pid {was}",
                started.elapsed().as_secs_f64(),
                new.pid,
                new.comm
            );
        }
        if started.elapsed() >= within {
            let alive: Vec<String> = killed.iter().filter(|k| k.is_alive()).map(|k| k.pid.to_string()).collect();
            let still = if alive.is_empty() {
                String::new()
            } else {
                format!(" (pid {} still runs: the signal did not end it)", alive.join(", "))
            };
            return format!(
                "not restarted within {}: no new process {}{still}",
                humantime::format_duration(within),
                selection.describe()
            );
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{ParamKind, ParamSpec, Params, RawParams};
    use std::process::Command;

    fn by_name(name: &str) -> Selection {
        // The selection's own declarations, so their defaults apply as in a real fault.
        const SPECS: &[ParamSpec] = &[
            ParamSpec { name: "name", kind: ParamKind::Text, default: None, required: false, doc: "" },
            crate::fault::selection::MAX_MATCHES,
        ];
        let raw: RawParams = [("name".to_string(), serde_json::json!(name))].into();
        Selection::from_params(&Params::check(SPECS, &raw).unwrap()).unwrap()
    }

    /// A copy of sleep with a unique name, so no other process matches.
    fn service(dir: &std::path::Path, tag: &str) -> (std::path::PathBuf, String) {
        let name = format!("fdr{tag}{}", std::process::id());
        let exe = dir.join(&name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        (exe, name)
    }

    #[test]
    fn a_new_process_is_found_with_its_time_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let (exe, name) = service(dir.path(), "a");
        let mut old = Command::new(&exe).arg("30").spawn().unwrap();
        let killed = ProcRef::of_pid(old.id() as i32).unwrap();
        old.kill().unwrap();
        old.wait().unwrap();
        let exe2 = exe.clone();
        let starter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            Command::new(&exe2).arg("30").spawn().unwrap()
        });
        let line = await_restart(&by_name(&name), &[killed], Duration::from_secs(5));
        let mut new = starter.join().unwrap();
        assert!(line.starts_with("restarted after 0.3") || line.starts_with("restarted after 0.4"), "{line}");
        assert!(line.contains(&format!("pid {} ({name}) replaces pid {}", new.id(), killed.pid)), "{line}");
        new.kill().unwrap();
        new.wait().unwrap();
    }

    #[test]
    fn a_process_that_survived_the_signal_is_not_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (exe, name) = service(dir.path(), "b");
        let mut old = Command::new(&exe).arg("30").spawn().unwrap();
        let killed = ProcRef::of_pid(old.id() as i32).unwrap();
        let line = await_restart(&by_name(&name), &[killed], Duration::from_millis(200));
        assert_eq!(
            line,
            format!(
                "not restarted within 200ms: no new process named `{name}` (pid {} still runs: the signal did not end it)",
                killed.pid
            )
        );
        old.kill().unwrap();
        old.wait().unwrap();
    }
}
