//! The JSON bodies of the daemon's v1 API, shared by the daemon (which serves
//! them) and the client (which sends and reads them).
//!
//! Durations travel as human strings (`"30s"`, `"500ms"`), parameters as the raw
//! JSON a user wrote: the daemon checks them against the fault's declared
//! parameters, exactly as the experiment loader does.
//!
//! Every type derives `utoipa::ToSchema`: `daemon/openapi.rs` builds the API's
//! OpenAPI document from them (and describes there the ids and journal enums
//! these types hold, so those modules stay free of it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::experiment::RawParams;
use crate::fault::UndoOutcome;
use crate::ids::{InjectionId, RunId};
use crate::journal::{InjectionRecord, InjectionState};

/// `POST /v1/injections`: inject one fault on the daemon's host.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectionRequest {
    /// A fault name, as `faultdrill faults` lists it.
    pub fault: String,
    /// Raw parameters, checked by the daemon against the fault's declaration
    /// (`FaultParams.<fault>` in this document's schemas; `faultdrill faults` lists them).
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"percent": 50, "cores": 1}))]
    pub params: RawParams,
    /// How long the daemon holds the fault at most (`"60s"`).
    #[schema(example = "60s")]
    pub duration: String,
    /// Dead man's switch (`"15s"`): rolled back if not renewed within this.
    /// Absent: only the deadline applies (the daemon holds the fault alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "15s")]
    pub lease: Option<String>,
    /// The run this injection belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunId>,
    /// Prepare and describe, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// An injection as a daemon reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Injection {
    pub id: InjectionId,
    /// The daemon's name.
    pub host: String,
    /// The fault's name.
    pub fault: String,
    /// The checked parameters, defaults filled in.
    pub params: serde_json::Value,
    pub state: InjectionState,
    /// The run this injection belongs to, if any.
    #[serde(default)]
    pub run: Option<RunId>,
    /// Unix milliseconds.
    #[serde(default)]
    pub created_ms: i64,
    /// Unix milliseconds: the last change (for an ended injection, when it ended).
    #[serde(default)]
    pub updated_ms: i64,
    /// Unix milliseconds: rolled back at this time whatever happens (as the daemon's wall
    /// clock read it; the daemon keeps time on its boot clock, so no clock step moves it).
    pub deadline_ms: i64,
    /// Lease TTL in milliseconds, if the injection has one.
    #[serde(default)]
    pub lease_ms: Option<i64>,
    /// Unix milliseconds: rolled back at this time unless renewed (as the daemon's wall clock
    /// read it at the last renewal; the daemon keeps time on its boot clock).
    #[serde(default)]
    pub lease_expires_ms: Option<i64>,
    /// Why it ended the way it did.
    #[serde(default)]
    pub note: Option<String>,
    /// What was (or, in a dry run, would be) changed.
    #[serde(default)]
    pub preview: Vec<String>,
}

impl Injection {
    /// The API view of a journal record on host `host`.
    pub fn from_record(host: &str, r: InjectionRecord) -> Injection {
        Injection {
            id: r.id,
            host: host.to_string(),
            fault: r.fault,
            params: r.params,
            state: r.state,
            run: r.run,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
            deadline_ms: r.deadline_ms,
            lease_ms: r.lease_ms,
            lease_expires_ms: r.lease_expires_ms,
            note: r.note,
            preview: Vec::new(),
        }
    }

    /// Whether the injection may still be in place.
    pub fn is_live(&self) -> bool {
        matches!(self.state, InjectionState::Pending | InjectionState::Active)
    }
}

/// `GET /v1/injections`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InjectionList {
    /// The live injections, then the recent ended ones.
    pub injections: Vec<Injection>,
}

/// `DELETE /v1/injections/{id}`: what rolling back found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rollback {
    pub id: InjectionId,
    /// The daemon's name.
    pub host: String,
    /// The fault's name.
    pub fault: String,
    /// `undone` or `already_gone` when it worked.
    #[serde(default)]
    pub outcome: Option<UndoOutcome>,
    /// Why it failed: something may still be injected.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /v1/health` (no token needed).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The daemon's name (`--name`).
    pub name: String,
    /// The faultdrill version.
    pub version: String,
    /// Milliseconds since the daemon started.
    pub uptime_ms: u64,
}

/// `GET /v1/host/metrics`: one sample of this host. A metric that could not be
/// read is absent, with its reason in `errors`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct HostMetrics {
    /// The daemon's name.
    pub host: String,
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    #[serde(default)]
    pub memory_percent: Option<f64>,
    #[serde(default)]
    pub load1: Option<f64>,
    /// `load1` divided by the online CPUs.
    #[serde(default)]
    pub load1_per_core: Option<f64>,
    /// For the `path` query parameter.
    #[serde(default)]
    pub disk_used_percent: Option<f64>,
    /// For the `process` query parameter.
    #[serde(default)]
    pub process_count: Option<f64>,
    /// Metric name → why it could not be read.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

/// Every error the API returns: a message for the operator, a stable `kind`
/// for programs, the offending request `field` when there is one, and the
/// `active` injection for conflicts.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do, for an operator.
    pub error: String,
    pub kind: ErrorKind,
    /// The offending request field (`duration`, `params.percent`), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The injection already holding this fault (409 `conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<InjectionId>,
}

/// What went wrong, for programs (the client rebuilds typed errors from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No or wrong bearer token (401).
    Unauthorized,
    /// The token's role, or the daemon's policy, does not allow this (403).
    Forbidden,
    /// The body is larger than the daemon accepts (413).
    TooLarge,
    /// Too many runs, injections or followers at once (429).
    TooMany,
    /// The body is not JSON (400).
    MalformedJson,
    /// The JSON does not have the expected shape (422).
    InvalidRequest,
    /// No such fault (422).
    UnknownFault,
    /// Fault parameters out of kind or range (422).
    BadParams,
    /// The same fault is already active on this host (409).
    Conflict,
    /// The fault refused or could not be applied here (422 / 500).
    InjectFailed,
    /// No such injection or run (404).
    NotFound,
    /// The injection already ended (410).
    Gone,
    /// A rollback failed: something may still be injected (500).
    RollbackFailed,
    /// The submitted experiment has errors (422); the message lists them as file:line:col.
    InvalidExperiment,
    /// No such guardrail in the run (404), or the run has finished (409).
    TripRefused,
    /// Not available on this daemon (501).
    NotImplemented,
    /// Anything else (500).
    Internal,
}

/// `POST /v1/runs`: run an experiment on the daemon's host.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The experiment (or template) YAML, as written.
    pub experiment: String,
    /// The file name it came from, for diagnostics (`file:line:col`).
    #[serde(default)]
    pub origin: Option<String>,
    /// Template parameters (`--set k=v`).
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
}

/// `POST /v1/runs` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunAccepted {
    /// Follow it at `/v1/runs/{id}` and `/v1/runs/{id}/events`.
    pub run_id: RunId,
}

/// A run as a daemon reports it (`GET /v1/runs/{id}`, the last event of a stream).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunStatus {
    pub run_id: RunId,
    /// The experiment's name.
    pub experiment: String,
    /// `pending`, `preflight`, `running`, `rolling_back`, `finished`.
    pub state: String,
    /// `passed`, `deviated`, `guardrail_tripped`, `error`, `rollback_failed`, `interrupted`, … once finished.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The exit code of the outcome (DESIGN §2), once finished.
    #[serde(default)]
    pub exit_code: Option<u8>,
    /// Why it ended the way it did.
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub started_ms: i64,
    /// Unix milliseconds.
    #[serde(default)]
    pub finished_ms: Option<i64>,
    /// The full report, once finished.
    #[serde(default)]
    pub report: Option<serde_json::Value>,
}

/// `POST /v1/runs/{id}/stop` and `.../trip` answers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunAck {
    pub run_id: RunId,
    /// What the daemon did.
    pub message: String,
}

/// Server-sent event names of `GET /v1/runs/{id}/events`.
pub mod run_events {
    /// Data: one timeline entry of the run's report.
    pub const TIMELINE: &str = "timeline";
    /// Data: the final [`super::RunStatus`]; the stream ends after it.
    pub const END: &str = "end";
}

/// One record of the daemon's audit trail (`GET /v1/audit`, `faultdrill audit`): a call
/// that changes something, allowed or refused. It never holds a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// The token's name; `-` when no valid token was sent.
    pub actor: String,
    pub role: Option<String>,
    pub peer: String,
    pub method: String,
    pub path: String,
    /// The injection or run concerned, when there is one.
    pub target: Option<String>,
    pub status: u16,
    pub message: Option<String>,
}
