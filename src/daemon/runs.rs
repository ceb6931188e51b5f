//! Runs submitted to this daemon.
//!
//! The engine's run loop is not merged into this branch yet: the registry is
//! empty and submitting a run answers 501 (see `routes/runs.rs`).

/// The runs this daemon is executing.
#[derive(Default)]
pub struct Runs {}
