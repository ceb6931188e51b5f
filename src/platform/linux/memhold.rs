//! The memory holder that runs inside a `faultdrill helper hold-memory` process.

use std::time::{Duration, Instant};

/// The page size assumed when touching pages (every Linux page size is a multiple).
const PAGE: usize = 4096;

/// How often the touched memory grows with a `rate`.
const STEP: Duration = Duration::from_millis(20);

/// Writes one byte in each page of `block[from..to]` (page-aligned from the start of the block).
fn touch(block: &mut [u8], from: usize, to: usize) {
    for i in (from.div_ceil(PAGE) * PAGE..to).step_by(PAGE) {
        block[i] = 1;
    }
}

/// Allocates `bytes`, writes to every page so the kernel really backs them,
/// calls `ready`, and holds the memory until `until`. With a `rate` (bytes per
/// second), `ready` is called first and the pages are touched at that rate, so
/// the memory in use grows step by step (a guardrail can stop it at a threshold).
pub fn hold(bytes: u64, rate: Option<u64>, until: Instant, ready: impl FnOnce()) -> Result<(), String> {
    let len = usize::try_from(bytes).map_err(|_| format!("{bytes} bytes do not fit in this address space"))?;
    // A zeroed allocation is backed by the shared zero page until written (and
    // an allocation the kernel refuses aborts this helper process only, which the
    // spawning side reports): write one byte per page so every page is resident.
    let mut block = vec![0u8; len];
    match rate {
        None => {
            touch(&mut block, 0, len);
            ready();
        }
        Some(rate) => {
            ready();
            let start = Instant::now();
            let mut done = 0;
            while done < len && Instant::now() < until {
                let due = ((start.elapsed().as_secs_f64() * rate as f64) as usize).min(len);
                touch(&mut block, done, due);
                done = done.max(due);
                std::thread::sleep(STEP);
            }
        }
    }
    std::hint::black_box(&block);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        std::thread::sleep(left.min(Duration::from_millis(500)));
    }
    std::hint::black_box(&block);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_then_returns_at_the_deadline() {
        let start = Instant::now();
        let mut was_ready = false;
        hold(8 << 20, None, start + Duration::from_millis(200), || was_ready = true).unwrap();
        assert!(was_ready);
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
