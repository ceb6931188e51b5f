//! `faultdrill report`: write a run's report as HTML, JUnit or JSON.

use std::path::Path;

use super::args::ReportArgs;

pub fn run(args: ReportArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
