//! The edge: parse, set up logging, dispatch, and map every outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

use crate::exit;

use super::args::{Cli, Command};
use super::{
    cmd_daemon, cmd_faults, cmd_helper, cmd_inject, cmd_recover, cmd_remote, cmd_report, cmd_run, cmd_runs, cmd_schema,
    cmd_template, cmd_trip, cmd_validate,
};

/// An error in what the user gave us (a file, a flag); exits 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::PASSED,
                _ => exit::INVALID_INPUT,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(&cli.log);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(exit::PASSED);
            }
            let code = if e.downcast_ref::<InvalidInput>().is_some() { exit::INVALID_INPUT } else { exit::ERROR };
            eprintln!("error: {}", chain(&e));
            ExitCode::from(code)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let state_dir = cli.state_dir.unwrap_or_else(crate::journal::default_state_dir);
    match cli.command {
        Command::Run(args) => cmd_run::run(args, &state_dir),
        Command::Validate(args) => cmd_validate::run(args, &state_dir),
        Command::Inject(args) => cmd_inject::run(args, &state_dir),
        Command::Recover(args) => cmd_recover::run(args, &state_dir),
        Command::Daemon(args) => cmd_daemon::run(args, &state_dir),
        Command::Runs(args) => match args.daemon {
            Some(url) => cmd_remote::list(&url),
            None => cmd_runs::run(&state_dir),
        },
        Command::Status(args) => cmd_remote::status(args),
        Command::Stop(args) => cmd_remote::stop(args),
        Command::Trip(args) => cmd_trip::run(args, &state_dir),
        Command::Faults(args) => cmd_faults::run(args, &state_dir),
        Command::Template(args) => cmd_template::run(args, &state_dir),
        Command::Report(args) => cmd_report::run(args, &state_dir),
        Command::Schema => cmd_schema::run(),
        Command::Helper(args) => cmd_helper::run(args, &state_dir),
    }
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAULTDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn chain(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
