//! The handle through which others steer a running run: stop it, trip one of its
//! guardrails (an alarm, `faultdrill trip`), and follow its events live.

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::report::TimelineEntry;

/// A request to stop the run and roll back.
#[derive(Debug)]
pub struct StopRequest {
    pub reason: String,
}

/// A request to trip a guardrail by name, as if its samples had breached.
#[derive(Debug)]
pub struct TripRequest {
    pub guardrail: String,
    pub reason: String,
    /// Answered with an error when the run has no such guardrail.
    pub reply: Option<oneshot::Sender<Result<(), TripRefused>>>,
}

/// Why a trip request was refused. Reads after "failed to ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TripRefused {
    #[error("trip guardrail {guardrail}: the run has no such guardrail (it has: {known})")]
    UnknownGuardrail { guardrail: String, known: String },
    #[error("trip guardrail {guardrail}: the run has already finished")]
    Finished { guardrail: String },
}

/// Cloneable handle on one run.
#[derive(Clone)]
pub struct RunControl {
    pub(crate) stop: mpsc::UnboundedSender<StopRequest>,
    pub(crate) trip: mpsc::UnboundedSender<TripRequest>,
    pub(crate) notes: mpsc::UnboundedSender<String>,
    pub(crate) events: broadcast::Sender<TimelineEntry>,
}

impl RunControl {
    /// Asks the run to stop and roll back. Returns false if it has already finished.
    pub fn stop(&self, reason: impl Into<String>) -> bool {
        self.stop.send(StopRequest { reason: reason.into() }).is_ok()
    }

    /// Trips guardrail `name` and waits for the run to accept or refuse.
    pub async fn trip(&self, guardrail: &str, reason: impl Into<String>) -> Result<(), TripRefused> {
        let (reply, answer) = oneshot::channel();
        let request = TripRequest { guardrail: guardrail.to_string(), reason: reason.into(), reply: Some(reply) };
        let finished = || TripRefused::Finished { guardrail: guardrail.to_string() };
        self.trip.send(request).map_err(|_| finished())?;
        answer.await.map_err(|_| finished())?
    }

    /// Asks the run to trip guardrail `name` without waiting for an answer. Sent before the
    /// run executes, it trips the run before anything is injected.
    pub fn trip_soon(&self, guardrail: &str, reason: impl Into<String>) -> bool {
        let request = TripRequest { guardrail: guardrail.to_string(), reason: reason.into(), reply: None };
        self.trip.send(request).is_ok()
    }

    /// Adds a warning to the run's timeline (and so its report), e.g. an alert that was
    /// meant for it but tripped nothing. Returns false if the run has already finished.
    pub fn warn(&self, message: impl Into<String>) -> bool {
        self.notes.send(message.into()).is_ok()
    }

    /// Follows the run's timeline live (events from now on; slow readers may miss some).
    pub fn subscribe(&self) -> broadcast::Receiver<TimelineEntry> {
        self.events.subscribe()
    }
}
