//! Steady-state probes: one source per file (host metrics, HTTP, Prometheus, TCP, command),
//! the observation they produce, and judging an observation against expectations.

mod command;
mod expect;
mod host_metric;
mod http;
mod observation;
mod prometheus;
mod tcp;

pub use expect::{Verdict, evaluate, json_path};
pub use host_metric::{disk_used_percent, process_count, read_host_metric};
pub use http::probe_client;
pub use observation::{Observation, Prober};
