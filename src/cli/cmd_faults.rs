//! `faultdrill faults`: list the fault library.

use std::path::Path;

use super::args::FaultsArgs;

pub fn run(args: FaultsArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
