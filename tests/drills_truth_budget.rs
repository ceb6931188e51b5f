//! Probes with an error budget, through the real binary: a probe failing once mid-run
//! deviates when strict (the default) and passes with `tolerate: 1`; `error_rate` is judged
//! over the phase; a probe's own `interval` sets its cadence; latency percentiles are judged
//! over the phase against a real HTTP server; bad budget values are refused at file:line:col.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene { dir: tempfile::tempdir().unwrap() }
    }

    /// An experiment holding a 1 MiB fill for `hold`, with `probes` (YAML list items, indented
    /// by four spaces) sampled every 200 ms by default.
    fn experiment(&self, name: &str, probes: &str, hold: &str) -> PathBuf {
        let fill = self.dir.path().join("fill");
        std::fs::create_dir_all(&fill).unwrap();
        let yaml = format!(
            "version: 1\nname: {name}\nsteady_state:\n  interval: 200ms\n  probes:\n{probes}\
             action_groups:\n  - name: fill\n    target: local\n    actions:\n      - fault: disk-fill\n        \
             params: {{path: \"{}\", size: 1MiB}}\n        duration: {hold}\n",
            fill.display()
        );
        let path = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// A command probe failing exactly on its `nth` call (counted in a file).
    /// The JUnit report of the last run.
    fn junit(&self) -> PathBuf {
        self.dir.path().join("junit.xml")
    }

    fn fails_once(&self, tag: &str, nth: u32) -> String {
        let counter = self.dir.path().join(format!("{tag}.count"));
        format!(
            "[sh, -c, 'n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -ne {nth} ]']",
            counter.display()
        )
    }

    fn run(&self, file: &Path) -> Output {
        Command::new(BIN)
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .arg("run")
            .arg(file)
            .arg("--json")
            .arg("--junit")
            .arg(self.junit())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}; stderr:\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn during_samples(report: &serde_json::Value, probe: &str) -> usize {
    let timeline = report["timeline"].as_array().unwrap();
    timeline
        .iter()
        .filter(|e| {
            e["event"]["kind"] == "probe_sample" && e["event"]["phase"] == "during" && e["event"]["probe"] == probe
        })
        .count()
}

#[test]
fn drills_truth_one_failed_sample_deviates_when_strict_and_passes_with_tolerate() {
    let scene = Scene::new();
    let strict = format!(
        "    - name: flaky\n      command: {{run: {}, timeout: 2s}}\n      expect: {{exit: 0}}\n",
        scene.fails_once("strict", 3)
    );
    let out = scene.run(&scene.experiment("strict", &strict, "1500ms"));
    assert_eq!(out.status.code(), Some(1), "strict by default: one failure deviates");
    let junit = std::fs::read_to_string(scene.junit()).unwrap();
    assert!(junit.contains("type=\"deviation\""), "{junit}");
    let reason = report(&out)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("flaky") && reason.contains("during the faults"), "{reason}");

    let tolerant = format!(
        "    - name: flaky\n      command: {{run: {}, timeout: 2s}}\n      expect: {{exit: 0}}\n      tolerate: 1\n",
        scene.fails_once("tolerant", 3)
    );
    let out = scene.run(&scene.experiment("tolerant", &tolerant, "1500ms"));
    let report = report(&out);
    assert_eq!(out.status.code(), Some(0), "one failure in a row is within `tolerate: 1`: {}", report["reason"]);
    assert!(report["timeline"].to_string().contains("\"ok\":false"), "the failed sample is still recorded");
    let junit = std::fs::read_to_string(scene.junit()).unwrap();
    assert!(!junit.contains("type=\"deviation\""), "within its budget, JUnit shows no deviation: {junit}");
}

#[test]
fn drills_truth_tolerate_counts_failures_in_a_row() {
    let scene = Scene::new();
    let always = "    - name: down\n      command: {run: [\"false\"], timeout: 2s}\n      expect: {exit: 0}\n      \
                  tolerate: 2\n      interval: 100ms\n";
    let out = scene.run(&scene.experiment("down", always, "1s"));
    // It fails before anything is injected: a broken drill, not a finding (exit 5).
    assert_eq!(out.status.code(), Some(5));
    let reason = report(&out)["reason"].as_str().unwrap().to_string();
    // Before the faults, the failed sample is taken again twice, then the third failure in a row deviates.
    assert!(reason.contains("3 failed samples in a row, more than its `tolerate: 2`"), "{reason}");
    assert!(reason.contains("before any fault"), "{reason}");
}

#[test]
fn drills_truth_error_rate_is_judged_over_the_phase() {
    let scene = Scene::new();
    let probe = |tag: &str, rate: &str| {
        format!(
            "    - name: flaky\n      command: {{run: {}, timeout: 2s}}\n      expect: {{exit: 0}}\n      \
             error_rate: \"{rate}\"\n",
            scene.fails_once(tag, 3)
        )
    };
    let out = scene.run(&scene.experiment("loose", &probe("loose", "< 50%"), "2500ms"));
    assert_eq!(out.status.code(), Some(0), "1 failure in ~7 samples is under 50 %: {}", report(&out)["reason"]);

    let out = scene.run(&scene.experiment("tight", &probe("tight", "<= 1%"), "1500ms"));
    assert_eq!(out.status.code(), Some(1));
    let reason = report(&out)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("flaky: 1 of ") && reason.contains("outside its `error_rate: <= 1%`"), "{reason}");
}

#[test]
fn drills_truth_each_probe_samples_at_its_own_interval() {
    let scene = Scene::new();
    let probes = "    - name: fast\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      \
                  interval: 100ms\n    - name: slow\n      command: {run: [\"true\"], timeout: 2s}\n      \
                  expect: {exit: 0}\n      interval: 1s\n";
    let out = scene.run(&scene.experiment("cadence", probes, "2s"));
    assert_eq!(out.status.code(), Some(0));
    let report = report(&out);
    let (fast, slow) = (during_samples(&report, "fast"), during_samples(&report, "slow"));
    // About 20 and 2; a loaded machine takes fewer fast samples (one in flight at a time).
    assert!((8..=24).contains(&fast), "about 20 samples at 100 ms over 2 s: {fast}");
    assert!((1..=3).contains(&slow), "about 2 samples at 1 s over 2 s: {slow}");
    assert!(fast >= 4 * slow, "the fast probe samples far more often: {fast} vs {slow}");
}

/// A Python HTTP server on loopback answering every GET after `delay_ms`.
struct SlowServer {
    child: std::process::Child,
    url: String,
}

impl SlowServer {
    fn start(delay_ms: u64) -> SlowServer {
        let code = format!(
            "import http.server,time,sys\n\
             class H(http.server.BaseHTTPRequestHandler):\n    \
                 def do_GET(self):\n        time.sleep({delay_ms}/1000)\n        self.send_response(200)\n        \
                 self.end_headers()\n        self.wfile.write(b'ok')\n    \
                 def log_message(self,*a): pass\n\
             s=http.server.ThreadingHTTPServer(('127.0.0.1',0),H)\n\
             print(s.server_address[1],flush=True)\n\
             s.serve_forever()\n"
        );
        let mut child = Command::new("python3")
            .args(["-c", &code])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 is installed");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        SlowServer { child, url: format!("http://127.0.0.1:{}/", line.trim()) }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn drills_truth_latency_percentiles_are_judged_over_the_phase() {
    let scene = Scene::new();
    let server = SlowServer::start(30);
    let probe = |p95: &str| {
        format!(
            "    - name: front\n      http: {{url: \"{}\", timeout: 2s}}\n      expect: {{status: 200, latency: \"{p95}\"}}\n",
            server.url
        )
    };
    let out = scene.run(&scene.experiment("p95-ok", &probe("p95 < 2s"), "1s"));
    assert_eq!(out.status.code(), Some(0), "{}", report(&out)["reason"]);

    let out = scene.run(&scene.experiment("p95-slow", &probe("p95 < 10ms"), "1s"));
    // Already too slow before anything is injected: not steady before (exit 5).
    assert_eq!(out.status.code(), Some(5));
    let reason = report(&out)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("front: p95 latency ") && reason.contains("expected < 10ms"), "{reason}");
}

#[test]
fn drills_truth_bad_budget_values_are_refused_at_file_line_col() {
    let scene = Scene::new();
    let probes = "    - name: a\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      tolerate: -1\n\
                  \x20   - name: b\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      error_rate: \"1%\"\n\
                  \x20   - name: c\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      error_rate: \"< 200%\"\n\
                  \x20   - name: d\n      http: {url: \"http://127.0.0.1:9/\"}\n      expect: {latency: \"p0 < 3ms\"}\n\
                  \x20   - name: e\n      http: {url: \"http://127.0.0.1:9/\"}\n      expect: {latency: \"p95 < soon\"}\n\
                  \x20   - name: f\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      interval: 0s\n\
                  \x20   - name: g\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {exit: 0}\n      tolerate: 1\n      error_rate: \"< 5%\"\n\
                  \x20   - name: h\n      command: {run: [\"true\"], timeout: 2s}\n      expect: {value: \"p95 < 3\"}\n";
    let file = scene.experiment("bad", probes, "1s");
    let out = Command::new(BIN).arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let f = file.display().to_string();
    for (line, col, message) in [
        (9, 17, "`tolerate` is a number of consecutive failed samples (0 or more), found -1"),
        (13, 19, "expected an error rate such as \"< 1%\" or \"<= 0.5%\" for `error_rate`, found `1%`"),
        (17, 19, "found `< 200%`"),
        (20, 25, "expected a percentile from p1 to p100, such as `p95 < 300ms`, found `p0 < 3ms`"),
        (23, 25, "in `p95 < soon`: expected a number, found `soon`"),
        (27, 17, "duration `0s` must be greater than zero"),
        (32, 19, "give a probe `tolerate` or `error_rate`, not both"),
    ] {
        // `error: MESSAGE`, then ` --> FILE:LINE:COL` on the next line.
        let at = format!("--> {f}:{line}:{col}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.windows(2).any(|w| w[0].starts_with("error: ") && w[0].contains(message) && w[1].trim() == at),
            "expected `error: …{message}…` at {at} in:\n{text}"
        );
    }
    assert!(text.contains("found `p95 < 3`"), "a percentile on `value` is not a comparison: {text}");
    assert!(text.contains("error: 8 problems in 1 file"), "every problem at once: {text}");
}
