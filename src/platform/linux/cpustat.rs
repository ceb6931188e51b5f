//! CPU time as the kernel counts it: the host's (/proc/stat), a process's and a thread's own.

use std::time::Duration;

/// The host's CPU counters from the aggregate `cpu` line of /proc/stat, in clock ticks
/// summed over every CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCpuTimes {
    /// user + nice + system + irq + softirq + steal (guest time is already in user).
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
    /// How many `cpuN` lines there are.
    pub cpus: usize,
}

impl HostCpuTimes {
    /// The busy share of the host between `earlier` and `self`, 0.0..=1.0.
    pub fn busy_fraction_since(&self, earlier: &HostCpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        (total > 0).then(|| (busy as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// Parses /proc/stat.
pub fn parse_proc_stat(text: &str) -> Option<HostCpuTimes> {
    let mut times = None;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
                if v.len() < 8 {
                    return None;
                }
                // user nice system idle iowait irq softirq steal
                let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
                times = Some(HostCpuTimes { busy, total: busy + v[3] + v[4], cpus: 0 });
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    times.map(|t| HostCpuTimes { cpus, ..t })
}

/// The host's CPU counters now.
/// The CPUs online (`/sys/devices/system/cpu/online`, e.g. `0-3,6`): what the load average
/// is spread over. Falls back to the CPUs this process may use.
pub fn online_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|text| parse_cpu_list(text.trim()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of CPUs in a kernel CPU list such as `0-3,6` (`None` when unreadable or empty).
fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut count = 0;
    for part in text.split(',') {
        count += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse::<usize>().ok()?)? + 1,
            None => part.parse::<usize>().map(|_| 1).ok()?,
        };
    }
    (count > 0).then_some(count)
}

pub fn host_cpu_times() -> std::io::Result<HostCpuTimes> {
    let text = std::fs::read_to_string("/proc/stat")?;
    parse_proc_stat(&text)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected /proc/stat format"))
}

/// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID, nanosecond resolution).
pub fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

/// CPU time the whole calling process has used (every thread).
pub fn process_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_like_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,6"), Some(5));
        assert_eq!(parse_cpu_list("0-1,4-5"), Some(4));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert!(online_cpus() >= 1);
    }

    #[test]
    fn proc_stat_parses() {
        let text = "cpu  100 5 50 800 10 1 2 3 0 0\ncpu0 50 2 25 400 5 0 1 1 0 0\n\
                    cpu1 50 3 25 400 5 1 1 2 0 0\nintr 1 2 3\n";
        let t = parse_proc_stat(text).unwrap();
        assert_eq!(t, HostCpuTimes { busy: 161, total: 971, cpus: 2 });
        let later = HostCpuTimes { busy: 261, total: 1171, cpus: 2 };
        assert_eq!(later.busy_fraction_since(&t), Some(0.5));
    }

    #[test]
    fn thread_cpu_time_advances_when_spinning() {
        let start = thread_cpu_time();
        let wall = std::time::Instant::now();
        while wall.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        assert!(thread_cpu_time() > start);
        assert!(host_cpu_times().unwrap().cpus >= 1);
    }
}
