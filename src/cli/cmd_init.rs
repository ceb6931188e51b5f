//! `faultdrill init [FILE] [--template NAME]`: write a commented starter experiment that
//! validates as it is, or a built-in drill template rendered with its defaults and `--set`.

use anyhow::Context;

use crate::exit;
use crate::experiment::{load_str, parse_sets, render_str};

use super::InvalidInput;
use super::args::InitArgs;

/// The starter written without `--template`.
const STARTER: &str = include_str!("init_starter.yaml");

pub fn run(args: InitArgs) -> anyhow::Result<u8> {
    if args.file.exists() && !args.force {
        return Err(InvalidInput(format!(
            "{} already exists; pass --force to overwrite it, or give another FILE",
            args.file.display()
        ))
        .into());
    }
    let origin = args.file.display().to_string();
    let text = match &args.template {
        None => STARTER.to_string(),
        Some(name) => {
            let t = super::cmd_template::find(name)?;
            let sets = parse_sets(&args.set).map_err(InvalidInput)?;
            match render_str(&t.origin(), t.source, &sets, crate::fault::catalog()) {
                Ok(text) => with_header(&text, name, &args.set),
                Err(diagnostics) => {
                    eprintln!("{diagnostics}\n");
                    eprintln!("error: could not render template `{name}`; give its required parameters with --set");
                    return Ok(exit::INVALID_INPUT);
                }
            }
        }
    };
    // What is written must validate as it is: check it the way `validate` will.
    if let Err(diagnostics) = load_str(&origin, &text, &[], crate::fault::catalog()) {
        anyhow::bail!("the starter does not validate (a faultdrill bug, please report it):\n{diagnostics}");
    }
    std::fs::write(&args.file, &text).with_context(|| format!("write {}", args.file.display()))?;
    let file = args.file.display();
    println!("wrote {file}");
    println!("  check it:   faultdrill validate {file}");
    println!("  preview it: faultdrill run {file} --dry-run");
    println!("  run it:     faultdrill run {file}");
    Ok(exit::PASSED)
}

/// The rendered template, its schema modeline dropped (it points into this repository) and
/// a first comment saying where it came from.
fn with_header(rendered: &str, name: &str, sets: &[String]) -> String {
    let body: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.starts_with("# yaml-language-server:"))
        .skip_while(|l| l.trim() == "#")
        .collect();
    let body = body.join("\n");
    let sets: String = sets.iter().map(|s| format!(" --set {s}")).collect();
    let mut out = format!(
        "# Written by `faultdrill init --template {name}{sets}`: the built-in drill template rendered with\n\
         # these values and its defaults. Edit it freely; `faultdrill template show {name}` shows the original.\n"
    );
    out.push_str(&body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_validates_as_it_is() {
        let plan = load_str("experiment.yaml", STARTER, &[], crate::fault::catalog());
        assert!(plan.is_ok(), "{}", plan.err().map(|d| d.to_string()).unwrap_or_default());
    }

    #[test]
    fn a_rendered_template_gets_a_header_instead_of_the_modeline() {
        let text = with_header("# yaml-language-server: $schema=x\n#\n# About.\nversion: 1\n", "t", &["a=1".into()]);
        assert!(text.starts_with("# Written by `faultdrill init --template t --set a=1`"), "{text}");
        assert!(!text.contains("yaml-language-server"));
        assert!(text.contains("original.\n# About.\nversion: 1\n"), "{text}");
        let plain = with_header("# About.\nversion: 1\n", "t", &[]);
        assert!(plain.contains("original.\n# About.\n"), "{plain}");
    }
}
