//! Whether every fault was held as planned: a fault that ended before its hold did, without
//! the run asking (its daemon restarted or rolled it back, its lease ran out, its host went
//! out of reach), is recorded on the timeline and makes the run's verdict `fault_not_held`.

use std::time::{Duration, Instant};

use tracing::warn;

use crate::ids::InjectionId;
use crate::report::{Event, format_ms};

use super::host::FaultEnd;
use super::outcome::Abort;
use super::run::Run;

/// How much of a hold must be left, on the controller's monotonic clock, for an end learned
/// then to be a loss whatever the host's clock says: more than the time a daemon's deadline
/// sweep can run ahead of the controller's own end of the hold (the inject's round trip).
const LEARNED_EARLY: Duration = Duration::from_secs(1);

impl Run {
    /// Records that injection `id` ended early, once, and stops the run: what it measures
    /// from now on is not the experiment as written. An end at or after the planned end of
    /// the hold is no loss (a daemon's deadline sweep racing the controller's own rollback).
    ///
    /// The end's time is the host's wall clock, which may be stepped or ahead of this one; so
    /// an end learned while more than [`LEARNED_EARLY`] of the hold was left on this
    /// controller's monotonic clock is a loss whatever that time says.
    pub(super) fn fault_lost(&mut self, id: &InjectionId, end: FaultEnd) {
        // This run's own rollback (the hold ended, or the run is stopping) racing a renewal is
        // no loss, whatever the hosts' clocks say.
        let own = [super::worker::HOLD_ENDED.to_string()]
            .into_iter()
            .chain(self.abort.as_ref().map(Abort::rollback_reason))
            .any(|reason| end.why.ends_with(&reason));
        let Some(live) = self.live.iter_mut().find(|l| l.id == *id) else { return };
        let left = live.planned_end_at.saturating_duration_since(Instant::now());
        let wall_early = end.at_ms < live.planned_end_ms;
        if live.lost || own || !(wall_early || left > LEARNED_EARLY) {
            return;
        }
        live.lost = true;
        let (action, host, planned_end_ms) = (live.action.clone(), live.host.name().to_string(), live.planned_end_ms);
        let hold = self.plan.groups[action.group].actions[action.action].duration.unwrap_or_default();
        let into = if wall_early {
            Duration::from_millis((end.at_ms - (planned_end_ms - hold.as_millis() as i64)).max(0) as u64)
        } else {
            // The host's clock says otherwise: at the latest, when this controller learned it.
            hold.saturating_sub(left)
        };
        let message = format!(
            "{} on {host} ended {:.1}s into its {} hold, at {} ({})",
            action.label,
            into.as_secs_f64(),
            humantime::format_duration(hold),
            format_ms(end.at_ms),
            end.why
        );
        warn!(run = %self.report.run_id, %host, injection = %id, why = %end.why, "Fault not held as planned.");
        self.emit(Event::FaultEnded {
            action,
            host,
            injection: id.clone(),
            ended_ms: end.at_ms,
            planned_end_ms,
            why: end.why,
        });
        self.abort.get_or_insert(Abort::FaultNotHeld { message });
    }
}
