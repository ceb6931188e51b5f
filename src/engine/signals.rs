//! SIGINT and SIGTERM as a stream the run loop selects on.
//!
//! Once registered, the signals no longer kill the process: the loop rolls back first,
//! and a second Ctrl-C during rollback is swallowed rather than abandoning it.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Both termination signals.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Registers the handlers. Call before the first injection.
    pub fn register() -> std::io::Result<Signals> {
        Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// Waits for the next signal and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// Waits for a signal if `signals` is set, else forever.
pub async fn next_signal(signals: &mut Option<Signals>) -> &'static str {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
