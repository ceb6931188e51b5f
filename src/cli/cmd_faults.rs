//! `faultdrill faults`: list the fault library.

use std::io::Write;
use std::path::Path;

use crate::fault::{FaultInfo, all_faults};

use super::args::FaultsArgs;

pub fn run(args: FaultsArgs, _state_dir: &Path) -> anyhow::Result<u8> {
    let infos: Vec<&FaultInfo> = all_faults().iter().map(|f| f.info()).collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &to_json(&infos))?;
        writeln!(out)?;
    } else {
        out.write_all(to_text(&infos).as_bytes())?;
    }
    out.flush()?;
    Ok(crate::exit::PASSED)
}

fn to_json(infos: &[&FaultInfo]) -> serde_json::Value {
    let faults: Vec<serde_json::Value> = infos
        .iter()
        .map(|info| {
            let params: Vec<serde_json::Value> = info
                .params
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.name,
                        "kind": p.kind.describe(),
                        "default": p.default,
                        "required": p.required,
                        "doc": p.doc,
                    })
                })
                .collect();
            serde_json::json!({
                "name": info.name,
                "summary": info.summary,
                "held": info.is_held,
                "params": params,
            })
        })
        .collect();
    serde_json::json!({ "faults": faults })
}

fn to_text(infos: &[&FaultInfo]) -> String {
    let mut text = String::new();
    for info in infos {
        let held = if info.is_held { "held for a duration, then rolled back" } else { "instantaneous" };
        text.push_str(&format!("{}\n  {} ({held})\n", info.name, info.summary));
        let rows: Vec<[String; 3]> = info
            .params
            .iter()
            .map(|p| {
                let default = match (p.default, p.required) {
                    (Some(d), _) => format!("default {d}"),
                    (None, true) => "required".to_string(),
                    (None, false) => "optional".to_string(),
                };
                [p.name.to_string(), p.kind.describe(), default]
            })
            .collect();
        let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for (row, p) in rows.iter().zip(info.params) {
            text.push_str(&format!("    {:w0$}  {:w1$}  {:w2$}  {}\n", row[0], row[1], row[2], p.doc));
        }
        text.push('\n');
    }
    text
}
