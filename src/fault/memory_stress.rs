//! memory-stress: allocate and touch memory (at once, or growing at a `rate`) in a helper
//! process that exits by itself at the deadline and is stopped on rollback (the kernel
//! frees it all).

use std::time::Duration;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::load_mode::LoadMode;
use super::text::{human_bytes, unix_ms, when};
use super::undo::Undo;
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::{helpers, meminfo};

/// The memory-stress fault.
pub struct MemoryStress;

static INFO: FaultInfo = FaultInfo {
    name: "memory-stress",
    summary: "Allocate and touch memory, held by a helper process until rollback",
    params: &[
        ParamSpec {
            name: "size",
            kind: ParamKind::Bytes,
            default: None,
            required: false,
            doc: "how much memory, e.g. 512MiB (give size or percent)",
        },
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 1.0, max: 95.0 },
            default: None,
            required: false,
            doc: "how much memory, as a percentage of the host's total (give size or percent)",
        },
        ParamSpec {
            name: "mode",
            kind: ParamKind::Choice(LoadMode::WORDS),
            default: Some("add"),
            required: false,
            doc: "add: allocate that much more; total: allocate what it takes for the host's use to reach it",
        },
        ParamSpec {
            name: "rate",
            kind: ParamKind::ByteRate,
            default: None,
            required: false,
            doc: "take the memory at this rate, e.g. 50MiB/s, so a guardrail can stop it at its threshold; \
                  absent: all at once",
        },
    ],
    is_held: true,
};

/// Memory always left available, whatever is asked: max(256 MiB, 5 % of the host).
fn reserve(total: u64) -> u64 {
    (256 << 20).max(total / 20)
}

/// How much memory: exactly one of `size` or `percent` (both optional in the declaration).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Amount {
    Size(u64),
    Percent(f64),
}

/// memory-stress's parameters, typed by the declaration above (the loader applied its defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
struct MemoryStressParams {
    amount: Amount,
    mode: LoadMode,
    /// Bytes per second, or at once.
    rate: Option<u64>,
}

impl TryFrom<&Params> for MemoryStressParams {
    type Error = String;

    fn try_from(p: &Params) -> Result<Self, String> {
        let amount = match (p.get::<Option<u64>>("size")?, p.get::<Option<f64>>("percent")?) {
            (Some(size), None) => Amount::Size(size),
            (None, Some(percent)) => Amount::Percent(percent),
            _ => return Err("give exactly one of `size` or `percent`".into()),
        };
        Ok(MemoryStressParams { amount, mode: p.get("mode")?, rate: p.get("rate")? })
    }
}

impl Fault for MemoryStress {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        MemoryStressParams::try_from(params).map(drop)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let MemoryStressParams { amount, mode, rate } = params.try_into().map_err(FaultError::Refused)?;
        let mem = meminfo::meminfo().map_err(|e| FaultError::io("read /proc/meminfo", e))?;
        let wanted = match amount {
            Amount::Size(size) => size,
            Amount::Percent(percent) => (percent / 100.0 * mem.total as f64) as u64,
        };
        let bytes = if mode == LoadMode::Total { wanted.saturating_sub(mem.used()) } else { wanted };
        if bytes == 0 {
            return Err(FaultError::NoTarget(format!(
                "stress memory: the host already uses {}, at or above the requested {}; nothing to allocate",
                human_bytes(mem.used()),
                human_bytes(wanted)
            )));
        }
        let allowed = mem.available.saturating_sub(reserve(mem.total));
        if bytes > allowed {
            return Err(FaultError::Refused(format!(
                "allocating {} would leave less than {} available ({} is available now); ask for at most {}",
                human_bytes(bytes),
                human_bytes(reserve(mem.total)),
                human_bytes(mem.available),
                human_bytes(allowed)
            )));
        }
        let mut args = vec![
            "helper".to_string(),
            "hold-memory".into(),
            "--injection".into(),
            cx.injection.to_string(),
            "--deadline-ms".into(),
            unix_ms(cx.deadline).to_string(),
            "--bytes".into(),
            bytes.to_string(),
        ];
        let pace = match rate {
            Some(rate) => {
                args.extend(["--rate".into(), rate.to_string()]);
                format!(" at {}/s (about {:.1} s)", human_bytes(rate), bytes as f64 / rate as f64)
            }
            None => String::new(),
        };
        let preview = vec![format!(
            "start `{} {}`: allocate and touch {}{pace} (host use {} -> about {} of {}), until {} \
             (it exits by itself then; rollback kills it)",
            cx.exe.display(),
            args.join(" "),
            human_bytes(bytes),
            human_bytes(mem.used()),
            human_bytes(mem.used() + bytes),
            human_bytes(mem.total),
            when(cx.deadline)
        )];
        let exe = cx.exe.clone();
        let apply = move || {
            // Touching pages runs at a few GiB/s; leave room for a slow, busy host.
            // With a rate it reports ready before touching anything.
            let touch_time = Duration::from_secs(if rate.is_some() { 10 } else { 10 + bytes / (100 << 20) });
            helpers::spawn_helper(&exe, &args, touch_time)
                .map(|helper| Applied::by_helpers([Some(helper)]))
                .map_err(|e| FaultError::Apply { context: e.to_string(), source: None })
        };
        Ok(Prepared { undo: Undo::stop_helpers(&cx.injection), preview, apply: Box::new(apply) })
    }
}
