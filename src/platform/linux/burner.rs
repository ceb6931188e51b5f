//! The CPU burner that runs inside a `faultdrill helper burn-cpu` process.
//!
//! One thread per core burns a duty cycle in 100 ms slices. Each thread steers
//! by its *own* CPU time (CLOCK_THREAD_CPUTIME_ID), not by wall time: when the
//! core is contended and the thread gets less than it asked for, the shortfall
//! is carried into the next slices (bounded), so the achieved load stays on
//! target. In `total` mode a controller reads /proc/stat and sets each thread's
//! target so the host as a whole reaches the requested percent.
//!
//! A thread that keeps falling short (the host is saturated, so fair sharing
//! gives it less than its duty cycle) raises its own priority in steps, down to
//! nice −10, and gives it back slowly once it is on target again. The duty
//! cycle still caps what it takes: priority only lets it get what was asked,
//! never more. Without it, a CPU burn on a busy host measures nothing.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cpustat::{HostCpuTimes, host_cpu_times, process_cpu_time, thread_cpu_time};

/// How the requested percent is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurnMode {
    /// Each burner thread uses `percent` of one core, on top of whatever else runs.
    Add,
    /// The host's overall CPU use (every CPU, /proc/stat) is driven to `percent`.
    Total,
}

/// What to burn, and until when.
#[derive(Clone, Copy, Debug)]
pub struct BurnPlan {
    pub percent: f64,
    pub threads: usize,
    pub mode: BurnMode,
    pub until: Instant,
}

/// The duty-cycle period.
pub const SLICE: Duration = Duration::from_millis(100);
/// How often `total` mode re-reads /proc/stat.
const CONTROL_PERIOD: Duration = Duration::from_millis(500);

/// A thread's target fraction of one core, shared with the controller.
struct Target(AtomicU64);

impl Target {
    fn new(fraction: f64) -> Target {
        Target(AtomicU64::new(fraction.clamp(0.0, 1.0).to_bits()))
    }
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn set(&self, fraction: f64) {
        self.0.store(fraction.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }
}

/// Starts the burner threads, calls `ready` once they run, and returns at `plan.until`.
pub fn burn(plan: BurnPlan, ready: impl FnOnce()) {
    let threads = plan.threads.max(1);
    let initial = match plan.mode {
        BurnMode::Add => plan.percent / 100.0,
        BurnMode::Total => total_mode_share(plan.percent, threads, others_now()),
    };
    let target = Arc::new(Target::new(initial));
    let board = Arc::new(NiceBoard::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let target = Arc::clone(&target);
            let board = Arc::clone(&board);
            std::thread::Builder::new()
                .name(format!("burn-{i}"))
                .spawn(move || burn_thread(&target, &board, i, plan.until))
                .expect("spawn a burner thread")
        })
        .collect();
    ready();
    if plan.mode == BurnMode::Total {
        control_total(&target, plan, threads);
    }
    for handle in handles {
        let _ = handle.join();
    }
}

/// The most a burner thread raises its priority (a nice value).
const MOST_URGENT_NICE: i32 = -10;

/// Steers a thread's nice value by whether it gets the CPU time it asks for.
#[derive(Debug, Default)]
struct PriorityGovernor {
    nice: i32,
    short_slices: u32,
    good_slices: u32,
}

impl PriorityGovernor {
    /// Records one slice; returns the new nice value when it should change.
    fn record(&mut self, asked: f64, used: f64) -> Option<i32> {
        // A slice counts as short when it got under 90 % of what it asked for.
        if asked > 0.0 && used < asked * 0.9 {
            self.short_slices += 1;
            self.good_slices = 0;
        } else {
            self.good_slices += 1;
            self.short_slices = 0;
        }
        if self.short_slices >= 3 && self.nice > MOST_URGENT_NICE {
            self.short_slices = 0;
            self.nice = (self.nice - 2).max(MOST_URGENT_NICE);
            return Some(self.nice);
        }
        if self.good_slices >= 20 && self.nice < 0 {
            self.good_slices = 0;
            self.nice += 1;
            return Some(self.nice);
        }
        None
    }
}

/// Sets the calling thread's nice value; refused (not root) is fine: it stays as it is.
#[expect(unsafe_code, reason = "setpriority has no safe wrapper in nix")]
fn set_thread_nice(nice: i32) {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: setpriority only reads its integer arguments; PRIO_PROCESS with a
    // thread id changes that one thread on Linux.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
}

/// The nice values of every burner thread, and the scheduler autogroup's.
///
/// With autogroups (a desktop or shell kernel default) a thread's nice only
/// counts inside its session's group, so a burner that leads its own session
/// (helpers do) sets the group's nice to its most urgent thread's. A burner
/// that is not a session leader never touches the group: it would be the
/// controller's or the operator's shell's.
struct NiceBoard {
    threads: Vec<AtomicI32>,
    group: Mutex<i32>,
    owns_group: bool,
}

impl NiceBoard {
    fn new(threads: usize) -> NiceBoard {
        let me = nix::unistd::getpid();
        let owns_group = nix::unistd::getsid(None).is_ok_and(|sid| sid == me);
        NiceBoard { threads: (0..threads).map(|_| AtomicI32::new(0)).collect(), group: Mutex::new(0), owns_group }
    }

    fn set(&self, thread: usize, nice: i32) {
        set_thread_nice(nice);
        self.threads[thread].store(nice, Ordering::Relaxed);
        if !self.owns_group {
            return;
        }
        let most_urgent = self.threads.iter().map(|n| n.load(Ordering::Relaxed)).min().unwrap_or(0);
        let mut group = self.group.lock().unwrap_or_else(|e| e.into_inner());
        if *group != most_urgent && std::fs::write("/proc/self/autogroup", most_urgent.to_string()).is_ok() {
            *group = most_urgent;
        }
    }
}

/// One burner thread: spin for its share of each slice, sleep the rest.
fn burn_thread(target: &Target, board: &NiceBoard, index: usize, until: Instant) {
    let slice = SLICE.as_secs_f64();
    let mut carry = 0.0_f64;
    let mut governor = PriorityGovernor::default();
    let mut slice_end = Instant::now();
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        slice_end += SLICE;
        if slice_end <= now {
            // We were descheduled for more than a slice: resynchronise, keep the carry.
            slice_end = now + SLICE;
        }
        let slice_end_capped = slice_end.min(until);
        let want = (target.get() * slice + carry).clamp(0.0, slice);
        let start_cpu = thread_cpu_time();
        let budget = Duration::from_secs_f64(want);
        while thread_cpu_time().saturating_sub(start_cpu) < budget && Instant::now() < slice_end_capped {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        let now = Instant::now();
        if slice_end_capped > now {
            std::thread::sleep(slice_end_capped - now);
        }
        let used = thread_cpu_time().saturating_sub(start_cpu).as_secs_f64();
        if let Some(nice) = governor.record(want, used) {
            board.set(index, nice);
        }
        // Carry what we could not get (or took too much of) into the next slices, bounded
        // so a long stall does not turn into a long 100 % burst afterwards.
        carry = (target.get() * slice + carry - used).clamp(-slice, slice);
    }
}

/// The per-thread share that brings the host to `percent`, given the others' load
/// (as a fraction of the whole host).
fn total_mode_share(percent: f64, threads: usize, others: Option<(f64, usize)>) -> f64 {
    let Some((others, cpus)) = others else { return percent / 100.0 };
    let wanted_host_share = (percent / 100.0 - others).max(0.0);
    wanted_host_share * cpus as f64 / threads as f64
}

/// The host's load without us over a short window, and the CPU count.
fn others_now() -> Option<(f64, usize)> {
    let before = host_cpu_times().ok()?;
    let own_before = process_cpu_time();
    std::thread::sleep(Duration::from_millis(200));
    let after = host_cpu_times().ok()?;
    others_between(&before, &after, process_cpu_time().saturating_sub(own_before))
}

fn others_between(before: &HostCpuTimes, after: &HostCpuTimes, own: Duration) -> Option<(f64, usize)> {
    let busy = after.busy_fraction_since(before)?;
    let ticks = super::procs::clock_ticks_per_second() as f64;
    let total_ticks = after.total.checked_sub(before.total)? as f64;
    let own_share = (own.as_secs_f64() * ticks / total_ticks).clamp(0.0, 1.0);
    Some(((busy - own_share).max(0.0), after.cpus.max(1)))
}

/// `total` mode: every period, measure what everything else uses and set the
/// threads' share so the host lands on the requested percent.
fn control_total(target: &Target, plan: BurnPlan, threads: usize) {
    let mut smoothed: Option<f64> = None;
    let mut before = host_cpu_times().ok();
    let mut own_before = process_cpu_time();
    while Instant::now() + CONTROL_PERIOD < plan.until {
        std::thread::sleep(CONTROL_PERIOD);
        let after = host_cpu_times().ok();
        let own_now = process_cpu_time();
        if let (Some(b), Some(a)) = (before.as_ref(), after.as_ref()) {
            if let Some((others, cpus)) = others_between(b, a, own_now.saturating_sub(own_before)) {
                let s = smoothed.map_or(others, |s| 0.5 * s + 0.5 * others);
                smoothed = Some(s);
                target.set(total_mode_share(plan.percent, threads, Some((s, cpus))));
            }
        }
        before = after;
        own_before = own_now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_mode_fills_only_the_gap() {
        // 2 CPUs, others use 20 % of the host, we want 50 %: 30 % of the host = 0.6 core.
        let share = total_mode_share(50.0, 1, Some((0.2, 2)));
        assert!((share - 0.6).abs() < 1e-9, "{share}");
        assert_eq!(total_mode_share(50.0, 2, Some((0.7, 2))), 0.0);
    }

    #[test]
    fn priority_rises_when_starved_and_falls_back_when_on_target() {
        let mut g = PriorityGovernor::default();
        let changes: Vec<i32> = (0..9).filter_map(|_| g.record(0.05, 0.01)).collect();
        assert_eq!(changes, vec![-2, -4, -6]);
        let changes: Vec<i32> = (0..200).filter_map(|_| g.record(0.05, 0.05)).collect();
        assert_eq!(changes, vec![-5, -4, -3, -2, -1, 0]);
        assert_eq!((0..100).filter_map(|_| g.record(0.05, 0.05)).count(), 0, "never above nice 0");
        let floor = (0..100).filter_map(|_| g.record(0.05, 0.0)).last();
        assert_eq!(floor, Some(MOST_URGENT_NICE));
    }

    #[test]
    fn one_thread_at_half_load_uses_about_half_a_core() {
        let start = process_cpu_time();
        let wall = Instant::now();
        let plan = BurnPlan { percent: 50.0, threads: 1, mode: BurnMode::Add, until: wall + Duration::from_secs(2) };
        burn(plan, || {});
        let achieved = process_cpu_time().saturating_sub(start).as_secs_f64() / wall.elapsed().as_secs_f64();
        // It burns, and never more than asked; how close it lands is for the integration
        // test and the benchmark (this runs in a shared test process on a shared machine).
        assert!((0.05..=0.6).contains(&achieved), "achieved {achieved}");
    }
}
