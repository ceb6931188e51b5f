//! `faultdrill report`: write a run's report as HTML, JUnit or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ids::RunId;
use crate::report::{read_report, report_path, to_html, to_junit};

use super::args::ReportArgs;
use super::edge::InvalidInput;

/// `RUN` is a run id (looked up in the state dir) or a path to a report.json.
pub fn run(args: ReportArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let as_path = PathBuf::from(&args.run);
    let path = if as_path.is_file() { as_path } else { report_path(state_dir, &RunId::from_string(&args.run)) };
    if !path.is_file() {
        return Err(InvalidInput(format!(
            "no report for run `{}` (looked for {}); pass a run id from `faultdrill runs` or a report.json path",
            args.run,
            path.display()
        ))
        .into());
    }
    let report = read_report(&path)?;
    let text = match args.format.as_str() {
        "html" => to_html(&report),
        "junit" => to_junit(&report),
        _ => serde_json::to_string_pretty(&report)? + "\n",
    };
    match &args.output {
        Some(out) => std::fs::write(out, text).with_context(|| format!("failed to write {}", out.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(crate::exit::PASSED)
}
