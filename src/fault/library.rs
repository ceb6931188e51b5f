//! The registry of every fault faultdrill knows, by name, and the catalog the loader checks against.

use crate::experiment::{FaultCatalog, ParamSpec, Params};

use super::context::Fault;
use super::{CpuBurn, DiskFill, MemoryStress, ProcessKill, ProcessPause};

/// Every fault, in the order `faultdrill faults` lists them.
pub fn all_faults() -> &'static [&'static dyn Fault] {
    &[
        &CpuBurn,
        &MemoryStress,
        &DiskFill,
        &ProcessKill,
        &ProcessPause,
        &super::network_delay::NetworkDelay,
        &super::network_loss::NetworkLoss,
        &super::network_partition::NetworkPartition,
        &super::network_bandwidth::NetworkBandwidth,
        &super::tcp_proxy_latency::TcpProxyLatency,
        &super::dns_fault::DnsFault,
        &super::io_latency::IoLatency,
        &super::io_error::IoError,
        &super::exec::Exec,
        &super::http_call::HttpCall,
    ]
}

/// The fault called `name`, if there is one.
pub fn find_fault(name: &str) -> Option<&'static dyn Fault> {
    all_faults().iter().copied().find(|f| f.info().name == name)
}

/// The fault library as the experiment loader sees it.
pub fn catalog() -> &'static dyn FaultCatalog {
    &Library
}

struct Library;

impl FaultCatalog for Library {
    fn params_of(&self, name: &str) -> Option<&'static [ParamSpec]> {
        find_fault(name).map(|f| f.info().params)
    }

    fn is_held(&self, name: &str) -> bool {
        find_fault(name).is_some_and(|f| f.info().is_held)
    }

    fn check(&self, name: &str, params: &Params) -> Result<(), String> {
        find_fault(name).map_or(Ok(()), |f| f.check(params))
    }

    fn names(&self) -> Vec<&'static str> {
        all_faults().iter().map(|f| f.info().name).collect()
    }
}
