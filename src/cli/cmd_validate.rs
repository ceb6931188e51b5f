//! `faultdrill validate`: check experiment files, every problem of every file at once.

use std::io::Write;
use std::path::Path;

use crate::exit;
use crate::experiment::{load_file, parse_sets};

use super::InvalidInput;
use super::args::ValidateArgs;

/// Checks each file; prints all problems on stderr (exit 64) or one `ok:` line per file.
pub fn run(args: ValidateArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = state_dir;
    let catalog = crate::fault::catalog();
    let sets = parse_sets(&args.set).map_err(InvalidInput)?;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut failed = 0usize;
    let mut problems = 0usize;
    for file in &args.files {
        match load_file(file, &sets, catalog) {
            Ok(plan) => {
                let actions: usize = plan.groups.iter().map(|g| g.actions.len()).sum();
                let groups = plan.groups.len();
                writeln!(
                    stdout,
                    "ok: {} ({groups} group{}, {actions} action{})",
                    file.display(),
                    plural(groups),
                    plural(actions)
                )?;
            }
            Err(diagnostics) => {
                failed += 1;
                problems += diagnostics.len();
                writeln!(stderr, "{diagnostics}\n")?;
            }
        }
    }
    if failed == 0 {
        return Ok(exit::PASSED);
    }
    writeln!(stderr, "error: {problems} problem{} in {failed} file{}", plural(problems), plural(failed))?;
    Ok(exit::INVALID_INPUT)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
