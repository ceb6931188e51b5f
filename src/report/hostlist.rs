//! Host names as people read them: in natural order (`h2` before `h10`) and, for a fleet,
//! compacted into ranges (`h1–h100`) so a hundred hosts fit on one line of a report.

use std::cmp::Ordering;

/// Compares host names the way people count: runs of digits by value, the rest as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (ca, ra) = chunk(a);
        let (cb, rb) = chunk(b);
        let digits = |s: &str| s.as_bytes()[0].is_ascii_digit();
        let order = match (digits(ca), digits(cb)) {
            (true, true) => {
                let (ta, tb) = (ca.trim_start_matches('0'), cb.trim_start_matches('0'));
                // Longer without leading zeros is larger; then digit by digit; then fewer zeros first.
                ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb)).then_with(|| ca.len().cmp(&cb.len()))
            }
            _ => ca.cmp(cb),
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (ra, rb);
    }
}

/// Splits off the leading run of digits or of non-digits.
fn chunk(s: &str) -> (&str, &str) {
    let digit = s.as_bytes()[0].is_ascii_digit();
    let end = s.find(|c: char| c.is_ascii_digit() != digit).unwrap_or(s.len());
    s.split_at(end)
}

/// Sorts host names in natural order and drops duplicates.
pub fn sorted(names: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    names.dedup();
    names
}

/// A name split around its last run of digits: `az1-web-07` is (`az1-web-`, 7, width 2, ``).
struct Numbered<'a> {
    prefix: &'a str,
    number: u64,
    digits: &'a str,
    suffix: &'a str,
}

fn numbered(name: &str) -> Option<Numbered<'_>> {
    let end = name.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = name[..end].rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    let digits = &name[start..end];
    Some(Numbered { prefix: &name[..start], number: digits.parse().ok()?, digits, suffix: &name[end..] })
}

/// Whether `b` directly follows `a` in a numbered series (same prefix, suffix and padding).
fn follows(a: &str, b: &str) -> bool {
    let (Some(a), Some(b)) = (numbered(a), numbered(b)) else { return false };
    let padded = |n: &Numbered| n.digits.len() > 1 && n.digits.starts_with('0');
    let same_width = a.digits.len() == b.digits.len();
    a.prefix == b.prefix
        && a.suffix == b.suffix
        && a.number.checked_add(1) == Some(b.number)
        && (same_width || !(padded(&a) || padded(&b)))
}

/// The names, natural-sorted, as segments: runs of three or more consecutive numbered
/// names become `first–last`, the rest stay as they are.
pub fn segments(names: &[String]) -> Vec<String> {
    let names = sorted(names.iter().cloned());
    let mut out = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let mut j = i;
        while j + 1 < names.len() && follows(&names[j], &names[j + 1]) {
            j += 1;
        }
        if j - i >= 2 {
            out.push(format!("{}\u{2013}{}", names[i], names[j]));
            i = j + 1;
        } else {
            out.push(names[i].clone());
            i += 1;
        }
    }
    out
}

/// The names as one short line: ranges, at most `limit` segments, then `+N more`.
pub fn compact(names: &[String], limit: usize) -> String {
    let segments = segments(names);
    if segments.len() <= limit {
        return segments.join(", ");
    }
    let shown = &segments[..limit];
    let hidden: usize = segments[limit..].iter().map(|s| segment_len(s)).sum();
    format!("{}, +{hidden} more", shown.join(", "))
}

/// How many names a segment stands for.
fn segment_len(segment: &str) -> usize {
    match segment.split_once('\u{2013}') {
        Some((a, b)) => match (numbered(a), numbered(b)) {
            (Some(a), Some(b)) => (b.number - a.number + 1) as usize,
            _ => 1,
        },
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn natural_order_counts_numbers() {
        let got = sorted(names(&["h10", "h2", "h1", "web-b", "az2-h1", "az10-h1", "h02", "local", "h2"]));
        assert_eq!(got, names(&["az2-h1", "az10-h1", "h1", "h2", "h02", "h10", "local", "web-b"]));
    }

    #[test]
    fn segments_compact_consecutive_runs_of_three_or_more() {
        let cases: &[(&[&str], &str)] = &[
            (&["h3", "h1", "h2"], "h1\u{2013}h3"),
            (&["h1", "h2"], "h1, h2"),
            (&["h1", "h2", "h3", "h5", "h7", "h8", "h9", "h10"], "h1\u{2013}h3, h5, h7\u{2013}h10"),
            (&["h09", "h10", "h11"], "h09\u{2013}h11"),
            (&["h9", "h010", "h011"], "h9, h010, h011"),
            (&["10.0.0.1", "10.0.0.2", "10.0.0.3"], "10.0.0.1\u{2013}10.0.0.3"),
            (&["a-1-x", "a-2-x", "a-3-y"], "a-1-x, a-2-x, a-3-y"),
            (&["local"], "local"),
            (&[], ""),
        ];
        for (input, want) in cases {
            assert_eq!(segments(&names(input)).join(", "), *want, "{input:?}");
        }
    }

    #[test]
    fn compact_stops_after_the_limit_and_counts_the_rest() {
        let odd: Vec<String> = (1..=20).filter(|n| n % 2 == 1).map(|n| format!("h{n}")).collect();
        assert_eq!(compact(&odd, 3), "h1, h3, h5, +7 more");
        let mut many: Vec<String> = (1..=100).map(|n| format!("h{n}")).collect();
        many.push("db".into());
        assert_eq!(compact(&many, 1), "db, +100 more");
        assert_eq!(compact(&many, 5), "db, h1\u{2013}h100");
    }
}
