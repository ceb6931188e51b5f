//! `faultdrill runs | status | stop`: runs on a daemon; and `inject --daemon`.

use std::io::Write;

use anyhow::Context;

use crate::client::wire::{ErrorKind, InjectionRequest};
use crate::client::{ClientError, DaemonClient};
use crate::experiment::RawParams;
use crate::ids::RunId;
use crate::journal::RunRecord;

use super::args::{InjectArgs, RemoteArgs, RunRefArgs};
use super::edge::InvalidInput;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn client(url: &str) -> anyhow::Result<DaemonClient> {
    DaemonClient::from_env(url).map_err(|e| InvalidInput(e.to_string()).into())
}

/// `faultdrill runs --daemon URL`.
pub fn list(args: RemoteArgs) -> anyhow::Result<u8> {
    let daemon = client(&args.daemon)?;
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

fn run_line(run: &RunRecord) -> String {
    format!("{}  {:<12} {:<18} {}", run.id, run.state, run.outcome.as_deref().unwrap_or("-"), run.name)
}

/// `faultdrill status RUN --daemon URL`: the run as the daemon reports it (JSON).
pub fn status(args: RunRefArgs) -> anyhow::Result<u8> {
    let daemon = client(&args.remote.daemon)?;
    let run = runtime()?.block_on(daemon.run(&RunId::from_string(&args.run)))?;
    writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&run)?)?;
    Ok(crate::exit::PASSED)
}

/// `faultdrill stop RUN --daemon URL`: stop the run and roll it back.
pub fn stop(args: RunRefArgs) -> anyhow::Result<u8> {
    let daemon = client(&args.remote.daemon)?;
    let run = runtime()?.block_on(daemon.stop_run(&RunId::from_string(&args.run)))?;
    writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&run)?)?;
    Ok(crate::exit::PASSED)
}

/// `faultdrill inject FAULT --daemon URL`: the daemon holds the fault and rolls
/// it back at the deadline; this prints the injection id and returns.
pub fn inject(args: InjectArgs, url: &str) -> anyhow::Result<u8> {
    let daemon = client(url)?;
    let body = InjectionRequest {
        fault: args.fault.clone(),
        params: parse_params(&args.params)?,
        duration: args.duration.clone(),
        lease: None,
        run: None,
        dry_run: args.dry_run,
    };
    let injection = match runtime()?.block_on(daemon.inject(&body)) {
        Ok(injection) => injection,
        Err(e) if is_bad_input(&e) => return Err(InvalidInput(e.to_string()).into()),
        Err(e) => return Err(e).context("inject through the daemon"),
    };
    if args.dry_run {
        for line in &injection.preview {
            eprintln!("would: {line}");
        }
    } else {
        eprintln!(
            "Injected {} on {} as {}; the daemon rolls it back by itself after {} \
             (earlier: curl -X DELETE {}/v1/injections/{}).",
            injection.fault,
            injection.host,
            injection.id,
            args.duration,
            daemon.url(),
            injection.id
        );
    }
    writeln!(std::io::stdout().lock(), "{}", injection.id)?;
    Ok(crate::exit::PASSED)
}

fn is_bad_input(e: &ClientError) -> bool {
    matches!(e.kind(), Some(ErrorKind::UnknownFault | ErrorKind::BadParams | ErrorKind::InvalidRequest))
}

/// `k=v` pairs as raw parameters (the daemon checks them against the fault).
fn parse_params(pairs: &[String]) -> anyhow::Result<RawParams> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), serde_json::Value::String(v.trim().to_string())))
            }
            _ => Err(InvalidInput(format!("parse --param `{pair}`: expected KEY=VALUE")).into()),
        })
        .collect()
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
