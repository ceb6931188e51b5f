//! `faultdrill validate`: check experiment files, every problem at once.

use std::path::Path;

use super::args::ValidateArgs;

pub fn run(args: ValidateArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
