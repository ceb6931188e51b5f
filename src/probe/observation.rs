//! What a probe saw, and whether that meets the expectations.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::experiment::{Expectation, HostMetric, ProbeSource};

/// One measurement. Fields a source does not produce stay `None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The numeric value (metric, Prometheus result, number on a command's stdout).
    pub value: Option<f64>,
    pub latency_ms: Option<f64>,
    pub status: Option<u16>,
    pub exit: Option<i32>,
    /// HTTP body or command stdout (truncated), for regex and JSON path checks.
    #[serde(skip)]
    pub body: Option<String>,
    /// Why nothing could be measured (connection refused, timeout, no such series).
    pub error: Option<String>,
}

/// The judgement of one observation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub ok: bool,
    /// One line per unmet expectation, e.g. "status 503, expected 200".
    pub failures: Vec<String>,
}

/// Takes measurements. Holds what is worth reusing between samples (the HTTP client).
pub struct Prober {}

impl Prober {
    pub fn new() -> Prober {
        Prober {}
    }

    /// Measures `source` once, here (metric sources read this host).
    pub async fn observe(&self, source: &ProbeSource) -> Observation {
        let _ = source;
        Observation { error: Some("not built yet".into()), ..Observation::default() }
    }
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}

/// Reads one host metric on this machine.
pub fn read_host_metric(metric: HostMetric, path: Option<&Path>, process: Option<&str>) -> Result<f64, String> {
    let _ = (metric, path, process);
    Err("not built yet".into())
}

/// Judges an observation against every expectation.
pub fn evaluate(expect: &[Expectation], observation: &Observation) -> Verdict {
    let _ = (expect, observation);
    Verdict { ok: false, failures: vec!["not built yet".into()] }
}
