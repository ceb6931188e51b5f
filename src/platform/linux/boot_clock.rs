//! The boot clock: `CLOCK_BOOTTIME`, which no wall-clock step (NTP, `date -s`) moves and
//! which keeps counting while the host is suspended, and the id of the boot it counts from.

use std::sync::OnceLock;

use nix::time::{ClockId, clock_gettime};

/// Where the kernel publishes the id it draws at every boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// This boot's id (a UUID the kernel draws at boot; read once), or `None` when it cannot be
/// read (then callers fall back to the wall clock).
pub fn boot_id() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        let text = std::fs::read_to_string(BOOT_ID).ok()?;
        Some(text.trim().to_string()).filter(|id| !id.is_empty())
    })
    .as_deref()
}

/// Milliseconds since this boot on `CLOCK_BOOTTIME`, or `None` if the kernel refuses it.
pub fn boot_ms() -> Option<i64> {
    let t = clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?;
    Some(t.tv_sec() * 1_000 + t.tv_nsec() / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_clock_has_an_id_and_moves_forward() {
        let id = boot_id().expect("/proc/sys/kernel/random/boot_id is readable");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let first = boot_ms().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = boot_ms().unwrap();
        assert!(second - first >= 20, "{first} then {second}");
    }
}
