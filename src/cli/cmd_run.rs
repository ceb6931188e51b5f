//! `faultdrill run`: run an experiment and report its outcome.

use std::path::Path;

use super::args::RunArgs;

pub fn run(args: RunArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
