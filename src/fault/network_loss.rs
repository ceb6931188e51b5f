//! network-loss: drop a share of matching packets at random, in an nftables
//! table of the injection's own (`numgen random mod 100 < P drop`).

use crate::experiment::{ParamKind, ParamSpec, Params};

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::net_nft;
use super::net_params::{joined, nft_traffic};
use super::net_scope::check_scope;

/// Drops `percent` % of matching packets.
pub struct NetworkLoss;

static INFO: FaultInfo = FaultInfo {
    name: "network-loss",
    summary: "drop a share of packets to or from some destinations and ports (nftables)",
    params: &joined::<8>(&[PERCENT], &nft_traffic("out")),
    is_held: true,
};

const PERCENT: ParamSpec = ParamSpec {
    name: "percent",
    kind: ParamKind::Percent { min: 0.01, max: 100.0 },
    default: None,
    required: true,
    doc: "share of matching packets to drop",
};

impl Fault for NetworkLoss {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        check_scope(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let percent: f64 = params.get("percent")?;
        net_nft::prepare(INFO.name, params, cx, net_nft::loss_verdict(percent))
    }
}
