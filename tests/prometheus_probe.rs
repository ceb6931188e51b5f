//! The Prometheus probe against a real Prometheus (Debian package `prometheus`, installed
//! by tests/setup.sh) scraping a real exporter this test serves on loopback.

mod observe_common;

use std::time::{Duration, Instant};

use faultdrill::experiment::ProbeSource;
use faultdrill::probe::{Observation, Prober};
use observe_common::{Gauge, PrometheusServer, serve_exporter, start_prometheus};

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
    let value = Gauge::new(42.0);
    let exporter = serve_exporter(value.clone()).await;
    let server = start_prometheus(exporter).await;
    let prober = Prober::new();

    let source = query(&server, "fd_test_gauge{shard=\"a\"}");
    let obs = observe_until(&prober, &source, 42.0).await;
    assert_eq!(obs.value, Some(42.0), "{obs:?}");

    value.set(95.0);
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
