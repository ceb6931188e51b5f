//! Steady-state probes: one source per file (host metrics, HTTP, Prometheus, command).
