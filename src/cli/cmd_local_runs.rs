//! `faultdrill runs | status RUN | stop RUN` without `--daemon`: runs made on this host
//! (`faultdrill run` without `--daemon`), read from the state dir's journal and reports,
//! and stopped through the run's control socket.

use std::io::Write;
use std::path::Path;

use crate::engine::{ControlRequest, control_socket_path, send_control_request};
use crate::ids::RunId;
use crate::journal::Journal;
use crate::report::{read_report, report_path};

use super::edge::InvalidInput;

/// `faultdrill status RUN`: the finished run's outcome from its report, or the state the
/// journal holds for a run still going.
pub fn status(run: &str, state_dir: &Path) -> anyhow::Result<u8> {
    let id = RunId::from_string(run);
    let path = report_path(state_dir, &id);
    let mut out = std::io::stdout().lock();
    // A run writes a stub report when it starts: only a finished one's report says more
    // than the journal, which follows the run as it goes.
    let finished = if path.is_file() { Some(read_report(&path)?).filter(|r| r.outcome.is_some()) } else { None };
    if let Some(report) = finished {
        let outcome = match (report.outcome, report.exit_code) {
            (Some(o), Some(code)) => format!("{o} (exit {code})"),
            _ => "-".into(),
        };
        writeln!(out, "run {} of {}: {} {outcome}", report.run_id, report.experiment, report.state.as_str())?;
        if let Some(reason) = &report.reason {
            writeln!(out, "  {reason}")?;
        }
        writeln!(out, "  report: {} (`faultdrill report {} --format html` renders it)", path.display(), report.run_id)?;
        return Ok(crate::exit::PASSED);
    }
    let found = Journal::open(state_dir)?.runs(usize::MAX >> 1)?.into_iter().find(|r| r.id == id);
    match found {
        Some(record) => {
            writeln!(
                out,
                "run {} of {}: {} {}",
                record.id,
                record.name,
                record.state,
                record.outcome.as_deref().unwrap_or("-")
            )?;
            Ok(crate::exit::PASSED)
        }
        None => Err(InvalidInput(format!(
            "no run `{run}` in the state dir {}; `faultdrill runs` lists its runs (pass --state-dir for another, \
             or --daemon URL for a run on a daemon)",
            state_dir.display()
        ))
        .into()),
    }
}

/// `faultdrill stop RUN`: asks a run in another process to stop; it rolls back.
pub fn stop(run: &str, state_dir: &Path) -> anyhow::Result<u8> {
    let path = control_socket_path(state_dir, run);
    if !path.exists() {
        return Err(InvalidInput(format!(
            "stop run {run}: no run {run} is running with state dir {} (no {}); pass --state-dir, or --daemon URL \
             for a run on a daemon",
            state_dir.display(),
            path.display()
        ))
        .into());
    }
    let request = ControlRequest::Stop { reason: "stopped by `faultdrill stop`".to_string() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer = runtime
        .block_on(send_control_request(&path, &request))
        .map_err(|e| anyhow::anyhow!("reach run {run} through {}: {e}", path.display()))?;
    if answer.ok {
        writeln!(std::io::stdout().lock(), "run {run}: stopping; it rolls back everything it injected")?;
        Ok(crate::exit::PASSED)
    } else {
        Err(InvalidInput(answer.error.unwrap_or_else(|| "the run refused to stop".into())).into())
    }
}
