//! `faultdrill recover --sweep`: roll back what faultdrill owns on this host without
//! reading the journal (lost or damaged), and say what was found and done.

use std::io::Write;
use std::path::Path;

use crate::engine::sweep::{self, SweepScope, Swept};
use crate::fault::{UndoOutcome, VERDICT_NOT_VERIFIED, VERDICT_UNCHECKED, VERDICT_VERIFIED};

use super::args::RecoverArgs;

pub fn run(args: RecoverArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let mut netns = args.netns.clone();
    if args.all_netns {
        for name in crate::platform::linux::netns::all_named() {
            if !netns.contains(&name) {
                netns.push(name);
            }
        }
    }
    let scope = SweepScope { state_dir: state_dir.to_path_buf(), netns, fill_dirs: args.fill_dirs.clone() };
    let (found, problems) = sweep::find(&scope);
    for problem in &problems {
        eprintln!("Sweep: {problem}");
    }
    let mut out = std::io::stdout().lock();
    if found.is_empty() {
        eprintln!("Sweep: nothing of faultdrill's found on this host.");
    }
    if args.dry_run {
        for f in &found {
            writeln!(out, "found {}: would roll back (dry run)", f.what)?;
        }
        out.flush()?;
        return Ok(crate::exit::PASSED);
    }
    let swept: Vec<Swept> = found.into_iter().map(sweep::undo).collect();
    for s in &swept {
        match &s.outcome {
            Ok(UndoOutcome::Undone) => writeln!(out, "found {}: {VERDICT_VERIFIED}", s.found.what)?,
            Ok(UndoOutcome::AlreadyGone) => {
                writeln!(out, "found {}: {VERDICT_VERIFIED} (it was already gone)", s.found.what)?
            }
            Ok(UndoOutcome::UndoneUnchecked) => writeln!(out, "found {}: {VERDICT_UNCHECKED}", s.found.what)?,
            Err(e) if e.starts_with(VERDICT_NOT_VERIFIED) => writeln!(out, "found {}: {e}", s.found.what)?,
            Err(e) => writeln!(out, "found {}: ROLLBACK FAILED: {e}", s.found.what)?,
        }
    }
    out.flush()?;
    eprintln!(
        "Sweep: a paused process or a fill file whose sidecar is lost cannot be found; \
         look for stopped processes (`ps -eo pid,stat,comm | awk '$2 ~ /T/'`) and fill files \
         (`find / -xdev -name 'faultdrill-fill-*'`) by hand."
    );
    note_live_journal(state_dir);
    let ok = swept.iter().all(Swept::is_ok) && problems.is_empty();
    Ok(if ok { crate::exit::PASSED } else { crate::exit::ROLLBACK_FAILED })
}

/// A readable journal that still lists live injections is told about: the sweep does not
/// touch it, and `recover --all` closes those (each is found gone and verified).
fn note_live_journal(state_dir: &Path) {
    if !state_dir.join("journal.db").exists() {
        return;
    }
    let Ok(journal) = crate::journal::Journal::open(state_dir) else { return };
    let live = journal.live().map(|l| l.len()).unwrap_or(0);
    if live > 0 {
        eprintln!(
            "Sweep: the journal {} still lists {live} live injection(s); `faultdrill recover --all` closes them.",
            journal.path().display()
        );
    }
}
