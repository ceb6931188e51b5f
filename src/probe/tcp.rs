//! TCP probe: the time to connect to `host:port`; a refused or timed-out connect is a
//! failed sample (unmeasured, for a guardrail).

use std::time::{Duration, Instant};

use super::observation::Observation;

/// Connects once to `address` and observes the connect time (the socket is closed at once).
pub async fn observe_tcp(address: &str, timeout: Duration) -> Observation {
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(stream)) => {
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(stream);
            Observation { latency_ms: Some(latency_ms), ..Observation::default() }
        }
        Ok(Err(e)) => Observation::failed(format!("tcp {address}: connection failed ({e})")),
        Err(_) => {
            Observation::failed(format!("tcp {address}: not connected within {}", humantime::format_duration(timeout)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_is_measured() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let obs = observe_tcp(&address, Duration::from_secs(1)).await;
        assert_eq!(obs.error, None);
        let latency = obs.latency_ms.unwrap();
        assert!((0.0..100.0).contains(&latency), "a loopback connect takes well under 100 ms: {latency}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_failed_sample() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let obs = observe_tcp(&address, Duration::from_secs(1)).await;
        assert_eq!(obs.latency_ms, None);
        assert!(obs.error.as_deref().unwrap().contains("connection failed"), "{obs:?}");
    }
}
