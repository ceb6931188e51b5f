//! `faultdrill runs | status | stop | trip`: runs on a daemon, and `run --daemon`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::client::wire::{ErrorKind, RunRequest, RunStatus, run_events};
use crate::client::{ClientError, DaemonClient};
use crate::engine::{RunObserver, StderrProgress};
use crate::ids::RunId;
use crate::journal::RunRecord;
use crate::report::{Report, TimelineEntry};

use super::args::{RunArgs, RunRefArgs};
use super::edge::InvalidInput;

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

pub(super) fn client(url: &str) -> anyhow::Result<DaemonClient> {
    DaemonClient::from_env(url).map_err(|e| InvalidInput(e.to_string()).into())
}

/// `faultdrill runs --daemon URL`.
pub fn list(url: &str) -> anyhow::Result<u8> {
    let daemon = client(url)?;
    let runs = runtime()?.block_on(daemon.runs())?;
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no runs on {}", daemon.url())?;
    }
    for run in &runs {
        writeln!(out, "{}", run_line(run))?;
    }
    Ok(crate::exit::PASSED)
}

pub(super) fn run_line(run: &RunRecord) -> String {
    format!("{}  {:<12} {:<18} {}", run.id, run.state, run.outcome.as_deref().unwrap_or("-"), run.name)
}

/// `faultdrill status RUN --daemon URL`: the run's state, and its outcome once finished.
pub fn status(args: RunRefArgs) -> anyhow::Result<u8> {
    let daemon = client(&args.remote.daemon)?;
    let run = runtime()?.block_on(daemon.run(&RunId::from_string(&args.run)))?;
    let mut out = std::io::stdout().lock();
    let outcome = match (&run.outcome, run.exit_code) {
        (Some(o), Some(code)) => format!("{o} (exit {code})"),
        _ => "-".into(),
    };
    writeln!(out, "run {} of {}: {} {outcome}", run.run_id, run.experiment, run.state)?;
    if let Some(reason) = &run.reason {
        writeln!(out, "  {reason}")?;
    }
    Ok(crate::exit::PASSED)
}

/// `faultdrill stop RUN --daemon URL`: stop the run and roll it back.
pub fn stop(args: RunRefArgs) -> anyhow::Result<u8> {
    let daemon = client(&args.remote.daemon)?;
    let ack = runtime()?.block_on(daemon.stop_run(&RunId::from_string(&args.run)))?;
    writeln!(std::io::stdout().lock(), "run {}: {}", ack.run_id, ack.message)?;
    Ok(crate::exit::PASSED)
}

/// `faultdrill trip RUN GUARDRAIL --daemon URL`: trip a guardrail of a run on a daemon.
pub fn trip(url: &str, run: &str, guardrail: &str) -> anyhow::Result<u8> {
    let daemon = client(url)?;
    let path = format!("/v1/runs/{run}/guardrails/{guardrail}/trip");
    let what = format!("trip guardrail {guardrail} of run {run}");
    let answer: serde_json::Value =
        runtime()?.block_on(daemon.call(reqwest::Method::POST, &path, None::<&()>, &what))?;
    writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&answer)?)?;
    Ok(crate::exit::PASSED)
}

/// `faultdrill run FILE --daemon URL`: the daemon runs the experiment on its
/// host; this follows its events with the same progress lines, writes the
/// report locally too, and exits with the run's exit code. Ctrl-C asks the
/// daemon to stop (it rolls back) and keeps following until the end.
pub fn run_on_daemon(args: RunArgs, url: &str, state_dir: &Path) -> anyhow::Result<u8> {
    let Some(file) = args.file.as_deref() else {
        return Err(InvalidInput("give an experiment FILE to run on the daemon".into()).into());
    };
    if args.inventory.is_some() || args.dry_run {
        return Err(InvalidInput("--daemon runs on the daemon's host: drop --inventory and --dry-run".into()).into());
    }
    let experiment =
        std::fs::read_to_string(file).map_err(|e| InvalidInput(format!("read {}: {e}", file.display())))?;
    let mut sets = std::collections::BTreeMap::new();
    for pair in &args.set {
        match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => sets.insert(k.trim().to_string(), v.to_string()),
            _ => return Err(InvalidInput(format!("parse --set {pair:?}: expected NAME=VALUE")).into()),
        };
    }
    let daemon = client(url)?;
    let request = RunRequest { experiment, origin: Some(file.display().to_string()), sets };
    let status = match runtime()?.block_on(submit_and_follow(&daemon, &request)) {
        Ok(status) => status,
        Err(Followed::Invalid(diagnostics)) => {
            eprintln!("{diagnostics}");
            return Ok(crate::exit::INVALID_INPUT);
        }
        Err(Followed::Failed(e)) => return Err(e).context("run on the daemon"),
    };
    let report: Report = status
        .report
        .clone()
        .map(serde_json::from_value)
        .transpose()?
        .ok_or_else(|| anyhow::anyhow!("run {} ended without a report", status.run_id))?;
    let path = crate::report::write_report(state_dir, &report)?;
    if let Some(dir) = &args.out {
        crate::report::copy_report(dir, &report)?;
    }
    if let Some(junit) = &args.junit {
        std::fs::write(junit, crate::report::to_junit(&report))
            .with_context(|| format!("write the JUnit report {}", junit.display()))?;
    }
    super::cmd_run::print_result(&report, &path, args.json)?;
    Ok(report.exit_code.unwrap_or(crate::exit::ERROR))
}

enum Followed {
    /// The experiment has errors: the daemon's diagnostics.
    Invalid(String),
    Failed(ClientError),
}

async fn submit_and_follow(daemon: &DaemonClient, request: &RunRequest) -> Result<RunStatus, Followed> {
    let accepted = daemon.submit_run(request).await.map_err(|e| match e.body() {
        Some(body) if body.kind == ErrorKind::InvalidExperiment => Followed::Invalid(body.error.clone()),
        _ => Followed::Failed(e),
    })?;
    let id = accepted.run_id;
    eprintln!("Run {id} submitted to {}.", daemon.url());
    let mut progress = StderrProgress::new();
    let mut end: Option<RunStatus> = None;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut stopping = false;
    let followed = {
        let follow = daemon.follow_run(&id, |event, data| match event {
            run_events::TIMELINE => {
                if let Ok(entry) = serde_json::from_str::<TimelineEntry>(data) {
                    progress.on_event(&entry);
                }
            }
            run_events::END => end = serde_json::from_str(data).ok(),
            _ => {}
        });
        tokio::pin!(follow);
        loop {
            tokio::select! {
                result = &mut follow => break result,
                _ = recv(&mut interrupt), if !stopping => stopping = true,
                _ = recv(&mut terminate), if !stopping => stopping = true,
            }
            eprintln!("Stopping run {id} on the daemon; it rolls back.");
            if let Err(e) = daemon.stop_run(&id).await {
                eprintln!("warning: {e}");
            }
        }
    };
    progress.finish();
    followed.map_err(Followed::Failed)?;
    match end {
        Some(status) => Ok(status),
        // The stream was cut before the end (daemon restart): ask for the status.
        None => daemon.run(&id).await.map_err(Followed::Failed),
    }
}

async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
