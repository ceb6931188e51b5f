//! `faultdrill daemon`: serve the v1 API on this host.

use std::path::Path;

use super::args::DaemonArgs;

pub fn run(args: DaemonArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
