//! `faultdrill run`: run an experiment on the local host and report its outcome.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::engine::{self, LocalHost, RunOptions, StderrProgress, TargetEnv};
use crate::exit;
use crate::experiment::{self, ExpectedOutcome, ExperimentPlan};
use crate::ids::RunId;
use crate::journal::Journal;
use crate::probe::Prober;
use crate::report::{self, Report};

use super::args::RunArgs;
use super::edge::InvalidInput;

pub fn run(args: RunArgs, state_dir: &Path) -> anyhow::Result<u8> {
    if let Some(url) = args.daemon.clone() {
        return super::cmd_remote::run_on_daemon(args, &url, state_dir);
    }
    let sets = parse_sets(&args.set)?;
    let loaded = match (&args.template, args.file.as_deref()) {
        (Some(name), _) => experiment::load_template(name, &sets, crate::fault::catalog()),
        (None, Some(file)) => experiment::load_file(file, &sets, crate::fault::catalog()),
        (None, None) => {
            let message = "give an experiment FILE or --template NAME to run (see `faultdrill run --help`)";
            return Err(InvalidInput(message.into()).into());
        }
    };
    let mut plan = match loaded {
        Ok(plan) => plan,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Ok(exit::INVALID_INPUT);
        }
    };
    if let Some(expected) = expected_outcome(&args) {
        plan.expect_outcome = Some(expected);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(run_plan(plan, &args, state_dir))
}

async fn run_plan(plan: ExperimentPlan, args: &RunArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let journal = Arc::new(Journal::open(state_dir)?);
    let inventory = args
        .inventory
        .as_deref()
        .map(crate::client::Inventory::load)
        .transpose()
        .map_err(|e| InvalidInput(e.to_string()))?;
    let env = TargetEnv { local: LocalHost::new(journal.clone()), inventory };
    let targets = engine::resolve_targets(&plan, &env).map_err(|e| InvalidInput(e.to_string()))?;
    if args.dry_run {
        let resolved = engine::dry_run(&plan, &targets).await;
        let mut stdout = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer_pretty(&mut stdout, &resolved)?;
            writeln!(stdout)?;
        } else {
            write!(stdout, "{}", resolved.render())?;
        }
        return Ok(if resolved.is_ok() { exit::PASSED } else { exit::ERROR });
    }
    let options = RunOptions {
        run_id: RunId::generate(),
        journal: Some(journal.clone()),
        handle_signals: true,
        prober: Arc::new(Prober::new()),
    };
    let socket = engine::control_socket_path(state_dir, options.run_id.as_str());
    // The id first, so the run can be found (`status`, `stop`, `trip`) while it is going.
    eprintln!(
        "Run {id} of {} started: `faultdrill status {id}` shows it, `faultdrill stop {id}` (or Ctrl-C) stops it and rolls back.",
        plan.name,
        id = options.run_id
    );
    let (run, control) = engine::new_run(plan, targets, options, Box::new(StderrProgress::new()));
    // A run killed before it finishes leaves this stub for `report` and `runs` to show.
    engine::sweep_stale_control_sockets(state_dir);
    let mut stub = run.report().clone();
    stub.reason = Some(UNFINISHED.into());
    report::write_report(state_dir, &stub)?;
    // `faultdrill trip RUN GUARDRAIL` reaches this run through its control socket.
    let _socket = engine::serve_control_socket(socket.clone(), control)
        .with_context(|| format!("open the control socket {}", socket.display()))?;
    let report = run.execute().await;
    let path = report::write_report(state_dir, &report)?;
    prune_history(&journal, state_dir, &args.retention.retention());
    if let Some(dir) = &args.out {
        report::copy_report(dir, &report)?;
        let html = dir.join("report.html");
        std::fs::write(&html, report::to_html(&report)).with_context(|| format!("write {}", html.display()))?;
    }
    if let Some(file) = &args.junit {
        std::fs::write(file, report::to_junit(&report))
            .with_context(|| format!("write the JUnit report {}", file.display()))?;
    }
    print_result(&report, &path, args.json)?;
    Ok(report.exit_code.unwrap_or(exit::ERROR))
}

/// The reason a report stub gives until its run finishes.
pub(super) const UNFINISHED: &str = "unfinished: its controller is still running it, or was killed \
     (then `faultdrill recover --all` rolls back what it left)";

/// Results go to stdout: the report as JSON, or a short summary.
pub(super) fn print_result(report: &Report, path: &Path, json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
        return Ok(());
    }
    let outcome = report.outcome.map_or("unknown", |o| o.as_str());
    writeln!(
        stdout,
        "run {} of {}: {outcome} (exit {})",
        report.run_id,
        report.experiment,
        report.exit_code.unwrap_or(exit::ERROR)
    )?;
    if let Some(reason) = &report.reason {
        writeln!(stdout, "  {reason}")?;
    }
    for entry in &report.timeline {
        if let crate::report::Event::FaultEnded { action, host, ended_ms, why, .. } = &entry.event {
            let at = crate::report::format_ms(*ended_ms);
            writeln!(stdout, "  fault NOT HELD: {} on {host} ended at {at}: {why}", action.label)?;
        }
    }
    // One line per injection still in place, however many attempts it took.
    for r in report.failed_rollbacks() {
        writeln!(stdout, "  rollback FAILED: {} {} on {}: {}", r.fault, r.injection, r.host, r.detail)?;
    }
    writeln!(stdout, "  report: {}", path.display())?;
    Ok(())
}

/// `--expect-outcome`, when given (clap has checked the word).
pub(super) fn expected_outcome(args: &RunArgs) -> Option<ExpectedOutcome> {
    args.expect_outcome.as_deref().and_then(ExpectedOutcome::from_word)
}

/// Applies `--expect-outcome` to a report made elsewhere (a run on a daemon): the same
/// exit code and reason a local run would have.
pub(super) fn apply_expected_outcome(report: &mut Report, expected: ExpectedOutcome) {
    let Some(outcome) = report.outcome else { return };
    let (code, met, note) = engine::outcome_expectation(outcome, Some(expected));
    report.exit_code = Some(code);
    report.expectation = met;
    if let Some(note) = note {
        report.reason = Some(report.reason.take().map_or_else(|| note.clone(), |r| format!("{r}; {note}")));
    }
}

/// `--set k=v` pairs.
fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, InvalidInput> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(InvalidInput(format!("parse --set {s:?}: expected NAME=VALUE"))),
        })
        .collect()
}

/// Prunes what the retention no longer keeps once a local run is done; a failure is
/// logged, never fatal to the run's outcome.
fn prune_history(journal: &Journal, state_dir: &Path, retention: &crate::journal::Retention) {
    if let Err(e) = journal.prune(retention) {
        tracing::warn!(error = %engine::error_chain(&e), "Could not prune the journal.");
    }
    report::prune_reports(state_dir, retention);
}
