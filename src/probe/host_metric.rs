//! Host metrics read from /proc and statvfs: cpu, memory, disk use of a path, load (also per
//! core), process count.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::experiment::HostMetric;
use crate::platform::linux::cpustat::{self, HostCpuTimes};
use crate::platform::linux::{meminfo, procs};

/// Reads one host metric on this machine. The message on error tells the operator what to fix.
pub fn read_host_metric(metric: HostMetric, path: Option<&Path>, process: Option<&str>) -> Result<f64, String> {
    match metric {
        HostMetric::CpuPercent => cpu_percent(),
        HostMetric::MemoryPercent => memory_percent(),
        HostMetric::DiskUsedPercent => {
            disk_used_percent(path.ok_or("disk_used_percent needs a `path` (the filesystem to watch)")?)
        }
        HostMetric::Load1 => load1(),
        HostMetric::Load1PerCore => Ok(load1()? / cpustat::online_cpus() as f64),
        HostMetric::ProcessCount => {
            Ok(process_count(process.ok_or("process_count needs a `name` (exact process name)")?) as f64)
        }
    }
}

/// Used space of the filesystem holding `path`, as `df` computes it: used / (used + available).
pub fn disk_used_percent(path: &Path) -> Result<f64, String> {
    let st =
        nix::sys::statvfs::statvfs(path).map_err(|e| format!("cannot stat filesystem of {}: {e}", path.display()))?;
    let frsize = st.fragment_size() as f64;
    let used = (st.blocks() as f64 - st.blocks_free() as f64) * frsize;
    let avail = st.blocks_available() as f64 * frsize;
    if used + avail <= 0.0 {
        return Ok(0.0);
    }
    Ok(used / (used + avail) * 100.0)
}

fn memory_percent() -> Result<f64, String> {
    let mem = meminfo::meminfo().map_err(|e| format!("cannot read /proc/meminfo: {e}"))?;
    Ok(mem.used() as f64 / mem.total as f64 * 100.0)
}

fn load1() -> Result<f64, String> {
    let text = std::fs::read_to_string("/proc/loadavg").map_err(|e| format!("cannot read /proc/loadavg: {e}"))?;
    text.split_whitespace().next().and_then(|v| v.parse().ok()).ok_or_else(|| "unreadable /proc/loadavg".into())
}

/// Number of processes whose comm is exactly `name`.
pub fn process_count(name: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end_matches('\n') == name))
        // A killed process its parent has not reaped yet (a zombie) is not running.
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse().ok())
                .and_then(procs::read_stat)
                .is_some_and(|s| !matches!(s.state, 'Z' | 'X'))
        })
        .count()
}

/// The host's busy and total CPU ticks now (/proc/stat).
fn cpu_times() -> Result<HostCpuTimes, String> {
    cpustat::host_cpu_times().map_err(|e| format!("cannot read /proc/stat: {e}"))
}

/// The last /proc/stat reading, so back-to-back samples measure the time between them.
static LAST_CPU: Mutex<Option<(Instant, HostCpuTimes)>> = Mutex::new(None);

/// CPU busy percent (all cores) since the previous sample; the first sample (or one
/// after a long pause) measures over a fresh 100 ms window.
fn cpu_percent() -> Result<f64, String> {
    let mut last = LAST_CPU.lock().unwrap_or_else(|p| p.into_inner());
    let previous = match *last {
        Some((at, times)) if at.elapsed() >= Duration::from_millis(50) && at.elapsed() <= Duration::from_secs(10) => {
            times
        }
        _ => {
            let before = cpu_times()?;
            std::thread::sleep(Duration::from_millis(100));
            before
        }
    };
    let now = cpu_times()?;
    *last = Some((Instant::now(), now));
    Ok(now.busy_fraction_since(&previous).map_or(0.0, |busy| busy * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_metric_of_this_host() {
        for (metric, path, process) in [
            (HostMetric::CpuPercent, None, None),
            (HostMetric::MemoryPercent, None, None),
            (HostMetric::DiskUsedPercent, Some(Path::new("/")), None),
            (HostMetric::Load1, None, None),
            (HostMetric::Load1PerCore, None, None),
        ] {
            let v = read_host_metric(metric, path, process).unwrap();
            assert!(v >= 0.0, "{metric:?} = {v}");
            if !matches!(metric, HostMetric::Load1 | HostMetric::Load1PerCore) {
                assert!(v <= 100.0, "{metric:?} = {v}");
            }
        }
    }

    #[test]
    fn load_per_core_is_the_load_average_over_the_online_cpus() {
        let cores = cpustat::online_cpus() as f64;
        // The kernel updates the load average every 5 s: read until two reads agree.
        for _ in 0..10 {
            let (a, per_core, b) = (load1().unwrap(), read_host_metric(HostMetric::Load1PerCore, None, None), load1());
            if Ok(a) == b {
                assert!((per_core.unwrap() - a / cores).abs() < 1e-9);
                return;
            }
        }
        panic!("the load average kept changing");
    }

    #[test]
    fn counts_processes_by_exact_name() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(process_count(me.trim()) >= 1);
        assert_eq!(process_count("no-such-process-fd"), 0);
    }

    #[test]
    fn process_count_does_not_count_a_killed_unreaped_process() {
        // A copy of `sleep` under a unique name, killed but not reaped: a zombie.
        let dir = tempfile::tempdir().unwrap();
        let name = format!("fdzomb{}", std::process::id());
        let exe = dir.path().join(&name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let mut child = std::process::Command::new(&exe).arg("60").spawn().unwrap();
        assert_eq!(process_count(&name), 1);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGKILL).unwrap();
        let start = Instant::now();
        while procs::read_stat(child.id() as i32).is_some_and(|s| s.state != 'Z') {
            assert!(start.elapsed() < Duration::from_secs(5), "the child became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(process_count(&name), 0, "a zombie is not a running process");
        child.wait().unwrap();
    }

    #[test]
    fn disk_metric_without_path_says_what_is_missing() {
        let err = read_host_metric(HostMetric::DiskUsedPercent, None, None).unwrap_err();
        assert!(err.contains("path"), "{err}");
    }
}
