//! The engine: hosts, target resolution, the run loop, and the rollback it always performs.

mod budget;
mod control;
mod control_socket;
mod dispatcher;
mod dry_run;
mod held;
mod host;
mod host_constraints;
mod inventory_targets;
mod local_host;
mod outcome;
mod probe_clock;
mod probe_rate;
mod progress;
mod recover_remote;
mod recovery;
mod remote_host;
mod rollback_order;
mod rollback_phase;
mod run;
mod run_journal;
mod sampling;
mod scheduler;
pub mod sidecar;
mod signals;
pub mod sweep;
mod targets;
mod worker;

pub use control::{RunControl, StopRequest, TripRefused, TripRequest};
pub use control_socket::{
    ControlAnswer, ControlRequest, ControlSocket, control_socket_path, is_listening, send_control_request,
    serve_control_socket, sweep_stale_control_sockets,
};
pub use dry_run::{DryRunAction, DryRunGroup, DryRunHost, DryRunPlan, dry_run};
pub use host::{FaultEnd, Host, HostError, InjectRequest, InjectionView, LeaseState, RollbackResult};
pub use local_host::{INSTANT, LocalHost, error_chain};
pub use outcome::expectation as outcome_expectation;
pub use progress::{RunObserver, Silent, StderrProgress, write_around_progress};
pub use recover_remote::{RemoteRecovery, recover_one, recover_remote};
pub use remote_host::journal_answer;
pub use run::{Run, RunOptions, new_run};
pub use targets::{ResolvedTargets, TargetEnv, TargetError, resolve_targets};
