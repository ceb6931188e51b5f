//! Writing reports: `<state-dir>/runs/<run-id>/report.json`, and copies elsewhere.
//!
//! Reports are written to a temporary file and renamed, so a reader never sees half a report.

use std::path::{Path, PathBuf};

use crate::ids::RunId;

use super::model::Report;

/// Why a report could not be written or read. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("write the report {path}; check that the directory is writable")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read the report {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse the report {path}: it is not a faultdrill report.json")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Where the report of `run` lives under `state_dir`.
pub fn report_path(state_dir: &Path, run: &RunId) -> PathBuf {
    state_dir.join("runs").join(run.as_str()).join("report.json")
}

/// Writes `report` to `<state_dir>/runs/<run-id>/report.json` and returns that path.
pub fn write_report(state_dir: &Path, report: &Report) -> Result<PathBuf, ReportError> {
    let path = report_path(state_dir, &report.run_id);
    write_atomically(&path, report)?;
    Ok(path)
}

/// Copies `report` into `dir` as `report.json` (for `--out DIR`) and returns the path.
pub fn copy_report(dir: &Path, report: &Report) -> Result<PathBuf, ReportError> {
    let path = dir.join("report.json");
    write_atomically(&path, report)?;
    Ok(path)
}

/// Reads a report back.
pub fn read_report(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Parse { path: path.into(), source })
}

fn write_atomically(path: &Path, report: &Report) -> Result<(), ReportError> {
    let fail = |source| ReportError::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut text = serde_json::to_string_pretty(report).map_err(|e| fail(std::io::Error::other(e)))?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
