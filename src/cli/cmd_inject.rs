//! `faultdrill inject`: one fault, held for a duration, then rolled back.

use std::path::Path;

use super::args::InjectArgs;

pub fn run(args: InjectArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
