//! The JUnit and HTML renderers on a report of a known shape, checked by real consumers:
//! Python's `junitparser` (from PyPI, in a venv under target/) and headless Chromium.
//!
//! The report is built here rather than by a run so that its shape (a deviation, a trip,
//! a failed rollback, a long run) is exactly known; end-to-end runs produce the same type.

mod observe_common;

use faultdrill::report::*;
use observe_common::report_fixture::{fleet_report, fleet_report_with, report};
use observe_common::{artifact, dom_without_console_messages, junit_cases, screenshot};

#[test]
fn junit_marks_deviation_trip_and_failed_rollback_and_parses_with_junitparser() {
    let xml = to_junit(&report(2, 20, false));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, &xml).unwrap();
    let lines = junit_cases(&file);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert!(lines.contains(&"steady-state|before: api-0|ok|"), "{lines:#?}");
    assert!(
        lines.contains(&"steady-state|during: api-0|Failure|1 of 19 samples failed: latency (ms) 450, expected < 300"),
        "{lines:#?}"
    );
    assert!(lines.contains(&"steady-state|during: api-1|ok|"), "{lines:#?}");
    assert!(lines.contains(&"actions|fill/disk-fill#1 on local|ok|"), "{lines:#?}");
    assert!(
        lines.contains(&"guardrails|guardrail: disk-90|Failure|disk_used_percent 95 >= 90 for 2 samples"),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"rollback|rollback: fill/disk-fill#1 on local|Error|cannot delete /data/.faultdrill-fill: EBUSY"
        ),
        "{lines:#?}"
    );
}

#[test]
fn html_report_opens_in_chromium_without_console_errors_and_draws_one_series_per_probe() {
    let report = report(3, 60, true);
    let html = to_html(&report);
    let page = artifact("report-sample.html");
    std::fs::write(&page, &html).unwrap();

    let dom_text = dom_without_console_messages(&page);
    assert_eq!(dom_text.matches(r#"<g class="series" data-kind="probe""#).count(), 3);
    assert_eq!(dom_text.matches(r#"<g class="series" data-kind="guardrail""#).count(), 1);
    assert!(dom_text.contains("tripped: disk-90"));
    assert!(dom_text.contains("Fill /data until the guardrail trips; expect a clean &lt;rollback&gt;."));
    assert!(!html.contains("<script"), "the report needs no scripts");
    assert!(!html.contains("src=\"http"), "the report fetches nothing");

    screenshot("report-sample.png", "1024,1800", &page);
}

#[test]
fn html_of_a_ten_minute_run_with_five_probes_stays_under_one_megabyte() {
    let html = to_html(&report(5, 600, true));
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    assert_eq!(html.matches(r#"<g class="series" data-kind="probe""#).count(), 5);
}

#[test]
fn resilience_score_weighs_samples_and_guardrails() {
    // 2 probes × 20 samples: 2 before (w2, ok) + 38 during (w1, one failed); guardrail tripped (w3).
    let score = resilience_score(&report(2, 20, true)).unwrap();
    let expected = ((2 * 2 + 37) as f64 / (2 * 2 + 38 + 3) as f64 * 1000.0).round() / 10.0;
    assert_eq!(score, expected);
}

/// The first cell of each per-host row, one list per action, in the order shown.
fn per_host_rows(html: &str) -> Vec<Vec<String>> {
    html.split("<table class=\"hosts\">")
        .skip(1)
        .map(|table| {
            let table = &table[..table.find("</table>").unwrap()];
            table.split("<tr><td>").skip(1).map(|row| row[..row.find("</td>").unwrap()].to_string()).collect()
        })
        .collect()
}

/// The `y` of each fault label in the timeline.
fn label_rows(html: &str) -> Vec<(String, String)> {
    html.split(r#"<text class="lbl wl" "#)
        .skip(1)
        .map(|t| {
            let y = t.split("y=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            let text = t[t.find("</title>").unwrap() + 8..t.find("</text>").unwrap()].to_string();
            (y, text)
        })
        .collect()
}

#[test]
fn fleet_timeline_has_one_band_and_one_label_per_action_on_separate_rows() {
    let html = to_html(&fleet_report(100, &[], 60));
    let labels = label_rows(&html);
    let texts: Vec<&str> = labels.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(texts, ["fill/disk-fill#1 on 100 hosts", "burn/cpu-burn#1 on 100 hosts"]);
    assert_ne!(labels[0].0, labels[1].0, "labels 1.2 s apart would overlap on one row: {labels:?}");
    assert_eq!(html.matches(r#"<rect class="win""#).count(), 2, "one band per action");
    assert!(!html.contains(" on h87<"), "no per-host labels");
    assert_eq!(html.matches(r#"<polygon class="band""#).count(), 1, "100 hosts' disk usage as one band");
    assert!(html.contains("disk-90</tspan> \u{2014} 100 hosts: line is the median"));
    let dots = html.matches("<circle").count();
    assert!((2..=1 + 2 * 60).contains(&dots), "at most two breach dots per round, not one per host: {dots}");
    assert!(html.contains(" of 100 hosts failed</title></circle>"));
}

#[test]
fn fleet_actions_table_has_one_summary_row_per_action_and_natural_sorted_hosts() {
    let html = to_html(&fleet_report(100, &[], 60));
    assert_eq!(html.matches(r#"<tr class="act">"#).count(), 2);
    assert_eq!(html.matches(r#"<td class="ok">100/100 rolled back</td>"#).count(), 2, "{html}");
    let actions = &html[html.find("<h2>Actions</h2>").unwrap()..html.find("<h2>Guardrails</h2>").unwrap()];
    assert_eq!(actions.matches("<td><b>100</b>: h1\u{2013}h100</td>").count(), 2, "{actions}");
    assert!(html.contains("<td>+6.0s \u{2026} +6.4s</td>"), "first … last injection");
    let rows = per_host_rows(&html);
    let natural: Vec<String> = (1..=100).map(|n| format!("h{n}")).collect();
    assert_eq!(rows, [natural.clone(), natural]);
}

#[test]
fn fleet_failed_rollbacks_are_named_in_red_and_listed_first() {
    let html = to_html(&fleet_report(100, &[9, 7], 60));
    assert!(html.contains(r#"<td class="bad">98/100 rolled back, 2 failed: h7, h9</td>"#), "{html}");
    assert!(html.contains(r#"<td class="ok">100/100 rolled back</td>"#), "the other action is clean");
    let rollback = &html[html.find("<h2>Rollback</h2>").unwrap()..];
    let shown: Vec<&str> = rollback.split("</th></tr><tr><td><code>").skip(1).take(1).collect();
    assert!(shown[0].starts_with("i-disk0007</code></td><td>fill/disk-fill#1</td><td>h7</td>"), "{rollback}");
    assert!(rollback.contains("<tr><td><code>i-disk0009</code></td><td>fill/disk-fill#1</td><td>h9</td>"));
    assert!(rollback.contains("<summary>all 200 rollbacks, in the order carried out (198 ok, 2 failed;"));
    let rows = per_host_rows(&html);
    assert_eq!(rows[0][..3], ["h7", "h9", "h1"]);
    assert_eq!(rows[0].len(), 100);
    let first_detail = &html[html.find(r#"<table class="hosts">"#).unwrap()..];
    let h7 = &first_detail[first_detail.find("<tr><td>h7</td>").unwrap()..];
    assert!(h7[..h7.find("</tr>").unwrap()].contains("rollback failed: cannot delete /data/.faultdrill-fill: EBUSY"));
    // The timeline's tooltip does not call a fault gone where its rollback failed.
    let tooltips = |label: &str| -> Vec<String> {
        html.match_indices(&format!("{label} on 100 hosts: injected"))
            .map(|(i, _)| html[i..i + html[i..].find('<').unwrap()].to_string())
            .collect()
    };
    let (failed, clean) = (tooltips("fill/disk-fill#1"), tooltips("burn/cpu-burn#1"));
    assert!(!failed.is_empty() && failed.iter().all(|t| t.ends_with("not gone on 2 of 100 hosts when the run ended")));
    assert!(!clean.is_empty() && clean.iter().all(|t| t.contains(", gone +")), "{clean:?}");
}

#[test]
fn targets_hide_the_implicit_local_target_when_nothing_uses_it() {
    let fleet = to_html(&fleet_report(3, &[], 60));
    let targets = &fleet[fleet.find("<h2>Targets</h2>").unwrap()..fleet.find("<h2>Timeline</h2>").unwrap()];
    assert!(targets.contains("<td>data-hosts</td><td>h1, h2, h3</td>"), "{targets}");
    let hundred = to_html(&fleet_report(100, &[], 60));
    assert!(hundred.contains("<td>data-hosts</td><td><b>100</b>: h1\u{2013}h100</td>"));
    assert!(!targets.contains("<td>local</td>"), "{targets}");

    let mut uses_local = fleet_report(3, &[], 60);
    uses_local.plan.groups[1].target = "local".into();
    let html = to_html(&uses_local);
    assert!(html.contains("<tr><td>local</td><td>local</td><td>-</td></tr>"));
}

#[test]
fn single_host_report_keeps_one_labelled_band_and_one_action_row() {
    let html = to_html(&report(2, 20, true));
    let texts: Vec<String> = label_rows(&html).into_iter().map(|l| l.1).collect();
    assert_eq!(texts, ["fill/disk-fill#1 on local"]);
    assert_eq!(html.matches(r#"<rect class="win""#).count(), 1);
    assert_eq!(html.matches(r#"<rect class="wsp""#).count(), 0, "one host: no spread");
    assert!(!html.contains("<polygon"), "one host: a plain line");
    assert!(html.contains(
        r#"<tr class="act"><td>fill/disk-fill#1</td><td>disk-fill</td><td>local</td><td>+2.0s</td><td class="ok">rolled back (undone)</td></tr>"#
    ), "{html}");
    assert!(html.contains("<tr><td>data-hosts</td><td>local</td><td>-</td></tr>"));
}

#[test]
fn fleet_html_report_opens_in_chromium_without_console_errors_and_reads_as_one_row_per_action() {
    let html = to_html(&fleet_report(100, &[7, 9], 60));
    let page = artifact("report-fleet-100.html");
    std::fs::write(&page, &html).unwrap();

    let dom_text = dom_without_console_messages(&page);
    assert_eq!(dom_text.matches(r#"<text class="lbl wl""#).count(), 2);
    assert_eq!(dom_text.matches(r#"<tr class="act">"#).count(), 2);
    assert_eq!(dom_text.matches("<details>").count(), 3, "per-host detail and the rollback list stay folded");
    assert!(!html.contains("<script"), "the report needs no scripts");

    screenshot("report-fleet-100.png", "1024,1400", &page);
}

#[test]
fn fleet_rollback_retried_successfully_counts_as_rolled_back_and_failed_injections_are_named() {
    let mut report = fleet_report(5, &[2], 60);
    let failed = report.rollbacks.iter().find(|r| !r.ok).unwrap().clone();
    let retry = RollbackRecord {
        ok: true,
        detail: "undone".into(),
        verified: true,
        started_ms: failed.finished_ms + 500,
        finished_ms: failed.finished_ms + 510,
        ..failed
    };
    report.rollbacks.push(retry);
    let action = match &report.timeline.iter().find(|e| matches!(e.event, Event::ActionStarted { .. })).unwrap().event {
        Event::ActionStarted { action, .. } => action.clone(),
        _ => unreachable!(),
    };
    let at = report.started_ms + 6_500;
    report.timeline.push(TimelineEntry {
        at_ms: at,
        event: Event::ActionFailed { action, host: "h6".into(), error: "daemon h6 unreachable".into() },
    });
    let html = to_html(&report);
    assert!(
        html.contains(r#"<td class="bad">5/5 rolled back, 1 failed to inject: h6</td>"#),
        "{}",
        &html[html.find("<h2>Actions</h2>").unwrap()..]
    );
    let rows = per_host_rows(&html);
    assert_eq!(rows[0], ["h6", "h1", "h2", "h3", "h4", "h5"], "failures first");
    assert!(html.contains("<td>+6.0s \u{2026} +6.5s</td>"), "the failed attempt counts in the span");
}

#[test]
fn crowded_fault_labels_stay_legible_in_chromium() {
    let names: Vec<String> = (1..=9).map(|i| format!("zone-{i}/network-partition#{i}")).collect();
    let actions: Vec<(&str, &str, i64)> =
        names.iter().enumerate().map(|(i, n)| (n.as_str(), "network-partition", 10 + i as i64)).collect();
    let html = to_html(&fleet_report_with(20, &[], 60, &actions));
    let labels = label_rows(&html);
    assert_eq!(labels.len(), 9, "one label per action: {labels:?}");
    let rows: std::collections::BTreeSet<&str> = labels.iter().map(|l| l.0.as_str()).collect();
    assert!(rows.len() > 1, "staggered over rows: {labels:?}");
    assert_eq!(html.matches(r#"<tr class="act">"#).count(), 9);
    let page = artifact("report-fleet-crowded.html");
    std::fs::write(&page, &html).unwrap();
    screenshot("report-fleet-crowded.png", "1024,900", &page);
}

#[test]
fn html_lists_warnings_and_external_guardrails() {
    let mut report = report(2, 20, true);
    let at = report.started_ms + 1500;
    report.timeline.push(TimelineEntry {
        at_ms: at,
        event: Event::Warning { message: "alert LatencyBudget ignored: run r-x: no such <guardrail>".into() },
    });
    report.plan.guardrails.external.push(faultdrill::experiment::ExternalGuardrailPlan {
        name: "error-budget".into(),
        action: faultdrill::experiment::GuardrailAction::Rollback,
    });
    let html = to_html(&report);
    assert!(
        html.contains(
            "<h2>Warnings</h2><ul><li>+1.5s: <span class=\"bad\">alert LatencyBudget ignored: run r-x: no such &lt;guardrail&gt;</span></li></ul>"
        ),
        "{html}"
    );
    assert!(html.contains("<tr><td>error-budget</td><td colspan=\"3\">external: tripped only from outside"), "{html}");
    assert!(!to_html(&observe_common::report_fixture::report(2, 20, true)).contains("<h2>Warnings</h2>"));
}

#[test]
fn junit_has_a_case_per_external_guardrail_failing_when_it_tripped() {
    let mut report = report(2, 20, true);
    report.plan.guardrails.external.push(faultdrill::experiment::ExternalGuardrailPlan {
        name: "page".into(),
        action: faultdrill::experiment::GuardrailAction::Rollback,
    });
    let held = to_junit(&report);
    assert!(held.contains(r#"<testcase name="guardrail: page""#), "{held}");
    report.timeline.push(TimelineEntry {
        at_ms: report.started_ms + 1000,
        event: Event::GuardrailTripped {
            guardrail: "page".into(),
            source: TripSource::External,
            action: "rollback".into(),
            message: "alert Page fired".into(),
        },
    });
    let tripped = to_junit(&report);
    assert!(tripped.contains("external guardrail `page` tripped; action: rollback"), "{tripped}");
}
