//! Network namespaces: running `tc`, `nft` and `ip` inside a named namespace, or
//! inside a fresh throwaway one (for probing what the kernel supports).
//!
//! Commands enter the namespace with `setns(2)` between fork and exec, exactly
//! like `ip netns exec NAME` but without its mount-namespace setup, so they are
//! cheap and never move a thread of this process.
#![expect(unsafe_code, reason = "pre_exec hooks that enter a network namespace in the forked child")]

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use nix::sched::CloneFlags;

/// Where `ip netns add NAME` binds named namespaces.
const NETNS_DIR: &str = "/var/run/netns";

/// Why a command could not be run in a namespace. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The named namespace does not exist.
    #[error("find network namespace `{name}`: it does not exist (`ip netns list` shows the ones that do)")]
    Missing { name: String },
    /// The namespace's file is there but could not be opened: out of file
    /// descriptors (EMFILE), or permissions. Said as it is, never as "missing".
    #[error("open network namespace `{name}`")]
    Open {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// The name could escape the namespace directory.
    #[error("use network namespace `{name}`: not a plain namespace name")]
    BadName { name: String },
    /// The program ran and failed in a way that says nothing about what the kernel has.
    #[error("run `{command}`: {stderr}")]
    Failed { command: String, stderr: String },
    /// The program could not be started at all.
    #[error("run `{program}`: {source}; is it installed (Debian packages iproute2, nftables)?")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// The file that pins namespace `name`, after checking the name is a plain one.
pub fn path_of(name: &str) -> Result<PathBuf, NetnsError> {
    if super::names::check_netns(name).is_err() {
        return Err(NetnsError::BadName { name: name.escape_debug().collect() });
    }
    Ok(PathBuf::from(NETNS_DIR).join(name))
}

/// Whether namespace `name` exists.
pub fn exists(name: &str) -> bool {
    path_of(name).is_ok_and(|p| p.exists())
}

/// Every named namespace (`ip netns list`), sorted.
pub fn all_named() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else { return Vec::new() };
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| super::names::check_netns(n).is_ok())
        .collect();
    names.sort();
    names
}

/// A command for `program` that runs inside namespace `netns` (`None`: this process's own).
pub fn command(netns: Option<&str>, program: &str) -> Result<Command, NetnsError> {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).env("LC_ALL", "C");
    if let Some(name) = netns {
        let path = path_of(name)?;
        let file = File::open(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => NetnsError::Missing { name: name.to_string() },
            _ => NetnsError::Open { name: name.to_string(), source },
        })?;
        // SAFETY: the hook runs in the forked child before exec and only calls
        // setns(2) on a descriptor opened (close-on-exec) before the fork; it
        // allocates nothing and touches no lock.
        unsafe {
            cmd.pre_exec(move || nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from));
        }
    }
    Ok(cmd)
}

/// Moves the calling thread into namespace `name`; threads and processes it
/// starts afterwards, and sockets and devices it creates, live there too.
pub fn enter(name: &str) -> Result<(), NetnsError> {
    let path = path_of(name)?;
    let file = File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => NetnsError::Missing { name: name.to_string() },
        _ => NetnsError::Open { name: name.to_string(), source },
    })?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| NetnsError::Open { name: name.to_string(), source: e.into() })
}

/// A command for `program` that runs in a fresh, empty network namespace which
/// vanishes with it: a place to try kernel features without changing anything.
pub fn command_in_throwaway(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).env("LC_ALL", "C");
    // SAFETY: the hook runs in the forked child before exec and only calls
    // unshare(2); it allocates nothing and touches no lock.
    unsafe {
        cmd.pre_exec(|| nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from));
    }
    cmd
}

/// Runs `cmd` to completion, feeding it `stdin`, and collects its output.
pub fn run(cmd: Command, stdin: Option<&str>) -> Result<Output, NetnsError> {
    run_then(cmd, stdin, || {})
}

/// Like [`run`], calling `started` once the command runs with its input written (the
/// torture tests crash there: the tool then finishes without its caller).
pub fn run_then(mut cmd: Command, stdin: Option<&str>, started: impl FnOnce()) -> Result<Output, NetnsError> {
    use std::io::Write;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let spawn_error = |source| NetnsError::Spawn { program: program.clone(), source };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(spawn_error)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that exits early closes its end; its stderr says why.
        let _ = pipe.write_all(text.as_bytes());
    }
    started();
    child.wait_with_output().map_err(spawn_error)
}

/// The shell words that run a command in `netns`, for previews: `ip netns exec NAME`.
pub fn preview_prefix(netns: Option<&str>) -> String {
    netns.map(|n| format!("ip netns exec {n} ")).unwrap_or_default()
}

/// The device of the default route in `netns` (IPv4, then IPv6), if there is one.
pub fn default_route_device(netns: Option<&str>) -> Result<Option<String>, NetnsError> {
    for family in ["-4", "-6"] {
        let mut cmd = command(netns, "ip")?;
        cmd.args([family, "-o", "route", "show", "default"]);
        let out = run(cmd, None)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        while let Some(w) = words.next() {
            if w == "dev" {
                return Ok(words.next().map(str::to_string));
            }
        }
    }
    Ok(None)
}
