//! The JUnit and HTML renderers on a report of a known shape, checked by real consumers:
//! Python's `junitparser` (from PyPI, in a venv under target/) and headless Chromium.
//!
//! The report is built here rather than by a run so that its shape (a deviation, a trip,
//! a failed rollback, a long run) is exactly known; end-to-end runs produce the same type.

mod observe_common;

use faultdrill::report::*;
use observe_common::report_fixture::report;
use observe_common::{artifact, chromium, junit_cases};

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

    let dom = chromium(&["--dump-dom"], &page);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let logs = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "{logs}");
    let console: Vec<&str> = logs.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert_eq!(dom_text.matches(r#"<g class="series" data-kind="probe""#).count(), 3);
    assert_eq!(dom_text.matches(r#"<g class="series" data-kind="guardrail""#).count(), 1);
    assert!(dom_text.contains("tripped: disk-90"));
    assert!(dom_text.contains("Fill /data until the guardrail trips; expect a clean &lt;rollback&gt;."));
    assert!(!html.contains("<script"), "the report needs no scripts");
    assert!(!html.contains("src=\"http"), "the report fetches nothing");

    let png = artifact("report-sample.png");
    let _ = std::fs::remove_file(&png);
    let shot =
        chromium(&[&format!("--screenshot={}", png.display()), "--window-size=1024,1800", "--hide-scrollbars"], &page);
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a screenshot for a person to look at");
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
