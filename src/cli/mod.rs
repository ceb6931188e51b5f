//! The command line: argument parsing, one file per command, and the one edge
//! where errors become a message on stderr and a documented exit code.

mod abandoned;
mod args;
mod cmd_audit;
mod cmd_daemon;
mod cmd_faults;
mod cmd_helper;
mod cmd_init;
mod cmd_inject;
mod cmd_inject_remote;
mod cmd_local_runs;
mod cmd_recover;
mod cmd_remote;
mod cmd_report;
mod cmd_run;
mod cmd_runs;
mod cmd_schema;
mod cmd_sweep;
mod cmd_template;
mod cmd_trip;
mod cmd_validate;
mod edge;
mod hold;

pub use args::{Cli, Command};
pub use edge::{InvalidInput, main};
