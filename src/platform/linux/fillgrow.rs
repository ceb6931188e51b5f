//! The growing fill that runs inside a `faultdrill helper grow-file` process
//! (disk-fill with a `rate`): the file gains real blocks step by step, so a
//! guardrail sees the filesystem fill and can stop it at its threshold.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::files;

/// How often the file grows: small steps, so usage rises smoothly between samples.
const STEP: Duration = Duration::from_millis(20);

/// Blocks are allocated in whole pages.
const BLOCK: u64 = 4096;

/// What to grow, how far and how fast.
#[derive(Clone, Copy, Debug)]
pub struct Growth {
    /// The final size, in bytes.
    pub bytes: u64,
    /// Bytes per second.
    pub rate: u64,
    /// When to stop holding the file (the helper exits; the undo deletes it).
    pub until: Instant,
}

/// Creates `path` (which must not exist), calls `ready`, then grows it at
/// `growth.rate` up to `growth.bytes` and holds it until `growth.until`.
/// The file is left in place on every path: the fault's undo deletes it.
pub fn grow(path: &Path, growth: Growth, ready: impl FnOnce()) -> io::Result<()> {
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    ready();
    let start = Instant::now();
    let mut size = 0;
    while size < growth.bytes {
        let now = Instant::now();
        if now >= growth.until {
            return Ok(());
        }
        let due = (now - start).as_secs_f64() * growth.rate as f64;
        let target = ((due as u64) / BLOCK * BLOCK).min(growth.bytes);
        if target > size {
            files::extend(&file, size, target)?;
            size = target;
        }
        std::thread::sleep(STEP);
    }
    while let Some(left) = growth.until.checked_duration_since(Instant::now()) {
        std::thread::sleep(left.min(Duration::from_millis(500)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_at_the_rate_then_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faultdrill-grow");
        let start = Instant::now();
        let growth = Growth { bytes: 2 << 20, rate: 8 << 20, until: start + Duration::from_millis(400) };
        let mut was_ready = false;
        grow(&path, growth, || was_ready = true).unwrap();
        assert!(was_ready);
        assert!(start.elapsed() >= Duration::from_millis(400), "held until the deadline");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 << 20);
    }

    #[test]
    fn stops_growing_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faultdrill-grow");
        let growth = Growth { bytes: 1 << 30, rate: 1 << 20, until: Instant::now() + Duration::from_millis(300) };
        grow(&path, growth, || {}).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= 512 << 10, "about 300 KiB at 1 MiB/s, found {len} bytes");
    }
}
