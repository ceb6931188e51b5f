//! `faultdrill trip`: trip a guardrail of a running run.

use std::path::Path;

use super::args::TripArgs;

pub fn run(args: TripArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
