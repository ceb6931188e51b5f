//! `faultdrill recover --sweep`: find what faultdrill owns on this host without the
//! journal, and roll it back, verified like any rollback.
//!
//! Found from the system itself: helper processes tagged `helper KIND --injection ID`
//! (in this PID namespace), nftables tables named `faultdrill_*` and root qdiscs with a
//! faultdrill handle (`fd00:`..`fdff:`), in the current network namespace and the named
//! ones asked for. Found from the sidecars in the state dir (written before each fault):
//! paused processes (`paused/`), fill files (`fills/`) and custom actions' commands still
//! running (`running/`: killed with their process group; their rollback command is only
//! in the journal). Fill files are also looked for (`faultdrill-fill-*`) directly in each
//! folder given with `--path`. A paused process or a fill file whose sidecar is lost
//! cannot be told from any other.

use std::path::{Path, PathBuf};

use crate::fault::DELAY_RULE_PRIORITY as RULE_PRIORITY;
use crate::fault::{Undo, UndoOutcome, running_records, verify};
use crate::ids::InjectionId;
use crate::platform::linux::files::FILE_PREFIX;
use crate::platform::linux::tun::DEVICE_PREFIX;
use crate::platform::linux::{ProcRef, fusemount, helpers, iproute, nft, tc};

use super::sidecar::{FILLS_DIR, FillsSidecar, PAUSED_DIR, PausedSidecar, read_all};

/// What to sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepScope {
    /// The state dir whose sidecars are read (and removed once their fault is gone).
    pub state_dir: PathBuf,
    /// Named network namespaces to sweep besides the current one.
    pub netns: Vec<String>,
    /// Folders to look in for fill files besides those the sidecars name.
    pub fill_dirs: Vec<PathBuf>,
}

/// One thing faultdrill owns that the sweep found.
#[derive(Clone, Debug)]
pub struct Found {
    /// What it is, for people.
    pub what: String,
    /// How to undo it (the same records the journal holds).
    pub undo: Undo,
    /// The sidecar that named it, removed once it is verified gone.
    pub sidecar: Option<PathBuf>,
}

/// What sweeping one found thing did.
#[derive(Clone, Debug)]
pub struct Swept {
    pub found: Found,
    /// What the undo found, or why it is not done (a "NOT verified" text included).
    pub outcome: Result<UndoOutcome, String>,
}

impl Swept {
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Everything the sweep finds, in the order it is undone (helpers first, so a growing
/// fill file is closed before it is deleted), and the problems met looking.
pub fn find(scope: &SweepScope) -> (Vec<Found>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    find_running(&scope.state_dir, &mut found, &mut problems);
    find_mounts(&mut found, &mut problems);
    find_helpers(&mut found);
    find_fills(scope, &mut found, &mut problems);
    find_paused(&scope.state_dir, &mut found, &mut problems);
    let spaces: Vec<Option<String>> = std::iter::once(None).chain(scope.netns.iter().cloned().map(Some)).collect();
    for netns in &spaces {
        find_network(netns.as_deref(), &mut found, &mut problems);
    }
    (found, problems)
}

/// Undoes one found thing, then checks it is gone.
pub fn undo(found: Found) -> Swept {
    let outcome = found.undo.carry_out().map_err(|e| crate::errors::error_chain(&e)).and_then(|outcome| {
        verify(&found.undo).map_err(|e| e.to_string())?;
        Ok(outcome)
    });
    if outcome.is_ok() {
        if let Some(sidecar) = &found.sidecar {
            let _ = std::fs::remove_file(sidecar);
        }
    }
    Swept { found, outcome }
}

/// Custom actions' commands recorded as running (an inject whose controller was killed),
/// killed first: nothing else the sweep undoes may be redone behind it.
fn find_running(state_dir: &Path, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    for (record, injection, undo) in running_records(state_dir) {
        match undo {
            Ok(undo) => {
                let step = match &undo {
                    Undo::StopCommand { step, .. } => format!("{step} command"),
                    Undo::Nothing => "command (of an earlier boot)".to_string(),
                    _ => "commands".to_string(),
                };
                let what = format!("the {step} of {injection} recorded as running ({})", record.display());
                found.push(Found { what, undo, sidecar: Some(record) });
            }
            Err(e) => problems.push(format!("unreadable record {}: {e}", record.display())),
        }
    }
}

/// FUSE mounts of io-latency and io-error, unmounted before their helpers are stopped.
fn find_mounts(found: &mut Vec<Found>, problems: &mut Vec<String>) {
    match fusemount::faultdrill_mounts() {
        Ok(mounts) => {
            for mount in mounts {
                found.push(Found {
                    what: format!("FUSE mount {} on {}", mount.source, mount.mountpoint.display()),
                    undo: Undo::UnmountFuse { mountpoint: mount.mountpoint, source: mount.source },
                    sidecar: None,
                });
            }
        }
        Err(e) => problems.push(format!("could not read this mount namespace's mountinfo: {e}")),
    }
}

fn find_helpers(found: &mut Vec<Found>) {
    let mut by_injection: Vec<(InjectionId, Vec<ProcRef>)> = Vec::new();
    for (id, proc_ref) in helpers::find_all_helpers() {
        match by_injection.iter_mut().find(|(i, _)| *i == id) {
            Some((_, procs)) => procs.push(proc_ref),
            None => by_injection.push((id, vec![proc_ref])),
        }
    }
    for (injection, procs) in by_injection {
        let pids: Vec<String> = procs.iter().map(|p| p.pid.to_string()).collect();
        found.push(Found {
            what: format!("helper process(es) of {injection}: pid {}", pids.join(", ")),
            undo: Undo::StopHelpers { injection, helpers: procs },
            sidecar: None,
        });
    }
}

fn find_fills(scope: &SweepScope, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    let mut files: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for (sidecar, read) in read_all::<FillsSidecar>(&scope.state_dir, FILLS_DIR) {
        match read {
            Ok(s) => files.extend(s.files.into_iter().map(|f| (f, Some(sidecar.clone())))),
            Err(e) => problems.push(format!("unreadable sidecar {}: {e}", sidecar.display())),
        }
    }
    for dir in &scope.fill_dirs {
        match std::fs::read_dir(dir) {
            Ok(entries) => files.extend(entries.flatten().map(|e| e.path()).filter(|p| is_fill(p)).map(|p| (p, None))),
            Err(e) => problems.push(format!("could not read {}: {e}", dir.display())),
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for (path, sidecar) in files {
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        // A sidecar's file already gone still has its sidecar to clear; look anyway.
        if path.symlink_metadata().is_err() && sidecar.is_none() {
            continue;
        }
        found.push(Found { what: format!("fill file {}", path.display()), undo: Undo::DeleteFile { path }, sidecar });
    }
}

/// Whether `path` is named like a disk-fill file (`faultdrill-fill-<injection>`).
fn is_fill(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{FILE_PREFIX}fill-")))
}

fn find_paused(state_dir: &Path, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    for (sidecar, read) in read_all::<PausedSidecar>(state_dir, PAUSED_DIR) {
        match read {
            Ok(s) => {
                let pids: Vec<String> = s.processes.iter().map(|p| p.pid.to_string()).collect();
                found.push(Found {
                    what: format!("process(es) paused by {}: pid {}", s.injection, pids.join(", ")),
                    undo: Undo::Resume { processes: s.processes },
                    sidecar: Some(sidecar),
                });
            }
            Err(e) => problems.push(format!("unreadable sidecar {}: {e}", sidecar.display())),
        }
    }
}

fn find_network(netns: Option<&str>, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    let where_ =
        netns.map_or_else(|| "the current network namespace".to_string(), |n| format!("network namespace `{n}`"));
    match nft::list_tables(netns) {
        Ok(tables) => {
            for (family, table) in tables.into_iter().filter(|(_, t)| t.starts_with("faultdrill_")) {
                found.push(Found {
                    what: format!("nftables table {family} {table} in {where_}"),
                    undo: Undo::DeleteNftTable { netns: netns.map(str::to_string), family, table },
                    sidecar: None,
                });
            }
        }
        Err(e) => problems.push(format!("could not list the nftables tables of {where_}: {e}")),
    }
    match tc::own_roots(netns) {
        Ok(roots) => {
            for (device, handle) in roots {
                found.push(Found {
                    what: format!("root qdisc {handle} of {device} in {where_}"),
                    undo: Undo::DeleteRootQdisc { netns: netns.map(str::to_string), device, handle, root_before: None },
                    sidecar: None,
                });
            }
        }
        Err(e) => problems.push(format!("could not list the qdiscs of {where_}: {e}")),
    }
    match iproute::rules_at(netns, RULE_PRIORITY) {
        Ok(rules) => {
            for (ipv6, fwmark, table) in rules {
                found.push(Found {
                    what: format!("ip rule priority {RULE_PRIORITY} fwmark {fwmark:#x} lookup {table} in {where_}"),
                    undo: Undo::DeleteIpRule {
                        netns: netns.map(str::to_string),
                        ipv6,
                        priority: RULE_PRIORITY,
                        fwmark,
                        table,
                    },
                    sidecar: None,
                });
            }
        }
        Err(e) => problems.push(format!("could not list the policy-routing rules of {where_}: {e}")),
    }
    match iproute::links_with_prefix(netns, DEVICE_PREFIX) {
        Ok(devices) => {
            for device in devices {
                found.push(Found {
                    what: format!("TUN device {device} in {where_}"),
                    undo: Undo::DeleteLink { netns: netns.map(str::to_string), device },
                    sidecar: None,
                });
            }
        }
        Err(e) => problems.push(format!("could not list the devices of {where_}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inject_recorded_as_running_is_found_and_killed() {
        let state = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let env = [("FAULTDRILL_INJECTION_ID", id.to_string()), ("FAULTDRILL_STEP", "inject".to_string())];
        let step = crate::fault::CommandStep {
            argv: vec!["sh".into(), "-c".into(), "sleep 30; true".into()],
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            timeout_ms: 60_000,
        };
        let record = crate::fault::StepRecord::new(state.path(), &id, "inject");
        let path = record.path().to_path_buf();
        let running = std::thread::spawn(move || step.run_recorded(&record));
        let mut found: Vec<Found> = Vec::new();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while found.is_empty() || verify(&found[0].undo).is_ok() {
            assert!(std::time::Instant::now() < until, "the inject never ran");
            found.clear();
            find_running(state.path(), &mut found, &mut Vec::new());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(matches!(&found[0].undo, Undo::StopCommand { leader: Some(_), .. }), "{found:?}");
        assert!(found[0].what.starts_with(&format!("the inject command of {id} recorded as running")), "{found:?}");
        let swept = undo(found.remove(0));
        assert_eq!(swept.outcome, Ok(UndoOutcome::Undone));
        assert!(running.join().unwrap().is_err(), "killed");
        assert!(!path.exists(), "its record is removed");
    }

    #[test]
    fn fill_files_are_recognised_by_name() {
        assert!(is_fill(Path::new("/data/faultdrill-fill-i-abc")));
        assert!(!is_fill(Path::new("/data/faultdrill-other")));
        assert!(!is_fill(Path::new("/data/precious.db")));
    }

    #[test]
    fn a_fill_file_in_a_given_folder_is_found_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let fill = dir.path().join("faultdrill-fill-i-sweep");
        std::fs::write(&fill, b"x").unwrap();
        std::fs::write(dir.path().join("keep.txt"), b"x").unwrap();
        let scope = SweepScope { state_dir: state.path().into(), netns: vec![], fill_dirs: vec![dir.path().into()] };
        let mut found = Vec::new();
        let mut problems = Vec::new();
        find_fills(&scope, &mut found, &mut problems);
        assert_eq!(found.len(), 1, "{found:?}");
        let swept = undo(found.remove(0));
        assert_eq!(swept.outcome, Ok(UndoOutcome::Undone));
        assert!(!fill.exists() && dir.path().join("keep.txt").exists());
    }
}
