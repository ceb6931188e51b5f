//! HTTP probe: status, latency and body of one request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::observation::Observation;

/// Bodies longer than this are cut before regex and JSON path checks.
const MAX_BODY: usize = 256 * 1024;

/// A client for probes: no proxy (probes must hit exactly the URL written), no redirects followed silently.
pub fn probe_client() -> reqwest::Client {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2)
        .build()
        .expect("a TLS provider is installed")
}

/// Sends one request and observes status, latency and body.
pub async fn observe_http(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    timeout: Duration,
    headers: &BTreeMap<String, String>,
) -> Observation {
    let method = match reqwest::Method::from_bytes(method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Observation::failed(format!("`{method}` is not an HTTP method")),
    };
    let mut request = client.request(method, url).timeout(timeout);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let started = Instant::now();
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Observation::failed(describe_error(url, timeout, &e)),
    };
    let status = response.status().as_u16();
    let body = match tokio::time::timeout(timeout.saturating_sub(started.elapsed()), response.bytes()).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned(),
        Ok(Err(e)) => return Observation::failed(describe_error(url, timeout, &e)),
        Err(_) => return Observation::failed(format!("GET {url}: body not received within {timeout:?}")),
    };
    Observation {
        status: Some(status),
        latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        body: Some(body),
        ..Observation::default()
    }
}

fn describe_error(url: &str, timeout: Duration, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{url}: no answer within {}", humantime::format_duration(timeout))
    } else if e.is_connect() {
        // The innermost cause is what an operator acts on ("Connection refused"), not
        // reqwest's and hyper's layers around it.
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        format!("{url}: connection failed ({cause})")
    } else {
        format!("{url}: {}", crate::errors::error_chain(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A real HTTP/1.1 server on loopback answering every request with `status` and `body`.
    async fn serve(status: &'static str, body: &'static str, delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/health")
    }

    #[tokio::test]
    async fn observes_status_latency_and_body_of_a_real_server() {
        let url = serve("503 Service Unavailable", "{\"ok\":false}", Duration::from_millis(50)).await;
        let obs = observe_http(&probe_client(), &url, "GET", Duration::from_secs(2), &BTreeMap::new()).await;
        assert_eq!(obs.status, Some(503));
        assert!(obs.latency_ms.unwrap() >= 50.0, "{obs:?}");
        assert_eq!(obs.body.as_deref(), Some("{\"ok\":false}"));
    }

    #[tokio::test]
    async fn a_slow_server_is_a_timeout_error() {
        let url = serve("200 OK", "late", Duration::from_secs(3)).await;
        let obs = observe_http(&probe_client(), &url, "GET", Duration::from_millis(200), &BTreeMap::new()).await;
        assert!(obs.error.as_deref().unwrap().contains("no answer within 200ms"), "{obs:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let obs = observe_http(&probe_client(), &url, "GET", Duration::from_secs(1), &BTreeMap::new()).await;
        assert!(obs.error.as_deref().unwrap().contains("connection failed"), "{obs:?}");
    }
}
