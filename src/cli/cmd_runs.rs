//! `faultdrill runs` without `--daemon`: this machine's runs from its journal, newest first;
//! a run whose controller is gone without finishing it shows as abandoned (its stale
//! control socket is removed), with the command that cleans up after it.

use std::io::Write;
use std::path::Path;

use crate::journal::Journal;

use super::abandoned::{ABANDONED, is_abandoned};
use super::cmd_remote::run_line;

/// How many runs are listed.
const SHOWN: usize = 50;

pub fn run(state_dir: &Path) -> anyhow::Result<u8> {
    let journal = Journal::open(state_dir)?;
    let mut out = std::io::stdout().lock();
    let runs = journal.runs(SHOWN)?;
    if runs.is_empty() {
        writeln!(out, "no runs in {}", journal.path().display())?;
    }
    let mut abandoned = 0;
    for mut run in runs {
        if is_abandoned(state_dir, &run.id, &run.state) {
            run.state = ABANDONED.into();
            abandoned += 1;
        }
        writeln!(out, "{}", run_line(&run))?;
    }
    if abandoned > 0 {
        eprintln!(
            "{abandoned} run(s) abandoned by a controller that is gone: `faultdrill recover --all` rolls back \
             what they left and completes their reports (`faultdrill report RUN`)."
        );
    }
    Ok(crate::exit::PASSED)
}
