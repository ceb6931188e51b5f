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

    /// Whether the PID still names this very process.
    pub fn is_alive(&self) -> bool {
        process_start_time(self.pid) == Some(self.start_time)
    }
}

/// Field 22 of /proc/PID/stat, or `None` if the process is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcRef::of_pid(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        assert!(!ProcRef { start_time: me.start_time + 1, ..me }.is_alive());
    }
}
