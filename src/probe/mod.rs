//! Steady-state probes: one source per file (host metrics, HTTP, Prometheus, command),
//! the observation they produce, and judging an observation against expectations.

mod observation;

pub use observation::{Observation, Prober, Verdict, evaluate, read_host_metric};
