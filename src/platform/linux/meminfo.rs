//! Memory as /proc/meminfo reports it.

/// The host's memory, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    /// What can be allocated without swapping (MemAvailable).
    pub available: u64,
}

impl MemInfo {
    /// Bytes in use as `free` counts them: total − available.
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }
}

/// Parses /proc/meminfo.
pub fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib * 1024)
        })
    };
    Some(MemInfo { total: field("MemTotal")?, available: field("MemAvailable")? })
}

/// The host's memory now.
pub fn meminfo() -> std::io::Result<MemInfo> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    parse_meminfo(&text)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected /proc/meminfo format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parses() {
        let text = "MemTotal:       2048 kB\nMemFree:        1024 kB\nMemAvailable:   1536 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m, MemInfo { total: 2048 * 1024, available: 1536 * 1024 });
        assert_eq!(m.used(), 512 * 1024);
        assert!(meminfo().unwrap().total > 0);
    }
}
