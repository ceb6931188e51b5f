//! network-partition: drop all matching traffic, in an nftables table of the
//! injection's own, so some destinations and ports become unreachable.

use crate::experiment::Params;

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::net_nft;
use super::net_params::nft_traffic;
use super::net_scope::check_scope;

/// Cuts this host off from some destinations (and ports).
pub struct NetworkPartition;

static INFO: FaultInfo = FaultInfo {
    name: "network-partition",
    summary: "cut traffic to and from some destinations and ports (nftables)",
    params: &nft_traffic("both"),
    is_held: true,
};

impl Fault for NetworkPartition {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        check_scope(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        net_nft::prepare(INFO.name, params, cx, net_nft::DropVerdict::All)
    }
}
