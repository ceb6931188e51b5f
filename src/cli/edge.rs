//! The edge: parse, set up logging, dispatch, and map every outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

use crate::exit;

use super::args::{Cli, Command};
use super::{
    cmd_audit, cmd_daemon, cmd_faults, cmd_helper, cmd_init, cmd_inject, cmd_local_runs, cmd_recover, cmd_remote,
    cmd_report, cmd_run, cmd_runs, cmd_schema, cmd_template, cmd_trip, cmd_validate,
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
            let code = if e.downcast_ref::<InvalidInput>().is_some() {
                exit::INVALID_INPUT
            } else if is_refused(&e) {
                exit::REFUSED
            } else {
                exit::ERROR
            };
            eprintln!("error: {}", chain(&e));
            ExitCode::from(code)
        }
    }
}

/// Whether a daemon refused the call: no valid token (401), or its role or policy (403).
fn is_refused(e: &anyhow::Error) -> bool {
    use crate::client::wire::ErrorKind;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<crate::client::ClientError>()
            .and_then(|c| c.kind())
            .is_some_and(|k| matches!(k, ErrorKind::Unauthorized | ErrorKind::Forbidden))
    })
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let state_dir = cli.state_dir.unwrap_or_else(crate::journal::default_state_dir);
    let token_file = match &cli.command {
        Command::Run(a) => a.auth.token_file.clone(),
        Command::Inject(a) => a.auth.token_file.clone(),
        Command::Runs(a) => a.auth.token_file.clone(),
        Command::Status(a) | Command::Stop(a) => a.remote.auth.token_file.clone(),
        Command::Trip(a) => a.auth.token_file.clone(),
        Command::Audit(a) => a.auth.token_file.clone(),
        _ => None,
    };
    cmd_remote::set_client_auth(token_file, &state_dir);
    if matches!(cli.command, Command::Run(_) | Command::Inject(_) | Command::Daemon(_)) {
        for unknown in crate::failpoint::arm_from_env() {
            tracing::warn!(failpoint = %unknown, "Unknown crash point ignored (known: NAME=kill).");
        }
    }
    match cli.command {
        Command::Run(args) => cmd_run::run(args, &state_dir),
        Command::Validate(args) => cmd_validate::run(args, &state_dir),
        Command::Inject(args) => cmd_inject::run(args, &state_dir),
        Command::Recover(args) => cmd_recover::run(args, &state_dir),
        Command::Daemon(args) => cmd_daemon::run(args, &state_dir),
        Command::Runs(args) if args.daemon.is_none() => cmd_runs::run(&state_dir),
        Command::Runs(args) => cmd_remote::list(args),
        Command::Status(args) if args.remote.daemon.is_none() => cmd_local_runs::status(&args.run, &state_dir),
        Command::Status(args) => cmd_remote::status(args),
        Command::Stop(args) if args.remote.daemon.is_none() => cmd_local_runs::stop(&args.run, &state_dir),
        Command::Stop(args) => cmd_remote::stop(args),
        Command::Init(args) => cmd_init::run(args),
        Command::Trip(args) => cmd_trip::run(args, &state_dir),
        Command::Faults(args) => cmd_faults::run(args, &state_dir),
        Command::Template(args) => cmd_template::run(args, &state_dir),
        Command::Report(args) => cmd_report::run(args, &state_dir),
        Command::Schema(args) => cmd_schema::run(args),
        Command::Audit(args) => cmd_audit::run(args, &state_dir),
        Command::Helper(args) => cmd_helper::run(args, &state_dir),
    }
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAULTDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Log lines on stderr, written around the live progress line (never into it).
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::engine::write_around_progress(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn chain(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
