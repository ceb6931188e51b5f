//! Hidden helper processes that hold faults (CPU burners, memory holders).

use std::path::Path;

use super::args::HelperCommand;

pub fn run(args: HelperCommand, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
