//! The engine: hosts, target resolution, the run loop, and the rollback it always performs.

mod control;
mod control_socket;
mod dispatcher;
mod dry_run;
mod host;
mod inventory_targets;
mod local_host;
mod outcome;
mod progress;
mod remote_host;
mod run;
mod sampling;
mod scheduler;
mod signals;
mod targets;
mod worker;

pub use control::{RunControl, StopRequest, TripRefused, TripRequest};
pub use control_socket::{
    ControlAnswer, ControlRequest, ControlSocket, control_socket_path, send_control_request, serve_control_socket,
};
pub use dry_run::{DryRunAction, DryRunGroup, DryRunHost, DryRunPlan, dry_run};
pub use host::{Host, HostError, InjectRequest, InjectionView, RollbackResult};
pub use local_host::{INSTANT, LocalHost, error_chain};
pub use outcome::expectation as outcome_expectation;
pub use progress::{RunObserver, Silent, StderrProgress, write_around_progress};
pub use run::{Run, RunOptions, new_run};
pub use targets::{ResolvedTargets, TargetEnv, TargetError, resolve_targets};
