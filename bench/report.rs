//! Report size and render time, for two reports in the same run:
//! - a 10-minute run with 5 probes sampled each second (plus a guardrail), on one host,
//!   written to target/bench-report.html;
//! - the same 10 minutes on a fleet of 100 hosts: two actions injected on every host, the
//!   guardrail sampled on each host each second, 2 failed rollbacks, written to
//!   target/bench-report-fleet.html.
//!
//! `bench/report.sh` then times headless Chromium rendering each.
//!
//! Run: `cargo bench --bench report`.

#[allow(dead_code, reason = "the fixture serves the tests too")]
#[path = "../tests/observe_common/report_fixture.rs"]
mod report_fixture;

use std::time::Instant;

use faultdrill::report::Report;

fn measure(name: &str, what: &str, report: &Report, file: &str) {
    let mut times = Vec::new();
    let mut html = String::new();
    for _ in 0..21 {
        let started = Instant::now();
        html = faultdrill::report::to_html(report);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(file);
    std::fs::write(&out, &html).unwrap();
    println!("{name}: {what}, {} timeline entries", report.timeline.len());
    println!("  html size: {} bytes ({:.2} MB; target < 1 MB)", html.len(), html.len() as f64 / 1e6);
    println!("  render to html: median {:.2} ms over {} runs", times[times.len() / 2], times.len());
    println!("  written to {}", out.display());
}

fn main() {
    let single = report_fixture::report(5, 600, true);
    measure("report", "10-minute run, 5 probes at 1 s, 1 host", &single, "bench-report.html");
    let fleet = report_fixture::fleet_report(100, &[7, 9], 600);
    measure(
        "fleet report",
        "10-minute run, 1 probe at 1 s, 2 actions x 100 hosts, guardrail on each host at 1 s",
        &fleet,
        "bench-report-fleet.html",
    );
}
