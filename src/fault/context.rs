//! The seam every fault implements: describe, check, prepare (no side effects), apply.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::ids::InjectionId;
use crate::platform::linux::ProcRef;

use super::undo::Undo;
use crate::experiment::{ParamSpec, Params};

/// What `faultdrill faults` shows about a fault, and what the loader checks against.
#[derive(Debug)]
pub struct FaultInfo {
    /// The name used in experiments, e.g. `cpu-burn`.
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    /// Whether it is held for a duration (false for instantaneous faults like process-kill).
    pub is_held: bool,
}

/// What a fault needs to know about where and when it is injected.
#[derive(Clone, Debug)]
pub struct InjectContext {
    pub injection: InjectionId,
    /// The run it belongs to (`None`: a one-off `inject`), for custom actions' environment.
    pub run: Option<crate::ids::RunId>,
    /// The host's name as the controller knows it (`local`, or a daemon's name).
    pub host: String,
    /// When the fault must be gone even if nobody rolls it back (helpers exit by themselves).
    pub deadline: SystemTime,
    /// The faultdrill executable, for spawning helper processes (`faultdrill __burn-cpu ...`).
    pub exe: PathBuf,
    /// Ports that network faults must never block (the daemon's own port).
    pub protected_ports: Vec<u16>,
    /// Addresses that network faults must never block (the controller's address).
    pub protected_addresses: Vec<std::net::IpAddr>,
    /// faultdrill's state directory (its journal): io faults never mount over it.
    pub state_dir: PathBuf,
}

/// A fault ready to apply: its undo is known before anything changes, so it can
/// be journaled first (DESIGN §4 rule 1).
pub struct Prepared {
    /// How to undo it; committed to the journal before `apply` runs.
    pub undo: Undo,
    /// The exact changes `apply` would make (commands, files, signals), for `--dry-run`.
    pub preview: Vec<String>,
    /// Makes the change. Called once, after the undo is durable.
    pub apply: Box<dyn FnOnce() -> Result<Applied, FaultError> + Send>,
}

/// What applying a fault learned that its undo can use.
#[derive(Debug, Default)]
pub struct Applied {
    /// The helper processes it started: the undo stops exactly these (PID and start time)
    /// instead of searching /proc for them.
    pub helpers: Vec<ProcRef>,
    /// What the change hit, for people (process-kill: the processes it signalled);
    /// it replaces the injection's preview, so the CLI, the progress and the report show it.
    pub report: Vec<String>,
}

impl Applied {
    /// The change is made; the undo needs nothing more.
    pub fn done() -> Applied {
        Applied::default()
    }

    /// The change is made by these helper processes (`None`: one that did not start).
    pub fn by_helpers(helpers: impl IntoIterator<Item = Option<ProcRef>>) -> Applied {
        Applied { helpers: helpers.into_iter().flatten().collect(), report: Vec::new() }
    }

    /// The change is made, and `report` says what it hit.
    pub fn reporting(report: Vec<String>) -> Applied {
        Applied { helpers: Vec::new(), report }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("undo", &self.undo).field("preview", &self.preview).finish()
    }
}

/// Why a fault could not be prepared or applied. Messages read after "failed to inject: ".
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The host lacks something the fault needs (netem, nftables, a path).
    #[error("{0}")]
    Unsupported(String),
    /// The fault refuses for safety (PID 1, faultdrill itself, disk past 99 %).
    #[error("refused: {0}")]
    Refused(String),
    /// Nothing matched the fault's selection (no such process).
    #[error("{0}")]
    NoTarget(String),
    /// The change itself failed.
    #[error("{context}")]
    Apply {
        context: String,
        #[source]
        source: Option<std::io::Error>,
    },
}

/// A parameter that does not read as its fault wants is refused, with the loader's words.
impl From<crate::experiment::ParamReadError> for FaultError {
    fn from(e: crate::experiment::ParamReadError) -> Self {
        FaultError::Refused(e.to_string())
    }
}

impl FaultError {
    /// An apply failure with its I/O cause.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        FaultError::Apply { context: context.into(), source: Some(source) }
    }
}

/// One fault of the library.
pub trait Fault: Send + Sync + 'static {
    fn info(&self) -> &'static FaultInfo;

    /// Checks that go beyond each parameter's kind (e.g. "exactly one of name,
    /// pattern or pid"). Runs at load time; the message names the parameters.
    fn check(&self, _params: &Params) -> Result<(), String> {
        Ok(())
    }

    /// Whether a second injection of this fault on the same host must wait for the first
    /// to end (DESIGN §4 rule 7). Custom actions (exec, http-call) say no: each is its own change.
    fn is_exclusive(&self) -> bool {
        self.info().is_held
    }

    /// Whether this action, with these params, cannot be undone (process-kill; an exec or
    /// http-call declared `irreversible: true`). The dry run, the report, JUnit and guardrail
    /// messages say so.
    fn is_irreversible(&self, _params: &Params) -> bool {
        !self.info().is_held
    }

    /// Works out exactly what to change and how to undo it, touching nothing.
    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError>;
}
