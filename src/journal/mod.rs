//! The journal: a SQLite store of injections (with their undo records) and runs.

mod clock;
mod failure;
mod remote;
mod retention;
mod schema;
mod state_dir;
mod store;

pub use clock::{BootNow, BootStamp, BootTimes, Due, Now, due_in};
pub use remote::{NewRemoteInjection, RemoteInjectionRecord, RemoteReach};
pub use retention::{DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, Pruned, Retention};
pub use state_dir::{default_state_dir, generated_token_path};
pub use store::{
    InjectionRecord, InjectionState, Journal, JournalError, NewInjection, RunRecord, now_ms, retry_due_ms,
};
