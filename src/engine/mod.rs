//! The engine: hosts, the run loop, and the rollback it always performs.

mod host;
mod local_host;
mod remote_host;

pub use host::{Host, HostError, InjectRequest, InjectionView, RollbackResult};
pub use local_host::{INSTANT, LocalHost, error_chain};
