//! The journal: a SQLite store of injections (with their undo records) and runs.

mod remote;
mod state_dir;
mod store;

pub use remote::{NewRemoteInjection, RemoteInjectionRecord, RemoteReach};
pub use state_dir::default_state_dir;
pub use store::{InjectionRecord, InjectionState, Journal, JournalError, NewInjection, RunRecord, now_ms};
