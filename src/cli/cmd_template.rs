//! `faultdrill template`: list, show and render drill templates.

use std::path::Path;

use super::args::TemplateCommand;

pub fn run(args: TemplateCommand, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = (args, state_dir);
    anyhow::bail!("this command is not built yet")
}
