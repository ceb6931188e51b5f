//! What every request handler shares: the local host, the metrics, the tokens, the
//! policy and the audit trail.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, Notify};

use crate::engine::LocalHost;

use super::metrics::Metrics;
use super::runs::Runs;

/// Shared daemon state (behind an `Arc`).
pub struct AppState {
    /// The local host, named after the daemon, without a controller address.
    pub host: LocalHost,
    pub name: String,
    pub port: u16,
    /// Every token the daemon accepts, with its name and role.
    pub tokens: super::tokens::Tokens,
    /// What callers may do (every role alike).
    pub policy: super::policy::Policy,
    pub audit: super::audit::AuditLog,
    /// Open connections, counted before anything is read.
    pub connections: super::limits::ConnectionLimits,
    pub started: Instant,
    pub metrics: Metrics,
    /// Serialises injects and rollbacks on this host, so "one fault of a kind
    /// per host" holds under concurrent requests.
    pub mutate: Mutex<()>,
    /// Wakes the reaper when a deadline or lease may have moved earlier.
    pub reaper_wake: Notify,
    pub runs: Runs,
    /// Firing alerts received from Alertmanager, until they resolve.
    pub alerts: super::alerts::FiringAlerts,
    /// Where run reports are written (`runs/<id>/report.json`).
    pub state_dir: std::path::PathBuf,
    /// How much history the journal, the audit trail and the reports keep.
    pub retention: crate::journal::Retention,
}

/// Shared state handle.
pub type Shared = Arc<AppState>;

impl AppState {
    /// The local host as seen by a controller at `peer`: network faults spare
    /// the daemon's port and the controller's address (DESIGN §4 rule 6).
    /// An IPv4 controller reaching a `[::]` listener shows as `::ffff:a.b.c.d`: the
    /// exclusion is written for the address its packets really carry.
    pub fn host_for(&self, peer: IpAddr) -> LocalHost {
        self.host.clone().with_identity(&self.name, vec![self.port], vec![peer.to_canonical()])
    }
}
