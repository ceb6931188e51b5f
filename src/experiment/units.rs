//! Sizes and durations as people write them, read exactly: `1GB` is 10⁹ bytes and `1GiB`
//! 2³⁰, a size that is not a whole number of bytes is refused rather than rounded, and a
//! duration is only ever one of the documented forms (`500ms`, `30s`, `5m`, `1h 30m`; `us`
//! for the microseconds of network latencies).

use std::time::Duration;

/// What a duration error says it expected (the documented forms).
pub const DURATION_FORMS: &str = "a duration such as `500ms`, `30s`, `5m` or `1h 30m` (units us, ms, s, m, h)";

/// Parses a size: a number and a unit, `B`, decimal `kB`/`KB`, `MB`, `GB`, `TB` (powers of
/// 1000) or binary `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). A bare number is bytes.
/// `1.5GiB` is fine; `0.3KiB` (307.2 bytes) is refused, never rounded.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let mult: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "k" | "m" | "g" | "t" => {
            let u = unit.to_ascii_uppercase();
            return Err(format!(
                "`{t}`: the unit `{unit}` is ambiguous; write `{num}{u}B` (powers of 1000) or `{num}{u}iB` (powers of 1024)"
            ));
        }
        _ => {
            return Err(format!(
                "unknown size unit in `{t}`; use B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
            ));
        }
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let bad_number = || format!("expected a size such as `64MiB` or `1GB`, found `{t}`");
    if whole.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) || frac.len() > 18 {
        return Err(bad_number());
    }
    let whole: u128 = whole.parse().map_err(|_| bad_number())?;
    let scale = 10u128.pow(frac.len() as u32);
    let frac: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad_number())? };
    // Exact: (whole + frac / scale) × mult, in integers.
    let numerator = whole.checked_mul(scale).and_then(|w| w.checked_add(frac)).and_then(|n| n.checked_mul(mult));
    let Some(numerator) = numerator else {
        return Err(format!("size `{t}` is out of range"));
    };
    if numerator % scale != 0 {
        let bytes = numerator as f64 / scale as f64;
        return Err(format!("`{t}` is {bytes} bytes, not a whole number of bytes; write it in a smaller unit"));
    }
    let bytes = numerator / scale;
    if bytes == 0 || bytes > i64::MAX as u128 {
        return Err(format!("size `{t}` is out of range"));
    }
    Ok(bytes as u64)
}

/// Parses a duration in one of the documented forms: one or more whole numbers each with a
/// unit `us`, `ms`, `s`, `m` or `h`, largest first, optionally separated by spaces (`1h 30m`,
/// `1m30s`). Nothing else: no bare numbers, no `2 minutes`, no `1.5s`, no days or months.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        let hint = if t.parse::<f64>().is_ok() && !t.contains('.') {
            format!("; add a unit, as in `{t}s`")
        } else if t.contains('.') {
            "; use whole numbers, as in `1500ms` for a second and a half".to_string()
        } else {
            String::new()
        };
        format!("expected {DURATION_FORMS}, found `{t}`{hint}")
    };
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        // Largest unit first, each at most once: `1h 30m`, not `30m 1h` or `1s 1s`.
        let (rank, part) = match &rest[..letters] {
            "h" => (4, Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?)),
            "m" => (3, Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?)),
            "s" => (2, Duration::from_secs(n)),
            "ms" => (1, Duration::from_millis(n)),
            "us" => (0, Duration::from_micros(n)),
            _ => return Err(bad()),
        };
        if rank >= last_rank {
            return Err(bad());
        }
        last_rank = rank;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = rest[letters..].trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_exact_decimal_or_binary() {
        let table: &[(&str, u64)] = &[
            ("4096", 4096),
            ("512B", 512),
            ("1kB", 1_000),
            ("1KB", 1_000),
            ("1KiB", 1_024),
            ("10MB", 10_000_000),
            ("64MiB", 64 << 20),
            ("1GB", 1_000_000_000),
            ("1GiB", 1 << 30),
            ("1.5GiB", 3 << 29),
            ("1.5GB", 1_500_000_000),
            ("2TiB", 2 << 40),
            ("0.5KiB", 512),
            (" 8 MiB ", 8 << 20),
        ];
        for (text, bytes) in table {
            assert_eq!(parse_bytes(text), Ok(*bytes), "{text}");
        }
    }

    #[test]
    fn sizes_are_never_rounded_or_guessed() {
        let table: &[(&str, &str)] = &[
            ("0.3KiB", "is 307.2 bytes, not a whole number of bytes"),
            ("1.0000001KB", "not a whole number of bytes"),
            ("1G", "the unit `G` is ambiguous; write `1GB` (powers of 1000) or `1GiB`"),
            ("64k", "write `64KB`"),
            ("1 parsec", "unknown size unit"),
            ("0", "out of range"),
            ("GiB", "expected a size"),
            ("1..5MiB", "expected a size"),
            ("1.MiB", "expected a size"),
            ("99999999999TiB", "out of range"),
        ];
        for (text, expected) in table {
            let err = parse_bytes(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn durations_take_only_the_documented_forms() {
        let ok: &[(&str, u64)] = &[
            ("500ms", 500_000),
            ("30s", 30_000_000),
            ("5m", 300_000_000),
            ("1h", 3_600_000_000),
            ("1h 30m", 5_400_000_000),
            ("1m30s", 90_000_000),
            ("1s 500ms", 1_500_000),
            ("0s", 0),
            ("1500us", 1_500),
            ("1ms 500us", 1_500),
        ];
        for (text, us) in ok {
            assert_eq!(parse_duration(text), Ok(Duration::from_micros(*us)), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("30", "add a unit, as in `30s`"),
            ("1.5s", "use whole numbers"),
            ("2 minutes", "expected a duration such as"),
            ("1sec", "expected a duration"),
            ("1d", "expected a duration"),
            ("1M", "expected a duration"),
            ("5ns", "expected a duration"),
            ("30m 1h", "expected a duration"),
            ("1s 1s", "expected a duration"),
            ("-1s", "expected a duration"),
            ("", "expected a duration"),
            ("soon", "expected a duration"),
        ];
        for (text, expected) in bad {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn what_faultdrill_prints_it_reads_back() {
        for d in [Duration::from_millis(1500), Duration::from_secs(5400), Duration::from_secs(90)] {
            let printed = humantime::format_duration(d).to_string();
            assert_eq!(parse_duration(&printed), Ok(d), "{printed}");
        }
    }
}
