//! The daemon: the v1 HTTP API over the same engine and journal as local runs.

mod api_error;
mod auth;
mod config;
mod metrics;
pub mod openapi;
mod reaper;
mod routes;
mod runs;
mod server;
mod state;

pub use config::{DaemonConfig, DaemonError, TlsFiles, read_token};
pub use server::serve;
