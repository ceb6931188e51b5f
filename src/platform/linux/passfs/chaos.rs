//! What an io fault does to one operation: which operations, which callers,
//! how often, and what (a delay, or an errno).

use std::time::Duration;

use rand::Rng;

/// Which operations a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ops {
    /// `read(2)` and its kin (pread, readv, ...).
    Read,
    /// `write(2)` and its kin.
    Write,
    /// Every filesystem operation: reads, writes, open, stat, readdir, create, unlink, rename, fsync, ...
    All,
}

impl Ops {
    /// `read`, `write` or `all`.
    pub fn parse(text: &str) -> Option<Ops> {
        match text {
            "read" => Some(Ops::Read),
            "write" => Some(Ops::Write),
            "all" => Some(Ops::All),
            _ => None,
        }
    }

    fn covers(self, op: OpKind) -> bool {
        matches!((self, op), (Ops::All, _) | (Ops::Read, OpKind::Read) | (Ops::Write, OpKind::Write))
    }
}

/// The kind of one FUSE operation, as the fault sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Write,
    Other,
}

/// What happens to a hit operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// Served after `latency`, plus or minus up to `jitter` (uniformly).
    Delay { latency: Duration, jitter: Duration },
    /// Failed with this errno, without touching the file.
    Fail { errno: i32 },
}

/// Which callers a fault hits: any of these process ids or exact process names
/// (`comm`). An empty filter hits everybody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub pids: Vec<u32>,
    pub names: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.names.is_empty()
    }

    /// Whether the caller thread `tid` (FUSE reports the calling thread) belongs to a
    /// selected process. Requests the kernel makes on nobody's behalf (tid 0) never match.
    fn matches(&self, tid: u32) -> bool {
        if self.is_empty() {
            return true;
        }
        if tid == 0 {
            return false;
        }
        let tgid = thread_group(tid).unwrap_or(tid);
        if self.pids.contains(&tgid) {
            return true;
        }
        !self.names.is_empty()
            && std::fs::read_to_string(format!("/proc/{tgid}/comm"))
                .is_ok_and(|comm| self.names.iter().any(|n| n == comm.trim_end_matches('\n')))
    }
}

/// The process (thread group) a thread belongs to.
fn thread_group(tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// An io fault's whole policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Chaos {
    pub effect: Effect,
    pub ops: Ops,
    /// Share of the selected operations hit, 0 to 100.
    pub percent: f64,
    pub filter: Filter,
}

/// What to do with one operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    Serve,
    Delay(Duration),
    Fail(i32),
}

impl Chaos {
    /// Whether operations of `op` from caller `tid` may be hit at all (no dice thrown).
    pub fn may_hit(&self, op: OpKind, tid: u32) -> bool {
        self.percent > 0.0 && self.ops.covers(op) && self.filter.matches(tid)
    }

    /// What to do with one operation of `op` from caller `tid`.
    pub fn judge(&self, op: OpKind, tid: u32) -> Verdict {
        if !self.ops.covers(op) || self.percent <= 0.0 {
            return Verdict::Serve;
        }
        let mut rng = rand::rng();
        if self.percent < 100.0 && rng.random_range(0.0..100.0) >= self.percent {
            return Verdict::Serve;
        }
        if !self.filter.matches(tid) {
            return Verdict::Serve;
        }
        match self.effect {
            Effect::Fail { errno } => Verdict::Fail(errno),
            Effect::Delay { latency, jitter } if jitter.is_zero() => Verdict::Delay(latency),
            Effect::Delay { latency, jitter } => {
                let spread = jitter.as_secs_f64();
                let offset = rng.random_range(-spread..=spread);
                Verdict::Delay(Duration::from_secs_f64((latency.as_secs_f64() + offset).max(0.0)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chaos(ops: Ops, percent: f64) -> Chaos {
        Chaos { effect: Effect::Fail { errno: libc::EIO }, ops, percent, filter: Filter::default() }
    }

    #[test]
    fn only_the_chosen_operations_are_hit() {
        let read = chaos(Ops::Read, 100.0);
        assert_eq!(read.judge(OpKind::Read, 1), Verdict::Fail(libc::EIO));
        assert_eq!(read.judge(OpKind::Write, 1), Verdict::Serve);
        assert_eq!(read.judge(OpKind::Other, 1), Verdict::Serve);
        let all = chaos(Ops::All, 100.0);
        assert_eq!(all.judge(OpKind::Other, 1), Verdict::Fail(libc::EIO));
        assert_eq!(chaos(Ops::All, 0.0).judge(OpKind::Read, 1), Verdict::Serve);
    }

    #[test]
    fn a_percentage_hits_about_that_share() {
        let half = chaos(Ops::All, 50.0);
        let hits = (0..10_000).filter(|_| half.judge(OpKind::Read, 1) != Verdict::Serve).count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let latency = Duration::from_millis(50);
        let jitter = Duration::from_millis(10);
        let c = Chaos { effect: Effect::Delay { latency, jitter }, ..chaos(Ops::All, 100.0) };
        for _ in 0..1000 {
            let Verdict::Delay(d) = c.judge(OpKind::Read, 1) else { panic!() };
            assert!(d >= latency - jitter && d <= latency + jitter, "{d:?}");
        }
    }

    #[test]
    fn a_filter_hits_only_the_named_processes() {
        let me = std::process::id();
        let by_pid = Filter { pids: vec![me], names: vec![] };
        assert!(by_pid.matches(me));
        assert!(!by_pid.matches(0), "kernel-made requests belong to nobody");
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap().trim().to_string();
        assert!(Filter { pids: vec![], names: vec![comm] }.matches(me));
        assert!(!Filter { pids: vec![], names: vec!["no-such-comm".into()] }.matches(me));
        assert!(Filter::default().matches(0));
    }
}
