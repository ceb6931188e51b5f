//! `faultdrill recover`: roll back what the journal holds as active.

use std::path::Path;

use super::args::RecoverArgs;

pub fn run(args: RecoverArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
