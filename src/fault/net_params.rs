//! The parameter lists network faults share: which traffic they hit, and where.
//!
//! A network fault's table is its own parameters, then one of these lists, joined
//! at compile time. The order is what `faultdrill faults` prints and the JSON Schema lists.

use crate::experiment::{ParamKind, ParamSpec};

use super::net_scope::{DESTINATIONS, EXCLUDE, LOCAL_PORTS, NETNS, PORTS};
use super::{net_nft, net_tc};

/// What an nftables fault (network-loss, network-partition) hits, after its own parameters;
/// `direction_default` is the fault's own default for `direction`.
pub const fn nft_traffic(direction_default: &'static str) -> [ParamSpec; 7] {
    [DESTINATIONS, PORTS, LOCAL_PORTS, direction(direction_default), net_nft::INTERFACE, EXCLUDE, NETNS]
}

/// What a tc fault (network-delay, network-bandwidth) shapes, after its own parameters.
pub const TC_TRAFFIC: [ParamSpec; 6] = [net_tc::INTERFACE, DESTINATIONS, PORTS, LOCAL_PORTS, EXCLUDE, NETNS];

/// `direction`, as [`net_nft::Direction::from_params`] reads it.
const fn direction(default: &'static str) -> ParamSpec {
    ParamSpec {
        name: "direction",
        kind: ParamKind::Choice(&["out", "in", "both"]),
        default: Some(default),
        required: false,
        doc: "out: packets sent to the destinations; in: packets from them; both",
    }
}

/// `own` followed by `shared`, as one table of `N` specs. `N` must be the sum of
/// both lengths: any other fails to compile.
pub const fn joined<const N: usize>(own: &[ParamSpec], shared: &[ParamSpec]) -> [ParamSpec; N] {
    assert!(own.len() + shared.len() == N, "N must be the number of parameters in both lists");
    let mut table = [UNSET; N];
    let mut i = 0;
    while i < N {
        table[i] = copy(if i < own.len() { &own[i] } else { &shared[i - own.len()] });
        i += 1;
    }
    table
}

/// What [`joined`] starts from; every slot is overwritten.
const UNSET: ParamSpec = ParamSpec { name: "", kind: ParamKind::Text, default: None, required: false, doc: "" };

/// `ParamSpec` is `Clone` but `clone` cannot run at compile time.
const fn copy(spec: &ParamSpec) -> ParamSpec {
    ParamSpec { name: spec.name, kind: spec.kind, default: spec.default, required: spec.required, doc: spec.doc }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(specs: &[ParamSpec]) -> Vec<&'static str> {
        specs.iter().map(|s| s.name).collect()
    }

    #[test]
    fn joined_keeps_the_fault_own_parameters_first() {
        const OWN: ParamSpec = ParamSpec { name: "rate", ..UNSET };
        let table: [ParamSpec; 7] = joined(&[OWN], &TC_TRAFFIC);
        assert_eq!(names(&table), ["rate", "interface", "destinations", "ports", "local_ports", "exclude", "netns"]);
        assert_eq!(table[1].doc, net_tc::INTERFACE.doc);
    }

    #[test]
    fn nft_traffic_carries_the_fault_own_direction_default() {
        let traffic = nft_traffic("both");
        assert_eq!(
            names(&traffic),
            ["destinations", "ports", "local_ports", "direction", "interface", "exclude", "netns"]
        );
        assert_eq!(traffic[3].default, Some("both"));
        assert_eq!(traffic[4].doc, net_nft::INTERFACE.doc);
    }
}
