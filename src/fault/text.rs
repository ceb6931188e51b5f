//! Small formatting shared by the faults' previews.

use std::time::SystemTime;

/// A byte count for people: `512 B`, `48.0 MiB`, `1.50 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A deadline as RFC 3339 UTC, to the second.
pub fn when(deadline: SystemTime) -> String {
    humantime::format_rfc3339_seconds(deadline).to_string()
}

/// Unix milliseconds of a deadline (helpers take it on their command line).
pub fn unix_ms(deadline: SystemTime) -> i64 {
    deadline.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(48 << 20), "48.0 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
