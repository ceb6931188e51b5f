//! A probe's error budget, checked into [`ProbeBudget`]: `tolerate: N` consecutive failures,
//! `error_rate: "< 1%"` over each phase, and latency percentiles over each phase
//! (`expect: {latency: "p95 < 300ms"}`). Absent, a probe stays strict.

use super::diag::Sink;
use super::expect::{SourceKind, parse_comparison};
use super::plan::{Comparison, Percentile, ProbeBudget};
use super::spec::{ExpectSpec, ProbeSpec, Spanned};

/// The budget of probe `p` of source `kind`, and its `expect` with a percentile `latency`
/// taken out (it is judged over a phase, not per sample). `None` when nothing per sample is
/// left to check.
pub fn probe_budget(sink: &mut Sink<'_>, p: &ProbeSpec, kind: SourceKind) -> (ProbeBudget, Option<ExpectSpec>) {
    let mut budget = ProbeBudget::default();
    if let Some(t) = &p.tolerate {
        match u32::try_from(t.value) {
            Ok(n) => budget.tolerate = n,
            Err(_) => sink.error(
                t.span,
                format!("`tolerate` is a number of consecutive failed samples (0 or more), found {}", t.value),
            ),
        }
    }
    if let Some(rate) = &p.error_rate {
        budget.error_rate = error_rate(sink, rate);
        if p.tolerate.is_some() {
            sink.error(rate.span, "give a probe `tolerate` or `error_rate`, not both");
        }
    }
    let mut expect = p.expect.clone();
    if let Some(spec) = expect.as_mut() {
        if let Some(latency) = spec.latency.as_ref().filter(|l| is_percentile(&l.value.0)) {
            if matches!(kind, SourceKind::Http | SourceKind::Tcp) {
                budget.latency.extend(percentile(sink, &latency.value.0, latency.span));
            } else {
                sink.error(latency.span, "`latency` does not apply to this probe (only to http, tcp)");
            }
            spec.latency = None;
            if is_empty(spec) {
                expect = None;
            }
        }
    }
    (budget, expect)
}

/// `< 1%` or `<= 0.5%`: a share of failed samples, in percent.
fn error_rate(sink: &mut Sink<'_>, rate: &Spanned<super::spec::ComparisonText>) -> Option<Comparison> {
    let text = rate.value.0.trim();
    let wrong = || format!("expected an error rate such as \"< 1%\" or \"<= 0.5%\" for `error_rate`, found `{text}`");
    if !text.ends_with('%') {
        sink.error(rate.span, wrong());
        return None;
    }
    match parse_comparison(text) {
        Ok(c @ (Comparison::Lt(v) | Comparison::Le(v))) if (0.0..=100.0).contains(&v) => Some(c),
        _ => {
            sink.error(rate.span, wrong());
            None
        }
    }
}

fn is_percentile(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('p') && t[1..].starts_with(|c: char| c.is_ascii_digit())
}

/// `p95 < 300ms`: the rank in (0, 100], then a comparison in milliseconds.
fn percentile(sink: &mut Sink<'_>, text: &str, span: super::yaml::Span) -> Option<Percentile> {
    let t = text.trim();
    let rest = &t[1..];
    let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (rank, comparison) = rest.split_at(digits);
    let rank: f64 = match rank.parse() {
        Ok(r) if r > 0.0 && r <= 100.0 => r,
        _ => {
            sink.error(span, format!("expected a percentile from p1 to p100, such as `p95 < 300ms`, found `{t}`"));
            return None;
        }
    };
    match parse_comparison(comparison) {
        Ok(holds) => Some(Percentile { rank, holds }),
        Err(e) => {
            sink.error(span, format!("in `{t}`: {e}"));
            None
        }
    }
}

fn is_empty(spec: &ExpectSpec) -> bool {
    spec.value.is_none()
        && spec.latency.is_none()
        && spec.status.is_none()
        && spec.exit.is_none()
        && spec.regex.is_none()
        && spec.jsonpath.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_read_rank_then_comparison() {
        assert!(is_percentile("p95 < 300ms") && is_percentile(" p99.9 <= 1s") && !is_percentile("< 300ms"));
        assert!(!is_percentile("p") && !is_percentile("pp9"));
    }
}
