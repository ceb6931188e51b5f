//! Holding one injected fault in the foreground (`faultdrill inject`, local or through a
//! daemon): until its duration ends or a signal asks to stop early, whichever comes first.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit;

/// The signals that end a hold early. Installed before the fault is applied, so a signal
/// that arrives during the apply waits for the rollback instead of killing us half-way.
pub struct HoldSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

/// Why a hold ended, and the exit code that goes with it.
pub struct HoldEnd {
    pub reason: &'static str,
    pub code: u8,
}

impl HoldSignals {
    pub fn install() -> std::io::Result<HoldSignals> {
        Ok(HoldSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for `duration`, or for a signal.
    pub async fn hold(&mut self, duration: Duration) -> HoldEnd {
        tokio::select! {
            () = tokio::time::sleep(duration) => HoldEnd { reason: "the duration elapsed", code: exit::PASSED },
            reason = self.next() => HoldEnd { reason, code: exit::INTERRUPTED },
        }
    }

    /// The next signal, as a rollback reason.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "interrupted by SIGINT",
            _ = self.terminate.recv() => "interrupted by SIGTERM",
            _ = self.hangup.recv() => "interrupted by SIGHUP",
        }
    }
}
