//! The engine: hosts, target resolution, the run loop, and the rollback it always performs.

mod control;
mod dispatcher;
mod dry_run;
mod host;
mod local_host;
mod outcome;
mod progress;
mod run;
mod sampling;
mod scheduler;
mod signals;
mod targets;
mod worker;

pub use control::{RunControl, StopRequest, TripRefused, TripRequest};
pub use dry_run::{DryRunAction, DryRunGroup, DryRunHost, DryRunPlan, dry_run};
pub use host::{Host, HostError, InjectRequest, InjectionView, RollbackResult};
pub use local_host::{INSTANT, LocalHost, error_chain};
pub use progress::{RunObserver, Silent, StderrProgress};
pub use run::{Run, RunOptions, new_run};
pub use targets::{ResolvedTargets, TargetEnv, TargetError, resolve_targets};

#[cfg(test)]
mod tests;
