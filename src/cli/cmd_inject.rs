//! `faultdrill inject`: one fault, held for a duration, then rolled back.

use std::path::Path;

use super::args::InjectArgs;

pub fn run(args: InjectArgs, state_dir: &Path) -> anyhow::Result<u8> {
    if let Some(url) = args.daemon.clone() {
        return super::cmd_remote::inject(args, &url);
    }
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
