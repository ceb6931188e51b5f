//! Hidden helper processes that hold faults (CPU burners, memory holders).
//!
//! Each is tagged with its injection id on its command line (that is how a
//! rollback finds it), prints `ready` once its fault is in place, and exits by
//! itself at its deadline; an `alarm(2)` backstop ends it a little later even
//! if its own loop were stuck.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::fault::Undo;

use crate::platform::linux::burner::{self, BurnMode, BurnPlan};
use crate::platform::linux::files::FILE_PREFIX;
use crate::platform::linux::{fillgrow, helpers, memhold};

use super::args::HelperCommand;
use super::edge::InvalidInput;
use crate::fault::LoadMode;

pub fn run(args: HelperCommand, _state_dir: &Path) -> anyhow::Result<u8> {
    match args {
        // The injection id is only a tag on the command line: rollbacks find helpers by it.
        HelperCommand::BurnCpu { injection: _, deadline_ms, percent, cores, mode } => {
            let mode = match LoadMode::from_word(&mode) {
                Some(LoadMode::Add) => BurnMode::Add,
                Some(LoadMode::Total) => BurnMode::Total,
                None => {
                    let words = LoadMode::WORDS.join(" or ");
                    return Err(InvalidInput(format!("unknown burn mode `{mode}`; use {words}")).into());
                }
            };
            if !(percent > 0.0 && percent <= 100.0) || cores == 0 {
                return Err(InvalidInput(format!("burn {percent} % on {cores} cores: out of range")).into());
            }
            let Some(left) = helpers::become_helper(deadline_ms, Duration::ZERO) else {
                return Ok(crate::exit::PASSED);
            };
            let plan = BurnPlan { percent, threads: cores, mode, until: Instant::now() + left };
            burner::burn(plan, helpers::report_ready);
            Ok(crate::exit::PASSED)
        }
        HelperCommand::HoldMemory { injection: _, deadline_ms, bytes, rate } => {
            if rate == Some(0) {
                return Err(InvalidInput("hold memory at 0 B/s: the rate must be at least 1".into()).into());
            }
            let Some(left) = helpers::become_helper(deadline_ms, Duration::ZERO) else {
                return Ok(crate::exit::PASSED);
            };
            helpers::prefer_oom_kill();
            memhold::hold(bytes, rate, Instant::now() + left, helpers::report_ready).map_err(anyhow::Error::msg)?;
            Ok(crate::exit::PASSED)
        }
        HelperCommand::GrowFile { injection: _, deadline_ms, path, bytes, rate } => {
            if rate == 0 || !fill_name_is_ours(&path) {
                return Err(
                    InvalidInput(format!("grow {} at {rate} B/s: not a faultdrill fill", path.display())).into()
                );
            }
            let Some(left) = helpers::become_helper(deadline_ms, Duration::ZERO) else {
                return Ok(crate::exit::PASSED);
            };
            let growth = fillgrow::Growth { bytes, rate, until: Instant::now() + left };
            fillgrow::grow(&path, growth, helpers::report_ready)
                .map_err(|e| anyhow::anyhow!("grow {}: {e}", path.display()))?;
            Ok(crate::exit::PASSED)
        }
        HelperCommand::Expire { injection: _, deadline_ms, undo } => {
            let undo: Undo =
                serde_json::from_str(&undo).map_err(|e| InvalidInput(format!("--undo is not an undo record: {e}")))?;
            // The undo itself gets a minute past the deadline before the alarm ends us.
            let left = helpers::become_helper(deadline_ms, Duration::from_secs(60)).unwrap_or_default();
            helpers::report_ready();
            std::thread::sleep(left);
            match undo.carry_out() {
                Ok(_) => Ok(crate::exit::PASSED),
                Err(_) => Ok(crate::exit::ROLLBACK_FAILED),
            }
        }
        HelperCommand::IoFault(args) => match crate::fault::run_io_helper(args) {
            Ok(()) => Ok(crate::exit::PASSED),
            Err(e) if e.is_invalid() => Err(InvalidInput(e.to_string()).into()),
            Err(e) => Err(e.into()),
        },
        HelperCommand::IoGuard(args) => match crate::fault::run_io_guard(args) {
            Ok(()) => Ok(crate::exit::PASSED),
            Err(e) if e.is_invalid() => Err(InvalidInput(e.to_string()).into()),
            Err(e) => Err(e.into()),
        },
        HelperCommand::Proxy(args) => {
            crate::fault::run_proxy(args)?;
            Ok(crate::exit::PASSED)
        }
        HelperCommand::Delay(args) => {
            crate::fault::run_delayer(args)?;
            Ok(crate::exit::PASSED)
        }
        HelperCommand::Dns(args) => {
            crate::fault::run_resolver(args)?;
            Ok(crate::exit::PASSED)
        }
    }
}

/// Whether `path` is named like a file faultdrill creates (the undo deletes no other).
fn fill_name_is_ours(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(FILE_PREFIX))
}
