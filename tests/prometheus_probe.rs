//! The Prometheus probe against a real Prometheus (Debian package `prometheus`, installed
//! by tests/setup.sh) scraping a real exporter this test serves on loopback.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faultdrill::experiment::ProbeSource;
use faultdrill::probe::{Observation, Prober};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Kills the Prometheus server when the test ends, however it ends.
struct PrometheusServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Serves `fd_test_gauge <value>` in the Prometheus text format at any path.
async fn serve_exporter(value: Arc<AtomicU64>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let value = f64::from_bits(value.load(Ordering::SeqCst));
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

async fn start_prometheus(target: SocketAddr) -> PrometheusServer {
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

fn query(server: &PrometheusServer, q: &str) -> ProbeSource {
    ProbeSource::Prometheus {
        url: server.url.clone(),
        query: q.into(),
        timeout: Duration::from_secs(2),
        bearer_token_env: None,
    }
}

/// Polls until the probe sees `want`, or gives up after 20 s returning the last observation.
async fn observe_until(prober: &Prober, source: &ProbeSource, want: f64) -> Observation {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let obs = prober.observe(source).await;
        if obs.value == Some(want) || Instant::now() > deadline {
            return obs;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_probe_reads_a_real_scraped_value_and_follows_it() {
    let value = Arc::new(AtomicU64::new(42f64.to_bits()));
    let exporter = serve_exporter(value.clone()).await;
    let server = start_prometheus(exporter).await;
    let prober = Prober::new();

    let source = query(&server, "fd_test_gauge{shard=\"a\"}");
    let obs = observe_until(&prober, &source, 42.0).await;
    assert_eq!(obs.value, Some(42.0), "{obs:?}");

    value.store(95f64.to_bits(), Ordering::SeqCst);
    let obs = observe_until(&prober, &source, 95.0).await;
    assert_eq!(obs.value, Some(95.0), "{obs:?}");

    let scalar = prober.observe(&query(&server, "scalar(sum(fd_test_gauge))")).await;
    assert_eq!(scalar.value, Some(96.0), "{scalar:?}");

    let many = prober.observe(&query(&server, "fd_test_gauge")).await;
    assert!(many.error.as_deref().unwrap().contains("returned 2 series"), "{many:?}");

    let none = prober.observe(&query(&server, "fd_no_such_metric")).await;
    assert!(none.error.as_deref().unwrap().contains("no series"), "{none:?}");

    let bad = prober.observe(&query(&server, "sum(")).await;
    assert!(bad.error.as_deref().unwrap().contains("failed with HTTP 400"), "{bad:?}");
}
