//! What io-latency and io-error share: their target directory and who they hit,
//! the safety checks on that directory, the helper's command line, and the
//! helper itself (`faultdrill helper io-fault`), which mounts a FUSE
//! pass-through over the directory and serves it until its deadline.
//!
//! Why FUSE and not cgroup IO throttling: `io.max`/blkio limit bandwidth and IOPS
//! of block devices only, per cgroup; they cannot add a fixed latency, cannot fail
//! an operation with an errno, do not see tmpfs, overlay or network filesystems,
//! and cannot scope a fault to one directory. A FUSE pass-through does all four.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::context::{Applied, FaultError, InjectContext, Prepared};
use super::text::{unix_ms, when};
use super::undo::Undo;
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::fusemount::{self, SOURCE_PREFIX};
use crate::platform::linux::helpers;
use crate::platform::linux::passfs::{self, Chaos, Effect, Filter, Ops};

pub const PATH: ParamSpec = ParamSpec {
    name: "path",
    kind: ParamKind::Text,
    default: None,
    required: true,
    doc: "an existing directory; a FUSE pass-through is mounted over it for the fault's duration \
          (files opened before the fault keep their old, unaffected descriptors)",
};
pub const OPS: ParamSpec = ParamSpec {
    name: "ops",
    kind: ParamKind::Choice(&["read", "write", "all"]),
    default: Some("all"),
    required: false,
    doc: "which operations: read, write, or all (every operation under the path: open, stat, readdir, \
          create, rename, fsync, ...)",
};
pub const PERCENT: ParamSpec = ParamSpec {
    name: "percent",
    kind: ParamKind::Percent { min: 0.0, max: 100.0 },
    default: Some("100"),
    required: false,
    doc: "share of the selected operations hit, each drawn at random",
};
pub const PID: ParamSpec = ParamSpec {
    name: "pid",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "hit only these processes (all their threads); with `comm`, either matches; absent: every process",
};
pub const COMM: ParamSpec = ParamSpec {
    name: "comm",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "hit only processes with this exact name (/proc/PID/comm, as `ps -o comm` shows it)",
};

/// Directories an io fault never mounts over (nor under).
const FORBIDDEN: &[&str] = &["/proc", "/sys", "/dev"];

/// The checks both io faults make at load time.
pub fn check(params: &Params) -> Result<(), String> {
    filter_of(params).map(drop)
}

fn filter_of(params: &Params) -> Result<Filter, String> {
    let pids = params
        .list("pid")
        .iter()
        .map(|p| match p.trim().parse::<u32>() {
            Ok(pid) if pid > 0 => Ok(pid),
            _ => Err(format!("parameter `pid`: `{p}` is not a process id")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = params.list("comm").iter().map(|n| n.trim().to_string()).collect();
    if let Some(bad) = names.iter().find(|n| n.is_empty() || n.len() > 15 || n.contains('/')) {
        return Err(format!("parameter `comm`: `{bad}` is not a process name (1 to 15 characters, no `/`)"));
    }
    Ok(Filter { pids, names })
}

/// The directory to mount over, made absolute and checked: it exists, is a
/// directory, and is none of /, /proc, /sys, /dev (or under them), nor the state
/// directory, inside it, or above it.
pub fn target_dir(params: &Params, state_dir: &Path) -> Result<PathBuf, FaultError> {
    let given = params.text("path").unwrap_or_default();
    let path = Path::new(given);
    if !path.is_absolute() {
        return Err(FaultError::Refused(format!("parameter `path`: `{given}` is not an absolute path")));
    }
    let real = path.canonicalize().map_err(|e| {
        FaultError::Refused(format!("parameter `path`: {given} cannot be used ({e}); give an existing directory"))
    })?;
    if !real.is_dir() {
        return Err(FaultError::Refused(format!("parameter `path`: {} is not a directory", real.display())));
    }
    if real == Path::new("/") || FORBIDDEN.iter().any(|f| real.starts_with(f)) {
        return Err(FaultError::Refused(format!(
            "parameter `path`: faultdrill never mounts over {} (/, /proc, /sys and /dev are off limits)",
            real.display()
        )));
    }
    let state = state_dir.canonicalize().unwrap_or_else(|_| state_dir.to_path_buf());
    if real.starts_with(&state) || state.starts_with(&real) {
        return Err(FaultError::Refused(format!(
            "parameter `path`: {} holds or is inside faultdrill's state directory {}; its journal must stay reachable",
            real.display(),
            state.display()
        )));
    }
    Ok(real)
}

/// Prepares an io fault with `effect` (described for people as `what`).
pub fn prepare(params: &Params, cx: &InjectContext, effect: Effect, what: String) -> Result<Prepared, FaultError> {
    let filter = filter_of(params).map_err(FaultError::Refused)?;
    let path = target_dir(params, &cx.state_dir)?;
    let device = fusemount::fuse_device();
    if !device.exists() {
        return Err(FaultError::Unsupported(format!(
            "io faults need FUSE, and {} does not exist: load the module (`modprobe fuse`), or in a container \
             pass the device through (`--device /dev/fuse`); nothing was changed",
            device.display()
        )));
    }
    if let Ok(Some(top)) = fusemount::top_mount_at(&path) {
        if top.is_faultdrill_fuse() {
            return Err(FaultError::Refused(format!(
                "{} already carries faultdrill's io fault {}: one io fault per path at a time \
                 (roll that one back first, or run `faultdrill recover`)",
                path.display(),
                top.source
            )));
        }
    }
    let args = IoArgs {
        injection: cx.injection.to_string(),
        deadline_ms: unix_ms(cx.deadline),
        path: path.clone(),
        source: format!("{SOURCE_PREFIX}{}", cx.injection),
        ops: params.text("ops").unwrap_or("all").to_string(),
        percent: params.number("percent").unwrap_or(100.0),
        latency_us: 0,
        jitter_us: 0,
        errno: None,
        pid: filter.pids.clone(),
        comm: filter.names.clone(),
    }
    .with_effect(effect);
    let mut argv = vec!["helper".to_string(), "io-fault".to_string()];
    argv.extend(args.to_argv());
    let who = if filter.is_empty() {
        "every process".to_string()
    } else {
        let mut who: Vec<String> = filter.pids.iter().map(|p| format!("pid {p}")).collect();
        who.extend(filter.names.iter().map(|n| format!("comm {n}")));
        who.join(", ")
    };
    let preview = vec![
        format!(
            "mount a FUSE pass-through (fstype fuse, source {}) over {}, served by `{} {}`",
            args.source,
            path.display(),
            cx.exe.display(),
            argv.join(" ")
        ),
        format!(
            "{what}, on {} % of {} operations of {who}, until {} (the helper unmounts then; rollback runs `umount -l {}` and stops it)",
            args.percent,
            args.ops,
            when(cx.deadline),
            path.display()
        ),
    ];
    let undo = Undo::All {
        steps: vec![
            Undo::stop_helpers(&cx.injection),
            Undo::UnmountFuse { mountpoint: path, source: args.source.clone() },
        ],
    };
    let exe = cx.exe.clone();
    let apply = move || {
        helpers::spawn_helper(&exe, &argv, Duration::from_secs(10))
            .map(|helper| Applied::by_helpers([Some(helper)]))
            .map_err(|e| FaultError::Apply { context: e.to_string(), source: None })
    };
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

/// The io helper's command line; built by the faults, parsed by `faultdrill helper io-fault`.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct IoArgs {
    /// The injection this helper belongs to (how rollback finds it).
    #[arg(long)]
    pub injection: String,
    /// Unix milliseconds at which the helper unmounts and exits by itself.
    #[arg(long)]
    pub deadline_ms: i64,
    /// The directory to mount over (absolute, already checked by the fault).
    #[arg(long)]
    pub path: PathBuf,
    /// The mount's source (fsname): `faultdrill:<injection>`.
    #[arg(long)]
    pub source: String,
    /// read, write or all.
    #[arg(long, default_value = "all")]
    pub ops: String,
    /// Share of the selected operations hit.
    #[arg(long, default_value_t = 100.0)]
    pub percent: f64,
    /// Delay of a hit operation, in microseconds (io-latency).
    #[arg(long, default_value_t = 0)]
    pub latency_us: u64,
    /// Uniform random variation of the delay, plus or minus.
    #[arg(long, default_value_t = 0)]
    pub jitter_us: u64,
    /// Fail hit operations with this errno number instead (io-error).
    #[arg(long)]
    pub errno: Option<i32>,
    /// Hit only these processes.
    #[arg(long, value_delimiter = ',')]
    pub pid: Vec<u32>,
    /// Hit only processes with these exact names.
    #[arg(long, value_delimiter = ',')]
    pub comm: Vec<String>,
}

impl IoArgs {
    fn with_effect(mut self, effect: Effect) -> IoArgs {
        match effect {
            Effect::Delay { latency, jitter } => {
                self.latency_us = latency.as_micros() as u64;
                self.jitter_us = jitter.as_micros() as u64;
            }
            Effect::Fail { errno } => self.errno = Some(errno),
        }
        self
    }

    /// The words after `faultdrill helper io-fault`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "--injection".into(),
            self.injection.clone(),
            "--deadline-ms".into(),
            self.deadline_ms.to_string(),
            "--path".into(),
            self.path.display().to_string(),
            "--source".into(),
            self.source.clone(),
            "--ops".into(),
            self.ops.clone(),
            "--percent".into(),
            self.percent.to_string(),
        ];
        match self.errno {
            Some(errno) => argv.extend(["--errno".into(), errno.to_string()]),
            None => argv.extend([
                "--latency-us".into(),
                self.latency_us.to_string(),
                "--jitter-us".into(),
                self.jitter_us.to_string(),
            ]),
        }
        if !self.pid.is_empty() {
            let pids: Vec<String> = self.pid.iter().map(u32::to_string).collect();
            argv.extend(["--pid".into(), pids.join(",")]);
        }
        if !self.comm.is_empty() {
            argv.extend(["--comm".into(), self.comm.join(",")]);
        }
        argv
    }

    fn chaos(&self) -> Result<Chaos, IoHelperError> {
        let invalid = |m: String| IoHelperError::Invalid(m);
        let ops =
            Ops::parse(&self.ops).ok_or_else(|| invalid(format!("--ops `{}`: use read, write or all", self.ops)))?;
        if !(0.0..=100.0).contains(&self.percent) {
            return Err(invalid(format!("--percent {}: out of 0..100", self.percent)));
        }
        let effect = match self.errno {
            Some(errno) if errno > 0 => Effect::Fail { errno },
            Some(errno) => return Err(invalid(format!("--errno {errno}: not an errno"))),
            None => Effect::Delay {
                latency: Duration::from_micros(self.latency_us),
                jitter: Duration::from_micros(self.jitter_us),
            },
        };
        Ok(Chaos {
            effect,
            ops,
            percent: self.percent,
            filter: Filter { pids: self.pid.clone(), names: self.comm.clone() },
        })
    }
}

/// Why the io helper stopped. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum IoHelperError {
    #[error("run the io helper: {0}")]
    Invalid(String),
    #[error(transparent)]
    Serve(#[from] passfs::ServeError),
    #[error("unmount after the io helper died")]
    Guard(#[source] crate::platform::linux::UndoError),
}

impl IoHelperError {
    /// Whether the command line itself was wrong (exit 64).
    pub fn is_invalid(&self) -> bool {
        matches!(self, IoHelperError::Invalid(_))
    }
}

/// The io helper: mounts the pass-through, says `ready`, serves until the
/// deadline (or a stop signal), then detaches the mount.
pub fn run_io_helper(args: IoArgs) -> Result<(), IoHelperError> {
    let chaos = args.chaos()?;
    if !args.source.starts_with(SOURCE_PREFIX) || !args.path.is_absolute() {
        return Err(IoHelperError::Invalid(format!(
            "--source must start with `{SOURCE_PREFIX}` and --path be absolute, found `{}` and `{}`",
            args.source,
            args.path.display()
        )));
    }
    // Five seconds past the deadline for the unmount before the alarm ends the helper.
    let Some(left) = helpers::become_helper(args.deadline_ms, Duration::from_secs(5)) else {
        return Ok(());
    };
    let ready = helpers::report_ready;
    let guard_args = IoGuardArgs {
        injection: args.injection.clone(),
        deadline_ms: args.deadline_ms,
        path: args.path.clone(),
        source: args.source.clone(),
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut guard = std::process::Command::new(exe);
    guard.args(["helper", "io-guard"]).args(guard_args.to_argv());
    passfs::serve(&args.path, &args.source, chaos, Instant::now() + left, guard, ready)?;
    Ok(())
}

/// The io guard's command line (`faultdrill helper io-guard`), started by the io helper.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct IoGuardArgs {
    /// The injection it guards (a tag: rollback's search finds it too).
    #[arg(long)]
    pub injection: String,
    /// The io helper's deadline; the guard lives a little longer.
    #[arg(long)]
    pub deadline_ms: i64,
    /// The helper's mount point.
    #[arg(long)]
    pub path: PathBuf,
    /// The helper's mount source, `faultdrill:<injection>`.
    #[arg(long)]
    pub source: String,
}

impl IoGuardArgs {
    fn to_argv(&self) -> Vec<String> {
        vec![
            "--injection".into(),
            self.injection.clone(),
            "--deadline-ms".into(),
            self.deadline_ms.to_string(),
            "--path".into(),
            self.path.display().to_string(),
            "--source".into(),
            self.source.clone(),
        ]
    }
}

/// The io guard: waits for its stdin (a pipe only the io helper writes to) to
/// close, then detaches the helper's mount if the helper left it behind.
pub fn run_io_guard(args: IoGuardArgs) -> Result<(), IoHelperError> {
    if !args.source.starts_with(SOURCE_PREFIX) || !args.path.is_absolute() {
        return Err(IoHelperError::Invalid(format!(
            "--source must start with `{SOURCE_PREFIX}` and --path be absolute, found `{}` and `{}`",
            args.source,
            args.path.display()
        )));
    }
    // It outlives the helper's own alarm (5 s past the deadline, plus 2) by a margin.
    helpers::become_helper(args.deadline_ms, Duration::from_secs(15));
    passfs::guard(&args.path, &args.source, std::io::stdin().lock()).map_err(IoHelperError::Guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_command_line_round_trips() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: IoArgs,
        }
        let args = IoArgs {
            injection: "i-1".into(),
            deadline_ms: 42,
            path: "/data dir".into(),
            source: "faultdrill:i-1".into(),
            ops: "read".into(),
            percent: 12.5,
            latency_us: 0,
            jitter_us: 0,
            errno: None,
            pid: vec![7, 8],
            comm: vec!["postgres".into()],
        }
        .with_effect(Effect::Delay { latency: Duration::from_millis(50), jitter: Duration::from_millis(5) });
        let mut argv = vec!["x".to_string()];
        argv.extend(args.to_argv());
        assert_eq!(Cli::parse_from(argv).args, args);
        let chaos = args.chaos().unwrap();
        assert_eq!(chaos.ops, Ops::Read);
        assert_eq!(chaos.filter.pids, vec![7, 8]);
    }

    #[test]
    fn off_limits_directories_are_refused() {
        let state = tempfile::tempdir().unwrap();
        let params = |path: &str| {
            let raw = [("path".to_string(), serde_json::json!(path))].into_iter().collect();
            Params::check(&[PATH], &raw).unwrap()
        };
        for bad in ["/", "/proc", "/sys/fs", "/dev", "/dev/shm", "relative", "/no/such/dir", "/etc/hostname"] {
            assert!(target_dir(&params(bad), state.path()).is_err(), "{bad}");
        }
        let state_path = state.path().display().to_string();
        assert!(target_dir(&params(&state_path), state.path()).is_err(), "the state dir itself");
        let parent = state.path().parent().unwrap().display().to_string();
        assert!(target_dir(&params(&parent), state.path()).is_err(), "a directory above the state dir");
        let other = tempfile::tempdir().unwrap();
        let ok = target_dir(&params(&other.path().display().to_string()), state.path()).unwrap();
        assert_eq!(ok, other.path().canonicalize().unwrap());
    }
}
