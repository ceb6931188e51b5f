//! network-delay: netem on matching outgoing traffic only, or, where the kernel
//! lacks netem, the same delay in user space (see `net_delay_user`).
//!
//! The netem plan: a `prio` root qdisc under a faultdrill handle with four bands whose
//! priomap only ever feeds the first three, netem on the fourth, and u32
//! filters sending matching destinations and ports to it (spared traffic to the
//! normal best-effort band). Unmatched traffic never meets netem.

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::tc;

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::net_delay_user::{self, DelayShaping};
use super::net_params::{TC_TRAFFIC, joined};
use super::net_scope::{Scope, check_scope};
use super::net_tc::{self, DELAY_HANDLES, tc_time};

/// Delays (and optionally drops, corrupts, duplicates) matching packets.
pub struct NetworkDelay;

const PERCENT: ParamKind = ParamKind::Percent { min: 0.0, max: 100.0 };

static INFO: FaultInfo = FaultInfo {
    name: "network-delay",
    summary: "delay outgoing packets to some destinations and ports (tc prio + netem; without netem, a TUN device and a helper)",
    params: &joined::<12>(
        &[
            ParamSpec { name: "latency", kind: ParamKind::Duration, default: None, required: true, doc: "added delay" },
            ParamSpec {
                name: "jitter",
                kind: ParamKind::Duration,
                default: None,
                required: false,
                doc: "random variation of the delay",
            },
            ParamSpec {
                name: "correlation",
                kind: PERCENT,
                default: None,
                required: false,
                doc: "how much each delay depends on the previous one",
            },
            ParamSpec {
                name: "loss",
                kind: PERCENT,
                default: None,
                required: false,
                doc: "share of matching packets also dropped",
            },
            ParamSpec {
                name: "corrupt",
                kind: PERCENT,
                default: None,
                required: false,
                doc: "share of matching packets corrupted",
            },
            ParamSpec {
                name: "duplicate",
                kind: PERCENT,
                default: None,
                required: false,
                doc: "share of matching packets duplicated",
            },
        ],
        &TC_TRAFFIC,
    ),
    is_held: true,
};

/// The band netem sits on (class `H:4`); the priomap below never names band 3.
const NETEM_CLASS: u16 = 4;
/// The band best-effort traffic normally takes (priomap value 1, class `H:2`).
const SPARE_CLASS: u16 = 2;
const PRIOMAP: &str = "1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1";

/// The netem arguments: `delay 100ms 10ms 25% loss 1% ...`.
fn netem_args(params: &Params) -> String {
    let mut args = format!("delay {}", tc_time(params.duration("latency").unwrap_or_default()));
    if let Some(jitter) = params.duration("jitter") {
        args.push_str(&format!(" {}", tc_time(jitter)));
        if let Some(c) = params.number("correlation") {
            args.push_str(&format!(" {c}%"));
        }
    }
    for name in ["loss", "corrupt", "duplicate"] {
        if let Some(p) = params.number(name).filter(|p| *p > 0.0) {
            args.push_str(&format!(" {name} {p}%"));
        }
    }
    args
}

/// The exact `tc` commands (without `tc`) for one delay injection.
pub fn commands(device: &str, handle: u16, scope: &Scope, params: &Params) -> Vec<String> {
    let root = tc::handle_text(handle);
    let mut lines = vec![
        format!("qdisc add dev {device} root handle {root} prio bands 4 priomap {PRIOMAP}"),
        format!("qdisc add dev {device} parent {handle:x}:{NETEM_CLASS:x} netem {}", netem_args(params)),
    ];
    lines.extend(net_tc::filters(device, handle, scope, NETEM_CLASS, SPARE_CLASS));
    lines
}

impl Fault for NetworkDelay {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        if params.has("correlation") && !params.has("jitter") {
            return Err("parameter `correlation` needs `jitter` (it correlates the random part of the delay)".into());
        }
        check_scope(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let missing =
            tc::missing_qdisc_kinds(&QDISCS).map_err(|e| FaultError::Unsupported(format!("{}: {e}", INFO.name)))?;
        if !missing.is_empty() {
            return net_delay_user::prepare(INFO.name, params, cx, &missing, &shaping(params));
        }
        let build = |device: &str, handle: u16, scope: &Scope| commands(device, handle, scope, params);
        let mut prepared = net_tc::prepare(INFO.name, params, cx, &QDISCS, DELAY_HANDLES, &build)?;
        prepared.preview.insert(0, "path: netem (tc prio + netem + u32 filters on the device)".into());
        Ok(prepared)
    }
}

/// The queueing disciplines of the kernel path.
const QDISCS: [&str; 2] = ["prio", "netem"];

/// The parameters as the user-space helper takes them.
fn shaping(params: &Params) -> DelayShaping {
    let micros = |name| params.duration(name).map_or(0, |d: std::time::Duration| d.as_micros() as u64);
    let percent = |name| params.number(name).unwrap_or(0.0);
    DelayShaping {
        latency_us: micros("latency"),
        jitter_us: micros("jitter"),
        correlation: percent("correlation"),
        loss: percent("loss"),
        corrupt: percent("corrupt"),
        duplicate: percent("duplicate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::RawParams;
    use crate::fault::net_scope::Cidr;
    use serde_json::json;

    fn params(raw: serde_json::Value) -> Params {
        let raw: RawParams = serde_json::from_value(raw).unwrap();
        Params::check(INFO.params, &raw).unwrap()
    }

    #[test]
    fn plan_is_prio_netem_on_an_unfed_band_and_scoped_filters() {
        let p =
            params(json!({"latency": "100ms", "jitter": "10ms", "correlation": 25, "loss": 1, "interface": "eth0"}));
        let scope = Scope {
            destinations: vec![Cidr::parse("10.0.0.0/8").unwrap(), Cidr::parse("fd00::/8").unwrap()],
            ports: vec![443],
            local_ports: vec![],
            spared_addresses: vec![Cidr::parse("192.168.1.10").unwrap()],
            spared_ports: vec![7878],
            ..Scope::default()
        };
        assert_eq!(
            commands("eth0", 0xfd2a, &scope, &p),
            [
                "qdisc add dev eth0 root handle fd2a: prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1",
                "qdisc add dev eth0 parent fd2a:4 netem delay 100ms 10ms 25% loss 1%",
                "filter add dev eth0 parent fd2a: protocol ip prio 1 u32 match ip dst 192.168.1.10/32 flowid fd2a:2",
                "filter add dev eth0 parent fd2a: protocol ip prio 1 u32 match ip sport 7878 0xffff flowid fd2a:2",
                "filter add dev eth0 parent fd2a: protocol ip prio 1 u32 match ip dport 7878 0xffff flowid fd2a:2",
                "filter add dev eth0 parent fd2a: protocol ip prio 3 u32 match ip dst 10.0.0.0/8 match ip dport 443 0xffff flowid fd2a:4",
                "filter add dev eth0 parent fd2a: protocol ipv6 prio 2 u32 match ip6 sport 7878 0xffff flowid fd2a:2",
                "filter add dev eth0 parent fd2a: protocol ipv6 prio 2 u32 match ip6 dport 7878 0xffff flowid fd2a:2",
                "filter add dev eth0 parent fd2a: protocol ipv6 prio 4 u32 match ip6 dst fd00::/8 match ip6 dport 443 0xffff flowid fd2a:4",
            ]
        );
    }

    #[test]
    fn priomap_never_feeds_the_netem_band() {
        assert!(PRIOMAP.split(' ').all(|band| band.parse::<u16>().unwrap() + 1 != NETEM_CLASS));
        assert_eq!(PRIOMAP.split(' ').count(), 16);
    }

    #[test]
    fn netem_arguments_follow_the_params() {
        assert_eq!(netem_args(&params(json!({"latency": "50ms"}))), "delay 50ms");
        assert_eq!(
            netem_args(&params(json!({"latency": "1500us", "corrupt": 0.5, "duplicate": 2}))),
            "delay 1500us corrupt 0.5% duplicate 2%"
        );
    }

    #[test]
    fn correlation_without_jitter_is_refused_at_load_time() {
        let p = params(json!({"latency": "50ms", "correlation": 10}));
        assert!(NetworkDelay.check(&p).unwrap_err().contains("jitter"));
    }
}
