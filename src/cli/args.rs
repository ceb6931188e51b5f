//! Command-line arguments (clap derive). Parsing only: no behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// faultdrill: chaos experiments with guardrails and guaranteed rollback.
#[derive(Debug, Parser)]
#[command(name = "faultdrill", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the journal and run reports live [env: FAULTDRILL_STATE_DIR; default: $XDG_STATE_HOME/faultdrill]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Log verbosity for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment (in-process, or on a daemon with --daemon).
    Run(RunArgs),
    /// Check experiment files; every problem at once, as file:line:col.
    Validate(ValidateArgs),
    /// Inject one fault, hold it for --duration, then roll it back (also on Ctrl-C).
    Inject(InjectArgs),
    /// Roll back what the journal holds as active.
    Recover(RecoverArgs),
    /// Serve the v1 HTTP API so controllers can inject on this host.
    Daemon(DaemonArgs),
    /// List runs: on this host (the state dir), or on a daemon with --daemon.
    Runs(RemoteArgs),
    /// Show one run: on this host, or on a daemon with --daemon.
    Status(RunRefArgs),
    /// Stop a run and roll it back: on this host, or on a daemon with --daemon.
    Stop(RunRefArgs),
    /// Write a commented starter experiment that validates as it is.
    Init(InitArgs),
    /// Trip a guardrail of a running run (as an alarm would).
    Trip(TripArgs),
    /// List the fault library: names, parameters, defaults.
    Faults(FaultsArgs),
    /// Drill templates: list, show, render.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Write a run's report as HTML, JUnit or JSON.
    Report(ReportArgs),
    /// Print the JSON Schema of the experiment format (or the daemon API's OpenAPI document).
    Schema(SchemaArgs),
    /// Show the daemon's audit trail (this host's state dir, or --daemon with an admin token).
    Audit(AuditArgs),
    /// Internal: helper processes faultdrill spawns for held faults.
    #[command(hide = true, subcommand)]
    Helper(HelperCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file.
    pub file: Option<PathBuf>,
    /// Run a built-in template by name instead of a file.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub template: Option<String>,
    /// Set a template parameter (repeatable).
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
    /// Inventory of hosts reachable through their daemons.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Submit the run to this daemon and follow it.
    #[arg(long, value_name = "URL")]
    pub daemon: Option<String>,
    /// Print the resolved plan and inject nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Copy the report into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the report as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// The outcome this drill is meant to end with (overrides `expect_outcome` in the file):
    /// with `guardrail_tripped`, a run whose guardrail trips and rolls back exits 0, and one
    /// where no guardrail trips exits 1.
    #[arg(long, value_name = "OUTCOME", value_parser = ["guardrail_tripped"])]
    pub expect_outcome: Option<String>,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Experiment or template files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Set a template parameter (repeatable), e.g. one that is required.
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The fault, as `faultdrill faults` names it.
    pub fault: String,
    /// A fault parameter (repeatable).
    #[arg(long = "param", short = 'p', value_name = "K=V")]
    pub params: Vec<String>,
    /// How long to hold the fault.
    #[arg(long, value_name = "DURATION")]
    pub duration: String,
    /// Inject through this daemon; this process holds the fault, renewing its lease.
    #[arg(long, value_name = "URL")]
    pub daemon: Option<String>,
    /// With --daemon: how long the daemon keeps the fault if this process stops
    /// renewing it (killed, or cut off) [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub lease: Option<String>,
    /// Print exactly what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The injection to roll back.
    #[arg(required_unless_present_any = ["all", "sweep"], conflicts_with_all = ["all", "sweep"])]
    pub injection: Option<String>,
    /// Roll back every pending, active or failed injection in the journal.
    #[arg(long, conflicts_with = "sweep")]
    pub all: bool,
    /// Without the journal: find what faultdrill owns on this host (tagged helpers,
    /// `faultdrill_*` nftables tables, root qdiscs with its handles, and the paused
    /// processes and fill files its sidecars name) and roll it back, verified.
    #[arg(long)]
    pub sweep: bool,
    /// With --sweep: list what would be rolled back, change nothing.
    #[arg(long, requires = "sweep")]
    pub dry_run: bool,
    /// With --sweep: also sweep this named network namespace (repeatable).
    #[arg(long = "netns", value_name = "NAME", requires = "sweep")]
    pub netns: Vec<String>,
    /// With --sweep: also sweep every named network namespace (`ip netns list`).
    #[arg(long, requires = "sweep")]
    pub all_netns: bool,
    /// With --sweep: also look for fill files (`faultdrill-fill-*`) directly in DIR (repeatable).
    #[arg(long = "path", value_name = "DIR", requires = "sweep")]
    pub fill_dirs: Vec<std::path::PathBuf>,
    /// Stop retrying the failed rollback of INJECTION: you have removed the fault by
    /// hand. The reason is kept in the journal.
    #[arg(long, value_name = "REASON", requires = "injection")]
    pub mark_resolved: Option<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: String,
    /// File holding the bearer token [or env FAULTDRILL_TOKEN].
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// This host's name in injection records and metrics.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mTLS); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (tokens cross the network in clear text).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// What callers may do: allowed faults, paths, processes, durations, probe destinations.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// How much history the journal (and, in a daemon, the audit trail) keeps.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Prune finished runs, rolled-back injections and run reports older than N days
    /// (never a pending, active or failed injection).
    #[arg(long, value_name = "N", env = "FAULTDRILL_JOURNAL_KEEP_DAYS", default_value_t = crate::journal::DEFAULT_KEEP_DAYS)]
    pub journal_keep_days: u32,
    /// Keep at most N finished runs and N rolled-back injections (the newest).
    #[arg(long, value_name = "N", env = "FAULTDRILL_JOURNAL_KEEP_RUNS", default_value_t = crate::journal::DEFAULT_KEEP_RUNS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub journal_keep_runs: u32,
}

impl RetentionArgs {
    /// The retention these flags ask for.
    pub fn retention(&self) -> crate::journal::Retention {
        crate::journal::Retention::new(self.journal_keep_days, self.journal_keep_runs)
    }
}

/// How the CLI authenticates to a daemon.
#[derive(Debug, Args, Default)]
pub struct ClientAuthArgs {
    /// File holding the daemon's bearer token [default: env FAULTDRILL_TOKEN, then, for a
    /// loopback URL, the local daemon's <state-dir>/token].
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only records this recent (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Print the records as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Read the trail of this daemon (admin token) instead of the local state dir.
    #[arg(long, value_name = "URL")]
    pub daemon: Option<String>,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The daemon's URL; without it, the runs made on this host (in --state-dir).
    #[arg(long, env = "FAULTDRILL_DAEMON", value_name = "URL")]
    pub daemon: Option<String>,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "experiment.yaml", value_name = "FILE")]
    pub file: PathBuf,
    /// Start from a built-in drill template (`faultdrill template list`), rendered with
    /// --set values and its defaults, comments kept.
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Set a template parameter (repeatable), e.g. one that is required.
    #[arg(long = "set", value_name = "K=V", requires = "template")]
    pub set: Vec<String>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RunRefArgs {
    pub run: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct TripArgs {
    pub run: String,
    pub guardrail: String,
    /// The daemon running the run.
    #[arg(long, env = "FAULTDRILL_DAEMON", value_name = "URL")]
    pub daemon: Option<String>,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

#[derive(Debug, Args)]
pub struct FaultsArgs {
    /// Print the library as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List built-in templates.
    List,
    /// Show a template's parameters and source.
    Show { name: String },
    /// Render a template into an experiment.
    Render {
        name: String,
        #[arg(long = "set", value_name = "K=V")]
        set: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the OpenAPI 3.1 document of the daemon's v1 API instead (as served at /v1/openapi.json).
    #[arg(long)]
    pub openapi: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    pub run: String,
    #[arg(long, value_parser = ["html", "junit", "json"], default_value = "json")]
    pub format: String,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Helper processes: spawned by faults, tagged with their injection id, each
/// exiting by itself at its deadline (unix milliseconds).
#[derive(Debug, Subcommand)]
pub enum HelperCommand {
    /// Burn CPU: one thread per core at a duty cycle.
    BurnCpu {
        #[arg(long)]
        injection: String,
        #[arg(long)]
        deadline_ms: i64,
        #[arg(long)]
        percent: f64,
        #[arg(long)]
        cores: usize,
        #[arg(long, default_value = "add")]
        mode: String,
    },
    /// Allocate and touch memory, then hold it.
    HoldMemory {
        #[arg(long)]
        injection: String,
        #[arg(long)]
        deadline_ms: i64,
        #[arg(long)]
        bytes: u64,
        /// Touch the memory at this many bytes per second instead of all at once.
        #[arg(long)]
        rate: Option<u64>,
    },
    /// Create a fill file and grow it at a rate, then hold it (disk-fill with `rate`).
    GrowFile {
        #[arg(long)]
        injection: String,
        #[arg(long)]
        deadline_ms: i64,
        #[arg(long)]
        path: std::path::PathBuf,
        #[arg(long)]
        bytes: u64,
        /// Bytes per second.
        #[arg(long)]
        rate: u64,
    },
    /// Carry out an undo at the deadline, so a fault with no process of its own
    /// (a paused process, a fill file) is time-boxed even if its controller dies.
    Expire {
        #[arg(long)]
        injection: String,
        #[arg(long)]
        deadline_ms: i64,
        /// The undo record, as JSON.
        #[arg(long)]
        undo: String,
    },
    /// Proxy TCP with added latency, a rate cap and resets (tcp-proxy-latency).
    Proxy(crate::fault::ProxyArgs),
    /// Hold packets routed into a TUN device for a delay (network-delay without netem).
    Delay(crate::fault::DelayArgs),
    /// Answer matched DNS names wrongly and forward the rest (dns-fault).
    Dns(crate::fault::DnsArgs),
    /// Serve a FUSE pass-through over a directory that delays or fails its operations
    /// (io-latency, io-error); unmounts it at the deadline.
    IoFault(crate::fault::IoArgs),
    /// Unmount an io helper's mount if the helper dies (started by the io helper).
    IoGuard(crate::fault::IoGuardArgs),
}
