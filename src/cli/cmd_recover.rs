//! `faultdrill recover`: roll back what the journal holds as pending or active, from a
//! fresh process, whatever state a crash left: local injections here, remote ones through
//! their daemons (all at once), then close the books of runs whose controller is gone.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::engine::{LocalHost, RemoteRecovery, RollbackResult, recover_one, recover_remote};
use crate::fault::{UndoOutcome, VERDICT_NOT_VERIFIED, VERDICT_UNCHECKED, VERDICT_VERIFIED};
use crate::ids::InjectionId;
use crate::journal::{InjectionState, Journal, JournalError};

use super::args::RecoverArgs;
use super::edge::InvalidInput;

const REASON_ONE: &str = "recovered by `faultdrill recover`";
const REASON_ALL: &str = "recovered by `faultdrill recover --all`";

pub fn run(args: RecoverArgs, state_dir: &Path) -> anyhow::Result<u8> {
    if args.sweep {
        return super::cmd_sweep::run(args, state_dir);
    }
    let journal = match Journal::open(state_dir) {
        Ok(journal) => Arc::new(journal),
        // Unreadable: nothing could be rolled back from it, and something may still be injected.
        Err(e @ JournalError::Damaged { .. }) => {
            eprintln!("error: {}", crate::errors::error_chain(&e));
            return Ok(crate::exit::ROLLBACK_FAILED);
        }
        Err(e) => return Err(e.into()),
    };
    let host = LocalHost::new(Arc::clone(&journal));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (local, remote) = match args.injection {
        Some(id) => {
            let id = InjectionId::from_string(id);
            if let Some(record) = journal.get(&id)? {
                if let Some(reason) = &args.mark_resolved {
                    return mark_resolved(&journal, &record, reason);
                }
                if record.state == InjectionState::RolledBack {
                    let note = record.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
                    println!("{id} {}: nothing to do, already rolled back{note}", record.fault);
                    return Ok(crate::exit::PASSED);
                }
                (vec![runtime.block_on(host.rollback_record(record, REASON_ONE))], Vec::new())
            } else if let Some(record) = journal.remote_by_injection(&id)? {
                (Vec::new(), runtime.block_on(recover_one(&journal, record, REASON_ONE)))
            } else {
                return Err(InvalidInput(format!(
                    "no injection {id} in the journal {}; check --state-dir, or use `faultdrill recover --all`",
                    journal.path().display()
                ))
                .into());
            }
        }
        None => runtime.block_on(async {
            let (local, remote) = tokio::join!(host.recover_all(REASON_ALL), recover_remote(&journal, REASON_ALL));
            Ok::<_, anyhow::Error>((local?, remote?))
        })?,
    };
    let closed = super::abandoned::close_abandoned_runs(state_dir, &journal, &local, &remote);
    if local.is_empty() && remote.is_empty() {
        let unknown = sidecars_the_journal_does_not_know(state_dir, &journal);
        if !unknown.is_empty() {
            eprintln!(
                "The journal {} knows of no live injection, but the state dir holds sidecars of {} injection(s) \
                 it has never heard of ({}): the journal was lost or replaced, and their faults may still be in \
                 place. Run `faultdrill recover --sweep` (with --dry-run to look first) to roll back what \
                 faultdrill owns on this host without the journal.",
                journal.path().display(),
                unknown.len(),
                unknown.join(", ")
            );
            return Ok(crate::exit::ROLLBACK_FAILED);
        }
        eprintln!("Nothing to recover: the journal holds no pending, active or failed injection, local or remote.");
    } else {
        print_results(&local)?;
        print_remote(&remote)?;
    }
    for run in closed {
        eprintln!("Run {run}: its controller is gone; its report now says what was recovered.");
    }
    let ok = local.iter().all(RollbackResult::is_ok) && remote.iter().all(RemoteRecovery::is_ok);
    Ok(if ok { crate::exit::PASSED } else { crate::exit::ROLLBACK_FAILED })
}

/// The sidecar files (paused processes, fill files) of injections the journal has no record of.
fn sidecars_the_journal_does_not_know(state_dir: &Path, journal: &Journal) -> Vec<String> {
    crate::engine::sidecar::all_files(state_dir)
        .into_iter()
        .filter(|(id, _)| matches!(journal.get(id), Ok(None)))
        .map(|(_, path)| path.display().to_string())
        .collect()
}

/// An operator's word that a fault whose rollback failed is gone: the daemon's reaper,
/// `recover` and a restart stop retrying it.
fn mark_resolved(journal: &Journal, record: &crate::journal::InjectionRecord, reason: &str) -> anyhow::Result<u8> {
    if record.state != InjectionState::Failed {
        return Err(InvalidInput(format!(
            "{} is {:?}, not failed: only a failed rollback can be marked resolved; roll it back with `faultdrill recover {}`",
            record.id, record.state, record.id
        ))
        .into());
    }
    let note = format!("marked resolved by an operator (not verified by faultdrill): {}", reason.trim());
    journal.set_state(&record.id, InjectionState::RolledBack, Some(&note))?;
    println!("{} {}: {note}", record.id, record.fault);
    Ok(crate::exit::PASSED)
}

/// One line per rollback on stdout: id, fault, and what the undo found.
pub fn print_results(results: &[RollbackResult]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for r in results {
        match &r.outcome {
            Ok(UndoOutcome::Undone) => writeln!(out, "{} {}: {VERDICT_VERIFIED}", r.id, r.fault)?,
            Ok(UndoOutcome::AlreadyGone) => {
                writeln!(out, "{} {}: {VERDICT_VERIFIED} (it was already gone)", r.id, r.fault)?
            }
            Ok(UndoOutcome::UndoneUnchecked) => writeln!(out, "{} {}: {VERDICT_UNCHECKED}", r.id, r.fault)?,
            // The undo ran, but the fault is still (partly) there: said as it is.
            Err(e) if e.starts_with(VERDICT_NOT_VERIFIED) => writeln!(out, "{} {}: {e}", r.id, r.fault)?,
            Err(e) => writeln!(out, "{} {}: ROLLBACK FAILED: {e}", r.id, r.fault)?,
        }
    }
    out.flush()
}

/// One line per remote injection on stdout, then which daemons were reached on stderr.
fn print_remote(results: &[RemoteRecovery]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for r in results {
        let id = r.injection.as_ref().map_or("(id never received)", |i| i.as_str());
        let on = format!("{id} {} on {} ({})", r.fault, r.host, r.url);
        match &r.outcome {
            Ok(UndoOutcome::Undone) => writeln!(out, "{on}: {VERDICT_VERIFIED}")?,
            Ok(UndoOutcome::AlreadyGone) => writeln!(out, "{on}: {VERDICT_VERIFIED} (it was already gone)")?,
            Ok(UndoOutcome::UndoneUnchecked) => writeln!(out, "{on}: {VERDICT_UNCHECKED}")?,
            Err(e) if !r.reached => writeln!(out, "{on}: NOT REACHED: {e}")?,
            Err(e) if e.contains(VERDICT_NOT_VERIFIED) => writeln!(out, "{on}: {e}")?,
            Err(e) => writeln!(out, "{on}: ROLLBACK FAILED: {e}")?,
        }
    }
    out.flush()?;
    let mut daemons: Vec<(&str, &str, bool)> =
        results.iter().map(|r| (r.host.as_str(), r.url.as_str(), r.reached)).collect();
    daemons.sort();
    daemons.dedup();
    let missed: Vec<String> = daemons.iter().filter(|d| !d.2).map(|(host, url, _)| format!("{host} ({url})")).collect();
    if !daemons.is_empty() {
        let reached = daemons.len() - missed.len();
        eprintln!("Reached {reached} of {} daemon(s).", daemons.len());
    }
    if !missed.is_empty() {
        eprintln!(
            "Could not reach: {}. A daemon that hears nothing from its controller rolls the fault back by itself \
             once the injection's lease runs out; run `faultdrill recover --all` again to confirm.",
            missed.join(", ")
        );
    }
    Ok(())
}
