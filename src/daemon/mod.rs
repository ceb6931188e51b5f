//! The daemon: the v1 HTTP API over the same engine and journal as local runs, behind
//! named tokens with roles, a policy, an audit trail and connection limits.

mod alerts;
mod api_error;
mod audit;
mod auth;
mod config;
mod limits;
mod metrics;
pub mod openapi;
pub mod policy;
mod private_files;
mod reaper;
mod retention;
mod routes;
mod runs;
mod server;
mod state;
mod tokens;

pub use audit::{AUDIT_FILE, AuditRecord, read as read_audit};
pub use config::{DaemonConfig, DaemonError, DaemonFlags, TlsFiles};
#[doc(hidden)]
pub use routes::fuzz_entry;
pub use server::serve;
pub use tokens::Role;
