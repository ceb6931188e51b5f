//! Injecting through the engine's `LocalHost` from a synchronous test, with a
//! journal in a temp state dir of the test's own.
//!
//! Include it with `#[path = "common/netns_host.rs"] mod netns_host;`.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::sync::Arc;
use std::time::Duration;

use faultdrill::engine::{HostError, InjectRequest, InjectionView, LocalHost, RollbackResult};
use faultdrill::fault::{Params, RawParams, find_fault};
use faultdrill::ids::InjectionId;
use faultdrill::journal::Journal;

/// A local host with its own journal, and a runtime to drive it.
pub struct Lab {
    pub rt: tokio::runtime::Runtime,
    pub host: LocalHost,
    pub state: tempfile::TempDir,
}

/// Checked params for `fault` from JSON.
pub fn params(fault: &str, raw: serde_json::Value) -> Params {
    let raw: RawParams = serde_json::from_value(raw).expect("params object");
    let spec = find_fault(fault).unwrap_or_else(|| panic!("no fault {fault}")).info().params;
    Params::check(spec, &raw).unwrap_or_else(|p| panic!("bad params for {fault}: {p:?}"))
}

impl Lab {
    pub fn new() -> Lab {
        let state = tempfile::tempdir().expect("state dir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let host = LocalHost::new(Arc::new(Journal::open(state.path()).expect("journal")));
        Lab { rt, host, state }
    }

    /// A fresh host on the same state dir, as a new process would open it after a crash.
    pub fn reopen(&self) -> LocalHost {
        LocalHost::new(Arc::new(Journal::open(self.state.path()).expect("journal")))
    }

    pub fn try_inject(&self, fault: &str, raw: serde_json::Value, dry_run: bool) -> Result<InjectionView, HostError> {
        let req = InjectRequest {
            fault: fault.into(),
            params: params(fault, raw),
            duration: Duration::from_secs(120),
            lease: None,
            run: None,
            dry_run,
        };
        self.rt.block_on(self.host.inject(req))
    }

    pub fn inject(&self, fault: &str, raw: serde_json::Value) -> InjectionView {
        self.try_inject(fault, raw, false).unwrap_or_else(|e| panic!("inject {fault}: {e}"))
    }

    pub fn rollback(&self, id: &InjectionId) -> RollbackResult {
        let result = self.rt.block_on(self.host.rollback(id, "test"));
        assert!(result.is_ok(), "rollback of {id} failed: {:?}", result.outcome);
        result
    }
}
