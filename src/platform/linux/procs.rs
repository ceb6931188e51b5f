//! Processes as /proc sees them, identified by PID *and* start time so a
//! recycled PID is never mistaken for the process we meant.

use serde::{Deserialize, Serialize};

/// A process, pinned by its start time (clock ticks since boot, /proc/PID/stat field 22).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcRef {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcRef {
    /// The process with this PID as it is now, if it exists.
    pub fn of_pid(pid: i32) -> Option<ProcRef> {
        process_start_time(pid).map(|start_time| ProcRef { pid, start_time })
    }

    /// Whether the PID still names this very process (a zombie counts as gone).
    pub fn is_alive(&self) -> bool {
        read_stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z' && s.state != 'X')
    }
}

impl std::fmt::Display for ProcRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.pid)
    }
}

/// The fields of /proc/PID/stat faultdrill uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// The command name (field 2, at most 15 bytes, as the kernel keeps it).
    pub comm: String,
    /// R, S, D, T, t, Z, X, I …
    pub state: char,
    pub ppid: i32,
    /// The process group (field 5).
    pub pgrp: i32,
    /// The kernel's per-process flags (field 9, `PF_*`).
    pub flags: u64,
    /// User CPU time, in clock ticks.
    pub utime: u64,
    /// System CPU time, in clock ticks.
    pub stime: u64,
    /// Start time, in clock ticks since boot.
    pub start_time: u64,
}

impl ProcStat {
    /// The process as a [`ProcRef`].
    pub fn proc_ref(&self) -> ProcRef {
        ProcRef { pid: self.pid, start_time: self.start_time }
    }

    /// CPU time used so far (user + system), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

/// Parses one /proc/PID/stat (or /proc/PID/task/TID/stat) line.
pub fn parse_stat(pid: i32, stat: &str) -> Option<ProcStat> {
    // The command name (field 2) may contain spaces and parentheses: it runs from
    // the first '(' to the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // `rest[0]` is field 3; field n is `rest[n - 3]`.
    let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgrp: rest.get(2)?.parse().ok()?,
        flags: field(9)?,
        utime: field(14)?,
        stime: field(15)?,
        start_time: field(22)?,
    })
}

/// /proc/PID/stat, or `None` if the process is gone.
pub fn read_stat(pid: i32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &stat)
}

/// Field 22 of /proc/PID/stat, or `None` if the process is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|s| s.start_time)
}

/// Whether the process's environment (/proc/PID/environ, as it was at exec) holds every
/// `NAME=value` of `wanted`; `false` when it cannot be read (gone, a kernel thread).
pub fn environ_has(pid: i32, wanted: &[String]) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let entries: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    wanted.iter().all(|w| entries.contains(&w.as_bytes()))
}

/// This boot's id (/proc/sys/kernel/random/boot_id): a PID and start time recorded under
/// another boot name nothing running now.
pub fn boot_id() -> Option<String> {
    // Read once: no process outlives the boot it started in.
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string()))
        .clone()
}

/// The process's arguments (/proc/PID/cmdline), empty for kernel threads and zombies.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// Every PID in /proc right now (processes, not threads).
pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<i32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    pids
}

/// `pid` and every ancestor up to PID 1 (nearest first).
pub fn ancestry(pid: i32) -> Vec<i32> {
    let mut chain = vec![pid];
    let mut current = pid;
    while current > 1 && chain.len() < 4096 {
        match read_stat(current) {
            Some(stat) if stat.ppid > 0 && !chain.contains(&stat.ppid) => {
                chain.push(stat.ppid);
                current = stat.ppid;
            }
            _ => break,
        }
    }
    chain
}

/// `PF_KTHREAD` (include/linux/sched.h): the process is a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Whether the process is a kernel thread, by the kernel's own flag: "PID 2 or a child of
/// it" holds for kthreadd only in the initial PID namespace; inside a container PID 2 is
/// an ordinary process (and its children are the workload).
pub fn is_kernel_thread(stat: &ProcStat) -> bool {
    stat.flags & PF_KTHREAD != 0
}

/// The file a process runs, as (device, inode), to recognise other faultdrill processes.
pub fn exe_identity(pid: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Clock ticks per second (USER_HZ), the unit of /proc CPU times.
pub fn clock_ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as u64,
        _ => 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_threads_are_told_by_their_flag_not_their_pid() {
        // kthreadd, as the initial PID namespace shows it: PID 2, PF_KTHREAD set.
        let kthreadd =
            parse_stat(2, &format!("2 (kthreadd) S 0 0 0 0 -1 {} 0 0 0 0 0 0 0 0 20 0 1 0 1", PF_KTHREAD | 0x40))
                .unwrap();
        assert!(is_kernel_thread(&kthreadd));
        // PID 2 inside a container, and its child: ordinary processes.
        let pid2 = parse_stat(2, "2 (nginx) S 1 2 2 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99").unwrap();
        let child = parse_stat(7, "7 (worker) S 2 2 2 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99").unwrap();
        assert!(!is_kernel_thread(&pid2) && !is_kernel_thread(&child));
        // Here: this test process is not one, and every PID 2 child in the initial namespace
        // that /proc shows is (when this test runs in it).
        let me = read_stat(std::process::id() as i32).unwrap();
        assert!(!is_kernel_thread(&me));
        if let Some(k) = read_stat(2).filter(|s| s.comm == "kthreadd") {
            assert!(is_kernel_thread(&k), "kthreadd carries PF_KTHREAD: {k:?}");
        }
    }

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcRef::of_pid(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        assert!(!ProcRef { start_time: me.start_time + 1, ..me }.is_alive());
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (we(ird) n)ame) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                    7 3 0 0 20 0 1 0 123456 1000 100 18446744073709551615";
        let stat = parse_stat(4242, line).unwrap();
        assert_eq!(stat.comm, "we(ird) n)ame");
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp), (17, 4242));
        assert_eq!((stat.utime, stat.stime, stat.start_time), (7, 3, 123456));
    }

    #[test]
    fn own_ancestry_reaches_init() {
        let chain = ancestry(std::process::id() as i32);
        assert_eq!(chain[0], std::process::id() as i32);
        assert!(chain.len() >= 2, "{chain:?}");
    }

    #[test]
    fn own_cmdline_is_readable() {
        let args = cmdline(std::process::id() as i32).unwrap();
        assert!(!args.is_empty());
    }
}
