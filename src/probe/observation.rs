//! What a probe saw, and the prober that takes measurements from any source.

use serde::{Deserialize, Serialize};

use crate::experiment::ProbeSource;

use super::{command, host_metric, http, prometheus, tcp};

/// One measurement. Fields a source does not produce stay `None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The numeric value (metric, Prometheus result, number on a command's stdout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// HTTP body or command stdout (truncated), for regex and JSON path checks; not reported.
    #[serde(skip)]
    pub body: Option<String>,
    /// Why nothing could be measured (connection refused, timeout, no such series).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Observation {
    /// An observation that measured nothing, and why.
    pub fn failed(error: String) -> Observation {
        Observation { error: Some(error), ..Observation::default() }
    }
}

/// Takes measurements. Holds what is worth reusing between samples (the HTTP client).
pub struct Prober {
    client: reqwest::Client,
}

impl Prober {
    pub fn new() -> Prober {
        Prober { client: http::probe_client() }
    }

    /// Measures `source` once. Metric sources read *this* host; the engine reads a
    /// target's hosts through `Host::sample_metric` instead.
    pub async fn observe(&self, source: &ProbeSource) -> Observation {
        match source {
            ProbeSource::Metric { metric, path, process, .. } => {
                let (metric, path, process) = (*metric, path.clone(), process.clone());
                let read = tokio::task::spawn_blocking(move || {
                    host_metric::read_host_metric(metric, path.as_deref(), process.as_deref())
                })
                .await;
                match read {
                    Ok(Ok(value)) => Observation { value: Some(value), ..Observation::default() },
                    Ok(Err(e)) => Observation::failed(e),
                    Err(e) => Observation::failed(format!("metric reader failed: {e}")),
                }
            }
            ProbeSource::Http { url, method, timeout, headers } => {
                http::observe_http(&self.client, url, method, *timeout, headers).await
            }
            ProbeSource::Prometheus { url, query, timeout, bearer_token_env } => {
                prometheus::observe_prometheus(&self.client, url, query, *timeout, bearer_token_env.as_deref()).await
            }
            ProbeSource::Tcp { address, timeout } => tcp::observe_tcp(address, *timeout).await,
            ProbeSource::Command { argv, timeout } => command::observe_command(argv, *timeout).await,
            ProbeSource::ProbeFailures { probe, .. } => Observation::failed(format!(
                "the failure rate of probe `{probe}` is measured by the run loop from its samples, not by a request"
            )),
        }
    }
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}
