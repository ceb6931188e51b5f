//! The report's Actions section and the timeline's fault bands, one per action however many
//! hosts it ran on: a summary row (hosts hit, when, how it ended) with the per-host detail
//! folded away in a `<details>` (no scripts needed).

use std::fmt::Write;

use super::fleet::{ActionRun, HostResult, HostRun, action_runs};
use super::hostlist::compact;
use super::model::Report;
use super::svg::{Window, escape};

/// What an irreversible action's row says.
const IRREVERSIBLE: &str = "cannot be undone, no rollback";

/// Segments of a host list shown before `+N more`.
const HOSTS_SHOWN: usize = 8;

fn rel(r: &Report, ms: i64) -> String {
    format!("+{:.1}s", (ms - r.started_ms) as f64 / 1000.0)
}

fn span(r: &Report, (first, last): (i64, i64)) -> String {
    let (a, b) = (rel(r, first), rel(r, last));
    if a == b { a } else { format!("{a} \u{2026} {b}") }
}

/// `on h1` or `on 100 hosts`.
fn on_hosts(hosts: &[String]) -> String {
    match hosts {
        [one] => format!("on {one}"),
        many => format!("on {} hosts", many.len()),
    }
}

/// One shaded band per action that held a fault: from its first injection to its last
/// rollback, darker while every host had it.
pub(super) fn windows(r: &Report, end_ms: i64) -> Vec<Window> {
    action_runs(r)
        .into_iter()
        .filter_map(|run| {
            let spans = run.held_spans(end_ms);
            let start_ms = spans.iter().map(|s| s.0).min()?;
            let end = spans.iter().map(|s| s.1).max()?;
            let (all_in, first_out) = (spans.iter().map(|s| s.0).max()?, spans.iter().map(|s| s.1).min()?);
            let hosts: Vec<String> =
                run.hosts.iter().filter(|h| h.held && h.injection.is_some()).map(|h| h.host.clone()).collect();
            let label = format!("{} {}", run.label, on_hosts(&hosts));
            // A failed rollback (or `rollback: never`) leaves the fault in place: never say "gone".
            let stayed = run.hosts.iter().filter(|h| h.held && h.injection.is_some() && h.ended_ms.is_none()).count();
            let ended = match stayed {
                0 => format!("gone {}", span(r, (first_out, end))),
                n if n == hosts.len() => "not gone when the run ended".to_string(),
                n => format!("not gone on {n} of {} hosts when the run ended", hosts.len()),
            };
            let title = format!("{label}: injected {}, {ended}", span(r, (start_ms, all_in)));
            Some(Window {
                label,
                title,
                start_ms,
                end_ms: end,
                core: (all_in <= first_out).then_some((all_in, first_out)),
            })
        })
        .collect()
}

/// The Actions section: one summary row per action, per-host detail folded under it.
pub(super) fn actions(h: &mut String, r: &Report) {
    h.push_str("<h2>Actions</h2><table class=\"actions\"><tr><th>action</th><th>fault</th><th>hosts</th><th>injected</th><th>result</th></tr>");
    let runs = action_runs(r);
    for run in &runs {
        let finished = r.finished_ms.is_some();
        // One host: its own result says more than `1/1`.
        let (text, class) = match run.hosts.as_slice() {
            [one] => host_result(r, one, finished, run.irreversible),
            _ => {
                let (text, bad) = result_summary(run, finished);
                (text, if bad { "bad" } else { "ok" })
            }
        };
        let hit = run.hit();
        let hosts = match hit.len() {
            0 => "-".to_string(),
            1 => escape(&hit[0]),
            n => format!("<b>{n}</b>: {}", escape(&compact(&hit, HOSTS_SHOWN))),
        };
        // Said where the action is named: no rollback will ever undo what it did.
        let fault = match run.irreversible {
            true => format!("{} <b class=\"bad\" title=\"{IRREVERSIBLE}\">irreversible</b>", escape(&run.fault)),
            false => escape(&run.fault),
        };
        let _ = write!(
            h,
            "<tr class=\"act\"><td>{}</td><td>{fault}</td><td>{hosts}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&run.label),
            span(r, run.injected_span()),
            class,
            escape(&text)
        );
        host_detail(h, r, run);
    }
    if runs.is_empty() {
        h.push_str("<tr><td colspan=\"5\" class=\"muted\">no action ran</td></tr>");
    }
    h.push_str("</table>");
}

/// `100/100 rolled back`, or `98/100 rolled back, 2 failed: h7, h9`; and whether it is bad.
fn result_summary(run: &ActionRun, finished: bool) -> (String, bool) {
    let held = run.hosts.iter().filter(|h| h.held).count();
    let done = run.hosts.iter().filter(|h| h.result == HostResult::Done).count();
    let count = |pick: fn(&HostResult) -> bool| run.hosts.iter().filter(|h| pick(&h.result)).count();
    let named = |pick: fn(&HostResult) -> bool| compact(&run.hosts_where(pick), HOSTS_SHOWN);
    let mut parts = Vec::new();
    if held > 0 {
        parts.push(format!("{}/{held} rolled back", count(|r| matches!(r, HostResult::RolledBack(_)))));
    }
    if done > 0 {
        let what = if run.irreversible { IRREVERSIBLE } else { "instantaneous" };
        parts.push(format!(
            "{done}/{} done ({what})",
            run.hosts.iter().filter(|h| h.injection.is_some() && !h.held).count()
        ));
    }
    let failed = count(|r| matches!(r, HostResult::RollbackFailed(_)));
    if failed > 0 {
        parts.push(format!("{failed} failed: {}", named(|r| matches!(r, HostResult::RollbackFailed(_)))));
    }
    let left = count(|r| *r == HostResult::LeftInPlace);
    if left > 0 {
        parts.push(format!("{left} left in place: {}", named(|r| *r == HostResult::LeftInPlace)));
    }
    let in_place = count(|r| *r == HostResult::InPlace);
    if in_place > 0 {
        parts.push(format!("{in_place} still in place: {}", named(|r| *r == HostResult::InPlace)));
    }
    let not_injected = count(|r| matches!(r, HostResult::InjectFailed(_)));
    if not_injected > 0 {
        parts.push(format!("{not_injected} failed to inject: {}", named(|r| matches!(r, HostResult::InjectFailed(_)))));
    }
    let lost: Vec<String> = run.hosts.iter().filter(|h| h.lost.is_some()).map(|h| h.host.clone()).collect();
    if !lost.is_empty() {
        parts.push(format!("{} NOT HELD as planned: {}", lost.len(), compact(&lost, HOSTS_SHOWN)));
    }
    let bad = failed > 0 || not_injected > 0 || (finished && in_place > 0) || !lost.is_empty();
    (parts.join(", "), bad)
}

/// The per-host rows, collapsed: failures first, then hosts in natural order.
fn host_detail(h: &mut String, r: &Report, run: &ActionRun) {
    let n = run.hosts.len();
    let _ = write!(
        h,
        "<tr class=\"more\"><td colspan=\"5\"><details><summary>per host ({n})</summary><table class=\"hosts\">\
         <tr><th>host</th><th>injection</th><th>injected</th><th>gone</th><th>result</th></tr>"
    );
    for host in &run.hosts {
        let (text, class) = host_result(r, host, r.finished_ms.is_some(), run.irreversible);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            escape(&host.host),
            host.injection.as_ref().map_or("-".to_string(), |i| format!("<code>{i}</code>")),
            rel(r, host.at_ms),
            host.ended_ms.map_or("-".to_string(), |t| rel(r, t)),
            escape(&text)
        );
    }
    h.push_str("</table></details></td></tr>");
}

fn host_result(r: &Report, host: &HostRun, finished: bool, irreversible: bool) -> (String, &'static str) {
    if let (Some((at, why)), false) = (&host.lost, host.result.is_failure()) {
        return (format!("NOT HELD: ended at {} ({why})", rel(r, *at)), "bad");
    }
    match &host.result {
        HostResult::RolledBack(detail) => (format!("rolled back ({detail})"), "ok"),
        HostResult::RollbackFailed(detail) => (format!("rollback failed: {detail}"), "bad"),
        HostResult::InjectFailed(error) => (format!("failed to inject: {error}"), "bad"),
        HostResult::Done if irreversible => (format!("done: {IRREVERSIBLE}"), "ok"),
        HostResult::Done => ("done (instantaneous)".into(), "ok"),
        HostResult::LeftInPlace => ("left in place".into(), "muted"),
        HostResult::InPlace => ("still in place".into(), if finished { "bad" } else { "muted" }),
    }
}
