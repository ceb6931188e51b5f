//! Report size and render time: the HTML report of a 10-minute run with 5 probes sampled
//! each second (plus a guardrail every 500 ms), written to target/bench-report.html.
//! `bench/report.sh` then times headless Chromium rendering it.
//!
//! Run: `cargo bench --bench report`.

#[allow(dead_code, reason = "the fixture serves the tests too")]
#[path = "../tests/observe_common/report_fixture.rs"]
mod report_fixture;

use std::time::Instant;

fn main() {
    let report = report_fixture::report(5, 600, true);
    let mut times = Vec::new();
    let mut html = String::new();
    for _ in 0..21 {
        let started = Instant::now();
        html = faultdrill::report::to_html(&report);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-report.html");
    std::fs::write(&out, &html).unwrap();
    println!("report: 10-minute run, 5 probes at 1 s, {} timeline entries", report.timeline.len());
    println!("html size: {} bytes ({:.2} MB; target < 1 MB)", html.len(), html.len() as f64 / 1e6);
    println!("render to html: median {:.2} ms over {} runs", times[times.len() / 2], times.len());
    println!("written to {}", out.display());
}
