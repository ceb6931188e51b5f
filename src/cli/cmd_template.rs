//! `faultdrill template`: list, show and render the built-in drill templates.

use std::io::Write;
use std::path::Path;

use crate::exit;
use crate::experiment::{BuiltinTemplate, parse_sets, render_str, template, templates};

use super::InvalidInput;
use super::args::TemplateCommand;

pub fn run(args: TemplateCommand, state_dir: &Path) -> anyhow::Result<u8> {
    let _ = state_dir;
    let mut stdout = std::io::stdout().lock();
    match args {
        TemplateCommand::List => {
            let width = templates().iter().map(|t| t.name.len()).max().unwrap_or(0);
            for t in templates() {
                writeln!(stdout, "{:width$}  {}", t.name, t.description())?;
            }
            Ok(exit::PASSED)
        }
        TemplateCommand::Show { name } => {
            stdout.write_all(find(&name)?.source.as_bytes())?;
            Ok(exit::PASSED)
        }
        TemplateCommand::Render { name, set } => {
            let t = find(&name)?;
            let sets = parse_sets(&set).map_err(InvalidInput)?;
            match render_str(&t.origin(), t.source, &sets, crate::fault::catalog()) {
                Ok(text) => {
                    stdout.write_all(text.as_bytes())?;
                    Ok(exit::PASSED)
                }
                Err(diagnostics) => {
                    eprintln!("{diagnostics}\n");
                    eprintln!("error: could not render template `{name}`");
                    Ok(exit::INVALID_INPUT)
                }
            }
        }
    }
}

pub(super) fn find(name: &str) -> Result<&'static BuiltinTemplate, InvalidInput> {
    template(name).ok_or_else(|| {
        let names: Vec<&str> = templates().iter().map(|t| t.name).collect();
        InvalidInput(format!("no template named `{name}`; built-in templates: {}", names.join(", ")))
    })
}
