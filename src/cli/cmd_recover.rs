//! `faultdrill recover`: roll back what the journal holds as pending or active,
//! from a fresh process, whatever state a crash left.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::engine::{LocalHost, RollbackResult};
use crate::fault::UndoOutcome;
use crate::ids::InjectionId;
use crate::journal::{InjectionState, Journal};

use super::args::RecoverArgs;
use super::edge::InvalidInput;

pub fn run(args: RecoverArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let journal = Arc::new(Journal::open(state_dir)?);
    let host = LocalHost::new(Arc::clone(&journal));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let results = match args.injection {
        Some(id) => {
            let id = InjectionId::from_string(id);
            let Some(record) = journal.get(&id)? else {
                return Err(InvalidInput(format!(
                    "no injection {id} in the journal {}; check --state-dir, or use `faultdrill recover --all`",
                    journal.path().display()
                ))
                .into());
            };
            if let Some(reason) = &args.mark_resolved {
                return mark_resolved(&journal, &record, reason);
            }
            if record.state == InjectionState::RolledBack {
                let note = record.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
                println!("{id} {}: nothing to do, already rolled back{note}", record.fault);
                return Ok(crate::exit::PASSED);
            }
            vec![runtime.block_on(host.rollback_record(record, "recovered by `faultdrill recover`"))]
        }
        None => runtime.block_on(host.recover_all("recovered by `faultdrill recover --all`"))?,
    };
    if results.is_empty() {
        eprintln!("Nothing to recover: the journal holds no pending, active or failed injection.");
        return Ok(crate::exit::PASSED);
    }
    print_results(&results)?;
    Ok(if results.iter().all(RollbackResult::is_ok) { crate::exit::PASSED } else { crate::exit::ROLLBACK_FAILED })
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
            Ok(UndoOutcome::Undone) => writeln!(out, "{} {}: rolled back", r.id, r.fault)?,
            Ok(UndoOutcome::AlreadyGone) => writeln!(out, "{} {}: rolled back (it was already gone)", r.id, r.fault)?,
            Err(e) => writeln!(out, "{} {}: ROLLBACK FAILED: {e}", r.id, r.fault)?,
        }
    }
    out.flush()
}
