//! cpu-burn: load CPUs to a percentage, from a helper process that exits by
//! itself at the deadline and is stopped on rollback.

use std::time::Duration;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::load_mode::LoadMode;
use super::text::{unix_ms, when};
use super::undo::Undo;
use crate::experiment::{FromParam, ParamKind, ParamReadError, ParamSpec, ParamValue, Params};
use crate::platform::linux::helpers;

/// The cpu-burn fault.
pub struct CpuBurn;

static INFO: FaultInfo = FaultInfo {
    name: "cpu-burn",
    summary: "Load CPUs to a percentage: one burner thread per core, duty cycle in 100 ms slices",
    params: &[
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 1.0, max: 100.0 },
            default: Some("50"),
            required: false,
            doc: "load per burner thread (mode add) or of the whole host (mode total)",
        },
        ParamSpec {
            name: "cores",
            kind: ParamKind::Text,
            default: Some("all"),
            required: false,
            doc: "how many burner threads: a number, or `all` for every CPU faultdrill may use",
        },
        ParamSpec {
            name: "mode",
            kind: ParamKind::Choice(LoadMode::WORDS),
            default: Some("add"),
            required: false,
            doc: "add: each thread adds `percent` of a core; total: drive the host's CPU use (/proc/stat) to `percent`",
        },
    ],
    is_held: true,
};

/// cpu-burn's parameters, typed by the declaration above (the loader applied its defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuBurnParams {
    percent: f64,
    cores: Cores,
    mode: LoadMode,
}

impl TryFrom<&Params> for CpuBurnParams {
    type Error = ParamReadError;

    fn try_from(p: &Params) -> Result<Self, ParamReadError> {
        Ok(CpuBurnParams { percent: p.get("percent")?, cores: p.get("cores")?, mode: p.get("mode")? })
    }
}

/// Burner threads: a count, or every usable CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cores {
    All,
    Count(usize),
}

impl FromParam for Cores {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match String::from_param(value)?.as_str() {
            "all" => Ok(Cores::All),
            text => match text.parse::<usize>() {
                Ok(n) if (1..=4096).contains(&n) => Ok(Cores::Count(n)),
                _ => Err(format!("expected a number of cores (1..4096) or `all`, found `{text}`")),
            },
        }
    }
}

/// CPUs this process may use (affinity and cgroup quota respected).
fn usable_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl Fault for CpuBurn {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        CpuBurnParams::try_from(params).map(drop).map_err(|e| e.to_string())
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let CpuBurnParams { percent, cores, mode } = params.try_into()?;
        let usable = usable_cpus();
        let threads = match cores {
            Cores::All => usable,
            Cores::Count(n) if n <= usable => n,
            Cores::Count(n) => {
                return Err(FaultError::Unsupported(format!(
                    "burn {n} cores: faultdrill may use only {usable} CPU(s) here; ask for at most {usable}, or `all`"
                )));
            }
        };
        let args = vec![
            "helper".to_string(),
            "burn-cpu".into(),
            "--injection".into(),
            cx.injection.to_string(),
            "--deadline-ms".into(),
            unix_ms(cx.deadline).to_string(),
            "--percent".into(),
            percent.to_string(),
            "--cores".into(),
            threads.to_string(),
            "--mode".into(),
            mode.to_string(),
        ];
        let effect = if mode == LoadMode::Total {
            format!("driving this host's CPU use to {percent} % with up to {threads} thread(s)")
        } else {
            let host_share = percent * threads as f64 / usable as f64;
            format!(
                "{threads} thread(s) at {percent} % of a core each, about +{host_share:.0} % of this {usable}-CPU host"
            )
        };
        let preview = vec![format!(
            "start `{} {}`: {effect}, until {} (it exits by itself then; rollback kills it)",
            cx.exe.display(),
            args.join(" "),
            when(cx.deadline)
        )];
        let exe = cx.exe.clone();
        let apply = move || {
            helpers::spawn_helper(&exe, &args, Duration::from_secs(10))
                .map(|helper| Applied::by_helpers([Some(helper)]))
                .map_err(|e| FaultError::Apply { context: e.to_string(), source: None })
        };
        Ok(Prepared { undo: Undo::stop_helpers(&cx.injection), preview, apply: Box::new(apply) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::experiment::RawParams;

    fn typed(raw: serde_json::Value) -> Result<CpuBurnParams, String> {
        let raw: RawParams = serde_json::from_value(raw).unwrap();
        let checked = Params::check(INFO.params, &raw).map_err(|p| format!("{p:?}"))?;
        CpuBurnParams::try_from(&checked).map_err(|e| e.to_string())
    }

    #[test]
    fn the_declaration_alone_gives_the_defaults() {
        assert_eq!(typed(json!({})), Ok(CpuBurnParams { percent: 50.0, cores: Cores::All, mode: LoadMode::Add }));
        assert_eq!(
            typed(json!({"percent": "30%", "cores": 2, "mode": "total"})),
            Ok(CpuBurnParams { percent: 30.0, cores: Cores::Count(2), mode: LoadMode::Total })
        );
        assert_eq!(
            typed(json!({"cores": "lots"})),
            Err("parameter `cores`: expected a number of cores (1..4096) or `all`, found `lots`".into())
        );
    }
}
