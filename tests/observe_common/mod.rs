//! Real servers and consumers for the observability tests: a Prometheus (Debian package)
//! scraping an exporter the test serves, Python's junitparser in a venv, headless Chromium.
//! Everything listens on loopback and is stopped when the test ends.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod report_fixture;

/// A gauge the test sets and the exporter serves as `fd_test_gauge{shard="a"}`
/// (plus a constant `fd_test_gauge{shard="b"} 1`, so unaggregated queries see two series).
#[derive(Clone)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn new(value: f64) -> Gauge {
        Gauge(Arc::new(AtomicU64::new(value.to_bits())))
    }

    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::SeqCst);
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::SeqCst))
    }
}

/// Serves the gauge in the Prometheus text format on a loopback port.
pub async fn serve_exporter(gauge: Gauge) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let value = gauge.get();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = format!(
                    "# TYPE fd_test_gauge gauge\nfd_test_gauge{{shard=\"a\"}} {value}\nfd_test_gauge{{shard=\"b\"}} 1\n"
                );
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// A real Prometheus on a loopback port, killed when dropped.
pub struct PrometheusServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts Prometheus scraping `target` every second and waits until it is ready.
pub async fn start_prometheus(target: SocketAddr) -> PrometheusServer {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: faultdrill-test\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed by tests/setup.sh");
    let server = PrometheusServer { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
    let client = faultdrill::probe::probe_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{}/-/ready", server.url)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready within 30s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value Prometheus returns for `query` right now, if any.
pub async fn query_value(server: &PrometheusServer, query: &str) -> Option<f64> {
    let source = faultdrill::experiment::ProbeSource::Prometheus {
        url: server.url.clone(),
        query: query.into(),
        timeout: Duration::from_secs(2),
        bearer_token_env: None,
    };
    faultdrill::probe::Prober::new().observe(&source).await.value
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("test-artifacts")
}

/// Where tests leave files for a person to look at (screenshots, sample reports).
pub fn artifact(name: &str) -> PathBuf {
    std::fs::create_dir_all(artifacts()).unwrap();
    artifacts().join(name)
}

/// A venv under target/ with junitparser from PyPI (created once, reused).
pub fn junitparser_python() -> PathBuf {
    let venv = artifacts().join("venv-junit");
    let python = venv.join("bin/python");
    let ready =
        || python.exists() && Command::new(&python).args(["-c", "import junitparser"]).status().unwrap().success();
    if !ready() {
        std::fs::create_dir_all(artifacts()).unwrap();
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().unwrap();
        assert!(made.success(), "python3 -m venv failed (tests/setup.sh installs python3-venv)");
        let pip = Command::new(venv.join("bin/pip")).args(["install", "-q", "junitparser==3.2.0"]).status().unwrap();
        assert!(pip.success(), "pip install junitparser failed");
    }
    python
}

/// Parses a JUnit file with junitparser: one `suite|case|result kinds|messages` line per testcase.
pub fn junit_cases(file: &Path) -> Vec<String> {
    let script = r#"
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        msgs = [r.message for r in case.result]
        print(f"{suite.name}|{case.name}|{','.join(kinds) or 'ok'}|{';'.join(m or '' for m in msgs)}")
"#;
    let out = Command::new(junitparser_python()).arg("-c").arg(script).arg(file).output().unwrap();
    assert!(out.status.success(), "junitparser: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

/// Runs headless Chromium on a local file with the flags this machine needs.
pub fn chromium(args: &[&str], html: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium is installed by tests/setup.sh")
}

/// Loads `html` in headless Chromium, checks that it loaded without a single console
/// message, and returns the DOM it built.
pub fn dom_without_console_messages(html: &Path) -> String {
    let dom = chromium(&["--dump-dom"], html);
    assert_no_console_messages(&dom);
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// Screenshots `html` at `window` (e.g. `1024,1800`) into `target/test-artifacts/NAME`,
/// for a person to look at, checking the page loaded without console messages.
pub fn screenshot(name: &str, window: &str, html: &Path) {
    let png = artifact(name);
    let _ = std::fs::remove_file(&png);
    let shot = chromium(
        &[&format!("--screenshot={}", png.display()), &format!("--window-size={window}"), "--hide-scrollbars"],
        html,
    );
    assert_no_console_messages(&shot);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a screenshot for a person to look at");
}

fn assert_no_console_messages(chromium: &std::process::Output) {
    let logs = String::from_utf8_lossy(&chromium.stderr);
    assert!(chromium.status.success(), "{logs}");
    let console: Vec<&str> = logs.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
}
