//! A timer thread that runs queued jobs when they are due: a delayed operation
//! waits here without holding up the FUSE loop or other operations.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A job run when it is due.
pub type Job = Box<dyn FnOnce() + Send>;

struct Entry {
    due: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

/// Runs jobs after their delay, in due order, on worker threads of its own.
#[derive(Clone)]
pub struct Delayer {
    shared: Arc<(Mutex<Queue>, Condvar)>,
}

impl Delayer {
    /// Starts `workers` timer threads.
    pub fn start(workers: usize) -> Delayer {
        let delayer = Delayer { shared: Arc::new((Mutex::new(Queue::default()), Condvar::new())) };
        for i in 0..workers.max(1) {
            let me = delayer.clone();
            std::thread::Builder::new()
                .name(format!("io-delay-{i}"))
                .spawn(move || me.work())
                .expect("a timer thread starts");
        }
        delayer
    }

    /// Runs `job` once `delay` has passed.
    pub fn after(&self, delay: Duration, job: Job) {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        queue.seq += 1;
        let seq = queue.seq;
        queue.heap.push(Reverse(Entry { due: Instant::now() + delay, seq, job }));
        ready.notify_one();
    }

    fn work(&self) {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            match queue.heap.peek().map(|e| e.0.due) {
                Some(due) if due <= now => {
                    let Reverse(entry) = queue.heap.pop().expect("peeked");
                    drop(queue);
                    (entry.job)();
                    queue = lock.lock().unwrap_or_else(|p| p.into_inner());
                }
                Some(due) => queue = ready.wait_timeout(queue, due - now).unwrap_or_else(|p| p.into_inner()).0,
                None => queue = ready.wait(queue).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_when_due_and_in_order() {
        let delayer = Delayer::start(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let start = Instant::now();
        for (name, ms) in [("late", 60), ("early", 20)] {
            let tx = tx.clone();
            delayer.after(Duration::from_millis(ms), Box::new(move || tx.send((name, start.elapsed())).unwrap()));
        }
        let (first, at) = rx.recv().unwrap();
        assert_eq!(first, "early");
        assert!(at >= Duration::from_millis(20), "{at:?}");
        let (second, at) = rx.recv().unwrap();
        assert_eq!(second, "late");
        assert!(at >= Duration::from_millis(60) && at < Duration::from_millis(200), "{at:?}");
    }
}
