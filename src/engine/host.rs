//! The one seam through which the engine reaches a host: inject, roll back,
//! renew a lease. `local` is this process; remote hosts are daemons.
//! The engine never knows which.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fault::{Params, UndoOutcome};
use crate::ids::{InjectionId, RunId};
use crate::journal::InjectionState;

use super::local_host::LocalHost;

/// What to inject.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectRequest {
    pub fault: String,
    pub params: Params,
    /// How long it may stay; the deadline is now + duration.
    #[serde(with = "crate::experiment::humantime_serde_compat")]
    pub duration: Duration,
    /// Remote injections roll back by themselves if not renewed within this.
    #[serde(default, with = "crate::experiment::humantime_serde_compat::option")]
    pub lease: Option<Duration>,
    #[serde(default)]
    pub run: Option<RunId>,
    /// Prepare and describe, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// An injection as a host reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectionView {
    pub id: InjectionId,
    pub host: String,
    pub fault: String,
    pub params: Params,
    pub state: InjectionState,
    /// Unix milliseconds.
    pub deadline_ms: i64,
    /// What was (or, in a dry run, would be) changed.
    pub preview: Vec<String>,
}

/// What rolling back one injection did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RollbackResult {
    pub id: InjectionId,
    pub host: String,
    pub fault: String,
    /// `Ok` with what the undo found, or the error text (something may still be injected).
    pub outcome: Result<UndoOutcome, String>,
}

impl RollbackResult {
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// How a held fault ended without its run asking: when, and why in the host's words.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultEnd {
    /// Unix milliseconds.
    pub at_ms: i64,
    pub why: String,
}

/// What renewing a lease found.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseState {
    /// The fault is still in place; its lease runs again from now.
    Renewed,
    /// The fault has already ended (rolled back, expired, the daemon restarted).
    Ended(FaultEnd),
}

/// Why a host could not do what was asked. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("inject {fault}: unknown fault; `faultdrill faults` lists them")]
    UnknownFault { fault: String },
    #[error("inject {fault}: {message}")]
    BadParams { fault: String, message: String },
    #[error(
        "inject {fault}: injection {active} of the same fault is still active on {host}; roll it back first (`faultdrill recover {active}`)"
    )]
    Conflict { host: String, fault: String, active: InjectionId },
    #[error("inject {fault} on {host}")]
    Inject {
        host: String,
        fault: String,
        #[source]
        source: crate::fault::FaultError,
    },
    #[error("find injection {id}: the journal has no such injection")]
    NotFound { id: InjectionId },
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// A remote host could not be reached or answered with an error.
    #[error("reach {host}: {message}")]
    Remote { host: String, message: String },
}

fn is_live(state: InjectionState) -> bool {
    matches!(state, InjectionState::Pending | InjectionState::Active)
}

/// A host the engine can act on.
pub enum Host {
    Local(LocalHost),
    /// A host reached through its daemon.
    Remote(super::remote_host::RemoteHost),
}

impl Host {
    /// The host's name (`local`, or its inventory name).
    pub fn name(&self) -> &str {
        match self {
            Host::Local(h) => h.name(),
            Host::Remote(h) => h.client.name(),
        }
    }

    pub async fn inject(&self, req: InjectRequest) -> Result<InjectionView, HostError> {
        match self {
            Host::Local(h) => h.inject(req).await,
            Host::Remote(h) => super::remote_host::inject(h, req).await,
        }
    }

    pub async fn rollback(&self, id: &InjectionId, reason: &str) -> RollbackResult {
        match self {
            Host::Local(h) => h.rollback(id, reason).await,
            Host::Remote(h) => super::remote_host::rollback(h, id, None, reason).await,
        }
    }

    /// Reads one host metric on this host.
    pub async fn sample_metric(
        &self,
        metric: crate::experiment::HostMetric,
        path: Option<&std::path::Path>,
        process: Option<&str>,
    ) -> Result<f64, HostError> {
        match self {
            Host::Local(h) => {
                let (path, process) = (path.map(|p| p.to_path_buf()), process.map(str::to_string));
                tokio::task::spawn_blocking(move || {
                    crate::probe::read_host_metric(metric, path.as_deref(), process.as_deref())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .map_err(|message| HostError::Remote { host: h.name().to_string(), message })
            }
            Host::Remote(h) => super::remote_host::sample_metric(&h.client, metric, path, process).await,
        }
    }

    /// Renews the lease of a held injection, or finds that it has already ended.
    pub async fn renew_lease(&self, id: &InjectionId) -> Result<LeaseState, HostError> {
        match self {
            // Local injections die with this process's journal entry; the lease is kept
            // current so a daemon sharing the state dir never mistakes them for orphans.
            Host::Local(h) => {
                if h.journal().renew_lease(id)? {
                    return Ok(LeaseState::Renewed);
                }
                let record = h.journal().get(id)?;
                Ok(match record {
                    Some(r) if is_live(r.state) => LeaseState::Renewed,
                    Some(r) => LeaseState::Ended(FaultEnd {
                        at_ms: r.updated_ms,
                        why: r.note.unwrap_or_else(|| "ended".into()),
                    }),
                    None => LeaseState::Ended(FaultEnd {
                        at_ms: crate::journal::now_ms(),
                        why: "the journal no longer holds it".into(),
                    }),
                })
            }
            Host::Remote(h) => super::remote_host::renew_lease(h, id).await,
        }
    }

    /// After a rollback that found injection `id` already gone: how it ended, if something
    /// other than this run's own rollback (journaled with `reason`) ended it.
    pub async fn ended_by_others(&self, id: &InjectionId, reason: &str) -> Option<FaultEnd> {
        let (state, updated_ms, note) = match self {
            Host::Local(h) => {
                let r = h.journal().get(id).ok()??;
                (r.state, r.updated_ms, r.note)
            }
            Host::Remote(h) => {
                let r = super::remote_host::show(&h.client, id).await.ok()?;
                (r.state, r.updated_ms, r.note)
            }
        };
        let note = note.unwrap_or_default();
        (!is_live(state) && !note.contains(reason)).then_some(FaultEnd { at_ms: updated_ms, why: note })
    }
}
