//! `faultdrill inject FAULT --daemon URL`: the same hold as a local inject, with the
//! daemon doing the work. The injection carries a lease this process renews, so a
//! controller that dies (kill -9, a lost network) has its fault rolled back by the
//! daemon within the lease instead of at the deadline. Like a run's, the injection is
//! journaled here before the daemon is asked, so `faultdrill recover --all` reaches it.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::client::wire::{ErrorKind, InjectionRequest};
use crate::client::{ClientError, DaemonClient};
use crate::exit;
use crate::experiment::RawParams;
use crate::ids::InjectionId;
use crate::journal::{InjectionState, Journal, NewRemoteInjection, RemoteReach, now_ms};

use super::args::InjectArgs;
use super::cmd_inject::parse_duration;
use super::cmd_remote::{client, runtime};
use super::edge::InvalidInput;
use super::hold::{HoldEnd, HoldSignals};

/// The lease when `--lease` is not given (the same default as an experiment's).
const DEFAULT_LEASE: Duration = Duration::from_secs(15);

pub fn run(args: InjectArgs, url: &str, state_dir: &Path) -> anyhow::Result<u8> {
    let daemon = client(url)?;
    let duration = parse_duration(&args.duration)?;
    let lease = match &args.lease {
        Some(text) => parse_lease(text)?,
        None => DEFAULT_LEASE,
    };
    let body = InjectionRequest {
        fault: args.fault.clone(),
        params: parse_params(&args.params)?,
        duration: args.duration.clone(),
        lease: Some(humantime::format_duration(lease).to_string()),
        run: None,
        dry_run: args.dry_run,
    };
    let journal = if args.dry_run { None } else { Some(Journal::open(state_dir)?) };
    runtime()?.block_on(inject_and_hold(&daemon, body, duration, lease, journal.as_ref()))
}

async fn inject_and_hold(
    daemon: &DaemonClient,
    body: InjectionRequest,
    duration: Duration,
    lease: Duration,
    journal: Option<&Journal>,
) -> anyhow::Result<u8> {
    let mut signals = HoldSignals::install()?;
    let key = InjectionId::generate();
    if let Some(journal) = journal {
        journal.record_remote_pending(&NewRemoteInjection {
            key: key.clone(),
            run: None,
            reach: reach_from_env(daemon),
            fault: body.fault.clone(),
            deadline_ms: now_ms() + duration.as_millis() as i64,
        })?;
    }
    let answer = daemon.inject(&body).await;
    if let Some(journal) = journal {
        if let Err(e) = crate::engine::journal_answer(journal, &key, &answer) {
            eprintln!("warning: {}; `recover --all` may not know this injection", crate::errors::error_chain(&e));
        }
    }
    let injection = match answer {
        Ok(injection) => injection,
        Err(e) if is_bad_input(&e) => return Err(InvalidInput(e.to_string()).into()),
        Err(e) => return Err(e).context("inject through the daemon"),
    };
    if body.dry_run {
        for line in &injection.preview {
            eprintln!("would: {line}");
        }
        return Ok(exit::PASSED);
    }
    writeln!(std::io::stdout().lock(), "{}", injection.id)?;
    for line in &injection.preview {
        eprintln!("  {line}");
    }
    let (fault, host, id) = (&injection.fault, &injection.host, &injection.id);
    if injection.state != InjectionState::Active {
        eprintln!("Injected {fault} on {host} ({id}): instantaneous, nothing to hold or roll back.");
        return Ok(exit::PASSED);
    }
    let (shown, lease_shown) = (humantime::format_duration(duration), humantime::format_duration(lease));
    eprintln!(
        "Injected {fault} on {host} ({id}); holding for {shown}. Ctrl-C rolls back now; \
         if this process dies, the daemon rolls back within {lease_shown}."
    );
    let HoldEnd { reason, code } = hold_renewing(daemon, &injection.id, duration, lease, &mut signals).await;
    let rollback = daemon.rollback(id, reason).await;
    if let Some(journal) = journal {
        let (state, note) = match &rollback {
            Ok(r) if r.error.is_none() => (InjectionState::RolledBack, format!("rolled back: {reason}")),
            _ => (InjectionState::Failed, "rollback failed; `faultdrill recover --all` retries it".to_string()),
        };
        if let Err(e) = journal.set_remote_state_of(daemon.url(), id, state, Some(&note)) {
            eprintln!("warning: {}", crate::errors::error_chain(&e));
        }
    }
    match rollback {
        Ok(rollback) if rollback.error.is_none() => {
            eprintln!("Rolled back {fault} on {host} ({id}): {reason}.");
            Ok(code)
        }
        answer => {
            let why = match answer {
                Ok(rollback) => rollback.error.unwrap_or_default(),
                Err(e) => crate::errors::error_chain(&e),
            };
            eprintln!(
                "error: failed to roll back {fault} on {host} ({id}): {why}; retry with \
                 `curl -X DELETE {}/v1/injections/{id}` (the daemon also rolls it back when the lease runs out)",
                daemon.url()
            );
            Ok(exit::ROLLBACK_FAILED)
        }
    }
}

/// Holds for `duration` (or until a signal), renewing the lease every third of it.
async fn hold_renewing(
    daemon: &DaemonClient,
    id: &crate::ids::InjectionId,
    duration: Duration,
    lease: Duration,
    signals: &mut HoldSignals,
) -> HoldEnd {
    let hold = signals.hold(duration);
    tokio::pin!(hold);
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            end = &mut hold => return end,
            _ = renew.tick() => {
                if let Err(e) = daemon.renew_lease(id).await {
                    eprintln!(
                        "warning: could not renew the lease of {id}: {}; the daemon rolls it back if this goes on",
                        crate::errors::error_chain(&e)
                    );
                }
            }
        }
    }
}

/// How `recover` reaches this daemon again: the URL, and the variables `--daemon` read the
/// token and CA from (never the token itself).
fn reach_from_env(daemon: &DaemonClient) -> RemoteReach {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    RemoteReach {
        host: daemon.url().to_string(),
        url: daemon.url().to_string(),
        token_env: set("FAULTDRILL_TOKEN").then(|| "FAULTDRILL_TOKEN".to_string()),
        token_file: None,
        ca_file: std::env::var_os("FAULTDRILL_CA_CERT").filter(|c| !c.is_empty()).map(std::path::PathBuf::from),
    }
}

fn parse_lease(text: &str) -> anyhow::Result<Duration> {
    match crate::experiment::parse_duration(text) {
        Ok(lease) if lease >= Duration::from_millis(300) => Ok(lease),
        _ => {
            Err(InvalidInput(format!("--lease `{text}`: expected a duration of at least 300ms, such as `15s`")).into())
        }
    }
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
