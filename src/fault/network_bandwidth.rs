//! network-bandwidth: a token bucket (tbf) on matching outgoing traffic only.
//!
//! The plan: an `htb` root under a faultdrill handle with no default class, so
//! unmatched traffic takes htb's direct, unshaped path; one class holding a
//! `tbf` with the rate, burst and latency asked for; and u32 filters sending
//! matching destinations and ports to it (spared traffic straight to direct).

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::tc;

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::net_params::{TC_TRAFFIC, joined};
use super::net_scope::{Scope, check_scope, parse_rate};
use super::net_tc::{self, BANDWIDTH_HANDLES, tc_time};

/// Caps the rate of matching outgoing traffic.
pub struct NetworkBandwidth;

static INFO: FaultInfo = FaultInfo {
    name: "network-bandwidth",
    summary: "cap the rate of outgoing traffic to some destinations and ports (tc tbf)",
    params: &joined::<9>(
        &[
            ParamSpec {
                name: "rate",
                kind: ParamKind::Text,
                default: None,
                required: true,
                doc: "the cap, as tc writes it: 1mbit, 500kbit",
            },
            ParamSpec {
                name: "burst",
                kind: ParamKind::Bytes,
                default: None,
                required: false,
                doc: "bucket size; absent: the larger of 16KiB and 20 ms at the rate",
            },
            ParamSpec {
                name: "latency",
                kind: ParamKind::Duration,
                default: Some("200ms"),
                required: false,
                doc: "longest a packet may wait in the bucket's queue (a short one makes TCP fall well below the rate)",
            },
        ],
        &TC_TRAFFIC,
    ),
    is_held: true,
};

/// The class holding the tbf.
const SHAPED_CLASS: u16 = 1;
/// htb's direct path: the root itself as a class id.
const DIRECT: u16 = 0;
/// The htb class only carries the tbf; it must never be the bottleneck.
const CLASS_RATE: &str = "10gbit";

/// network-bandwidth's own parameters, typed by the declaration above (the loader applied
/// its defaults; the traffic scope is read by `Scope`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandwidthParams {
    /// The cap, in bits per second.
    rate_bits: u64,
    /// The bucket, in bytes: as given, else the larger of 16 KiB and 20 ms at the rate.
    burst: u64,
    latency: std::time::Duration,
}

impl TryFrom<&Params> for BandwidthParams {
    type Error = String;

    fn try_from(p: &Params) -> Result<Self, String> {
        let rate_bits = parse_rate(&p.get::<String>("rate")?).map_err(|m| format!("parameter `rate`: {m}"))?;
        let burst = p.get::<Option<u64>>("burst")?.unwrap_or((rate_bits / 8 / 50).max(16 * 1024));
        Ok(BandwidthParams { rate_bits, burst, latency: p.get("latency")? })
    }
}

/// The exact `tc` commands (without `tc`) for one bandwidth injection.
pub fn commands(device: &str, handle: u16, scope: &Scope, params: &BandwidthParams) -> Vec<String> {
    let BandwidthParams { rate_bits: rate, burst, latency } = *params;
    let root = tc::handle_text(handle);
    let mut lines = vec![
        format!("qdisc add dev {device} root handle {root} htb"),
        format!(
            "class add dev {device} parent {root} classid {handle:x}:{SHAPED_CLASS:x} htb rate {CLASS_RATE} quantum 60000"
        ),
        format!(
            "qdisc add dev {device} parent {handle:x}:{SHAPED_CLASS:x} tbf rate {rate}bit burst {} latency {}",
            burst,
            tc_time(latency)
        ),
    ];
    lines.extend(net_tc::filters(device, handle, scope, SHAPED_CLASS, DIRECT));
    lines
}

impl Fault for NetworkBandwidth {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        BandwidthParams::try_from(params)?;
        check_scope(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let own = BandwidthParams::try_from(params).map_err(FaultError::Refused)?;
        let build = |device: &str, handle: u16, scope: &Scope| commands(device, handle, scope, &own);
        net_tc::prepare(INFO.name, params, cx, &["htb", "tbf"], BANDWIDTH_HANDLES, &build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::RawParams;
    use crate::fault::net_scope::Cidr;
    use serde_json::json;

    #[test]
    fn plan_is_htb_direct_by_default_with_tbf_on_the_shaped_class() {
        let raw: RawParams = serde_json::from_value(json!({"rate": "1mbit"})).unwrap();
        let p = Params::check(INFO.params, &raw).unwrap();
        let scope = Scope { destinations: vec![Cidr::parse("10.9.0.2").unwrap()], ..Scope::default() };
        assert_eq!(
            commands("v0", 0xfd90, &scope, &BandwidthParams::try_from(&p).unwrap()),
            [
                "qdisc add dev v0 root handle fd90: htb",
                "class add dev v0 parent fd90: classid fd90:1 htb rate 10gbit quantum 60000",
                "qdisc add dev v0 parent fd90:1 tbf rate 1000000bit burst 16384 latency 200ms",
                "filter add dev v0 parent fd90: protocol ip prio 3 u32 match ip dst 10.9.0.2/32 flowid fd90:1",
            ]
        );
    }

    #[test]
    fn bad_rates_are_refused_at_load_time() {
        let raw: RawParams = serde_json::from_value(json!({"rate": "fast"})).unwrap();
        let p = Params::check(INFO.params, &raw).unwrap();
        assert!(NetworkBandwidth.check(&p).unwrap_err().starts_with("parameter `rate`"));
    }
}
