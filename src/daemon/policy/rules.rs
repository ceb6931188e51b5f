//! The daemon's policy as checked values, each rule remembering the line that set it,
//! and the built-in default every rule falls back to.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::address::{Block, DEFAULT_BLOCKED, Destination};

/// The longest hold any caller may ask for unless the policy says otherwise.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Unfinished runs at once, unless the policy says otherwise.
pub const DEFAULT_MAX_RUNS: usize = 4;
/// Live injections at once, unless the policy says otherwise.
pub const DEFAULT_MAX_INJECTIONS: usize = 64;

/// One rule's value and where it was set: `line` is `None` for the built-in default.
#[derive(Clone, Debug, Serialize)]
pub struct Ruled<T> {
    pub value: T,
    #[serde(skip)]
    pub rule: &'static str,
    pub line: Option<usize>,
}

impl<T> Ruled<T> {
    pub fn default(rule: &'static str, value: T) -> Ruled<T> {
        Ruled { value, rule, line: None }
    }
}

/// A process callers may kill or pause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessRule {
    /// An exact name, as /proc/PID/comm shows it.
    Name(String),
    /// A command-line pattern, allowed only when a request uses exactly this pattern.
    Pattern(String),
}

/// A secret a Prometheus probe may send: the daemon's environment variable, and the
/// only URL prefix it may be sent to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretRule {
    pub env: String,
    pub url: String,
}

/// What callers of this daemon may do (DESIGN §6). Applies to every role.
#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    /// The file it was read from; `None` for the built-in default.
    pub origin: Option<PathBuf>,
    /// Faults callers may inject; `None`: every fault of the library.
    pub faults: Option<Ruled<Vec<String>>>,
    pub max_duration: Ruled<String>,
    #[serde(skip)]
    pub max_duration_value: Duration,
    /// Directories `disk-fill` may fill (and what is under them); `None`: any.
    pub disk_fill_paths: Option<Ruled<Vec<PathBuf>>>,
    /// The highest `fill_to_percent`; `None`: the fault's own cap.
    pub disk_fill_max_percent: Option<Ruled<f64>>,
    /// Directories io-latency and io-error may mount over (and what is under them); `None`:
    /// any the fault's own refusals spare (/, /proc, /sys, /dev, the state directory).
    pub io_fault_paths: Option<Ruled<Vec<PathBuf>>>,
    /// Processes that may be killed or paused; `None`: any the built-in refusals spare.
    pub processes: Option<Ruled<Vec<ProcessRule>>>,
    /// Whether submitted experiments may run `command` probes and guardrails.
    pub command_probes: Ruled<bool>,
    /// Programs (`argv[0]`, absolute paths) an `exec` action may run, as root; empty (the
    /// default): `exec` is refused on this daemon. Listing `/bin/sh` allows any command.
    pub exec_commands: Ruled<Vec<PathBuf>>,
    /// Where HTTP and Prometheus probes may connect; `None`: anywhere not blocked.
    pub destinations: Option<Ruled<Vec<String>>>,
    #[serde(skip)]
    pub destination_values: Vec<Destination>,
    /// Closed to probes and proxies unless `destinations` names them explicitly.
    pub blocked: Ruled<Vec<String>>,
    #[serde(skip)]
    pub blocked_values: Vec<Block>,
    /// Environment variables a Prometheus probe may send as its bearer token.
    pub secrets: Ruled<Vec<SecretRule>>,
    /// Whether `tcp-proxy-latency` may listen on a port below 1024.
    pub privileged_ports: Ruled<bool>,
    /// Where `tcp-proxy-latency` may forward; `None`: like `destinations`.
    pub upstreams: Option<Ruled<Vec<String>>>,
    #[serde(skip)]
    pub upstream_values: Option<Vec<Destination>>,
    pub max_runs: Ruled<usize>,
    pub max_injections: Ruled<usize>,
}

impl Default for Policy {
    fn default() -> Policy {
        let blocked: Vec<String> = DEFAULT_BLOCKED.iter().map(|s| s.to_string()).collect();
        Policy {
            origin: None,
            faults: None,
            max_duration: Ruled::default("max_duration", "24h".into()),
            max_duration_value: DEFAULT_MAX_DURATION,
            disk_fill_paths: None,
            disk_fill_max_percent: None,
            io_fault_paths: None,
            processes: None,
            command_probes: Ruled::default("command_probes", false),
            exec_commands: Ruled::default("exec.commands", Vec::new()),
            destinations: None,
            destination_values: Vec::new(),
            blocked_values: blocked.iter().filter_map(|b| Block::parse(b).ok()).collect(),
            blocked: Ruled::default("probes.blocked", blocked),
            secrets: Ruled::default("probes.secrets", Vec::new()),
            privileged_ports: Ruled::default("tcp_proxy.privileged_ports", false),
            upstreams: None,
            upstream_values: None,
            max_runs: Ruled::default("limits.runs", DEFAULT_MAX_RUNS),
            max_injections: Ruled::default("limits.injections", DEFAULT_MAX_INJECTIONS),
        }
    }
}

/// Why the policy refuses a request: the message, and the rule with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub rule: &'static str,
    /// `policy.yaml:7`, or `None` for the built-in default.
    pub at: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{}: refused by the policy rule `{}` at {at}", self.message, self.rule),
            None => write!(
                f,
                "{}: refused by the default policy (`{}`); an admin can change it in the daemon's --policy file",
                self.message, self.rule
            ),
        }
    }
}

impl Policy {
    /// A refusal citing `rule` and the line that set it.
    pub fn refuse<T>(&self, rule: &Ruled<T>, message: impl Into<String>) -> Refusal {
        let at = match (&self.origin, rule.line) {
            (Some(file), Some(line)) => Some(format!("{}:{line}", file.display())),
            _ => None,
        };
        Refusal { message: message.into(), rule: rule.rule, at }
    }
}
