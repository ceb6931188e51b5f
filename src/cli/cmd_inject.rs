//! `faultdrill inject`: one fault, held for a duration, then rolled back.
//!
//! The injection id goes to stdout at once (so a script can `recover` it even
//! if this process is killed); progress goes to stderr. SIGINT, SIGTERM and
//! SIGHUP end the hold early: the fault is rolled back, then the exit is 130.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{HostError, InjectRequest, InjectionView, LocalHost};
use crate::exit;
use crate::fault::{Fault, Params, RawParams, all_faults, find_fault};
use crate::journal::{InjectionState, Journal};

use super::args::InjectArgs;
use super::edge::InvalidInput;
use super::hold::{HoldEnd, HoldSignals};

pub fn run(args: InjectArgs, state_dir: &Path) -> anyhow::Result<u8> {
    if let Some(url) = args.daemon.clone() {
        return super::cmd_inject_remote::run(args, &url, state_dir);
    }
    let fault = find_fault(&args.fault).ok_or_else(|| {
        let names: Vec<&str> = all_faults().iter().map(|f| f.info().name).collect();
        InvalidInput(format!("unknown fault `{}`; expected one of: {}", args.fault, names.join(", ")))
    })?;
    let params = check_params(fault, &args.params)?;
    if args.lease.is_some() {
        return Err(InvalidInput("--lease needs --daemon: a local inject is time-boxed by its deadline".into()).into());
    }
    let duration = parse_duration(&args.duration)?;
    let request =
        InjectRequest { fault: args.fault.clone(), params, duration, lease: None, run: None, dry_run: args.dry_run };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(inject_and_hold(request, state_dir))
}

/// `--param k=v` pairs, checked against the fault's parameters (exit 64 on any problem).
fn check_params(fault: &dyn Fault, pairs: &[String]) -> anyhow::Result<Params> {
    let mut raw = RawParams::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| InvalidInput(format!("--param `{pair}`: expected KEY=VALUE, e.g. --param percent=50")))?;
        raw.insert(key.trim().to_string(), serde_json::Value::String(value.to_string()));
    }
    let name = fault.info().name;
    let params = Params::check(fault.info().params, &raw).map_err(|problems| {
        let lines: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        InvalidInput(format!("{name}: {}; `faultdrill faults` lists the parameters", lines.join("; ")))
    })?;
    fault.check(&params).map_err(|message| InvalidInput(format!("{name}: {message}")))?;
    Ok(params)
}

pub(super) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let duration = crate::experiment::parse_duration(text).map_err(|_| {
        InvalidInput(format!("--duration `{text}`: expected a duration such as `30s` or `5m` (units ms, s, m, h)"))
    })?;
    if duration.is_zero() {
        return Err(InvalidInput("--duration must be greater than zero".into()).into());
    }
    crate::experiment::check_duration_limit(duration).map_err(|m| InvalidInput(format!("--duration `{text}`: {m}")))?;
    Ok(duration)
}

async fn inject_and_hold(request: InjectRequest, state_dir: &Path) -> anyhow::Result<u8> {
    // Handlers first: a signal that arrives while the fault is being applied is
    // held until the rollback below, instead of killing us half-way.
    let mut signals = HoldSignals::install()?;
    let host = LocalHost::new(Arc::new(Journal::open(state_dir)?));
    let (fault, duration, dry_run) = (request.fault.clone(), request.duration, request.dry_run);
    let view = host.inject(request).await.map_err(|e| match e {
        HostError::UnknownFault { .. } | HostError::BadParams { .. } => anyhow::Error::new(InvalidInput(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    if dry_run {
        print_dry_run(&view)?;
        return Ok(exit::PASSED);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", view.id)?;
    out.flush()?;
    drop(out);
    for line in &view.preview {
        eprintln!("  {line}");
    }
    if view.state != InjectionState::Active {
        eprintln!("Injected {fault} ({}): instantaneous, nothing to hold or roll back.", view.id);
        return Ok(exit::PASSED);
    }
    let shown = humantime::format_duration(duration);
    eprintln!("Injected {fault} ({}); holding for {shown}. Ctrl-C rolls back now.", view.id);
    let HoldEnd { reason, code } = signals.hold(duration).await;
    let result = host.rollback(&view.id, reason).await;
    match &result.outcome {
        Ok(_) => {
            eprintln!("Rolled back {fault} ({}), verified: {reason}.", view.id);
            Ok(code)
        }
        Err(e) => {
            eprintln!(
                "error: failed to roll back {fault} ({}): {e}; retry with `faultdrill recover {}`",
                view.id, view.id
            );
            Ok(exit::ROLLBACK_FAILED)
        }
    }
}

fn print_dry_run(view: &InjectionView) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "dry run: {} would change, and nothing was changed:", view.fault)?;
    for line in &view.preview {
        writeln!(out, "  {line}")?;
    }
    out.flush()
}
