//! The io helper's life: take the directory's descriptor, mount the pass-through
//! over it, serve until the deadline (or SIGTERM/SIGINT/SIGHUP), then detach it.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use fuser::{Config, MountOption, Session, SessionACL};
use nix::fcntl::{OFlag, open};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;

use super::chaos::Chaos;
use super::fs::PassFs;
use crate::platform::linux::UndoError;
use crate::platform::linux::fusemount;

/// Why the pass-through could not be served. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("mount over {path}: faultdrill's {source_name} is already mounted there; one io fault per path at a time")]
    Busy { path: PathBuf, source_name: String },
    #[error("open the directory {path} before mounting over it")]
    Open {
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("mount the FUSE pass-through over {path}")]
    Mount {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("start the guard that unmounts if the io helper dies")]
    Guard(#[source] std::io::Error),
    #[error("unmount the FUSE pass-through at the end")]
    Unmount(#[source] UndoError),
}

/// Mounts the pass-through over `path` with the mount source `source`, calls
/// `ready`, and serves `chaos` until `until`; then detaches the mount.
///
/// `guard` is started first with a pipe on its stdin that only this process
/// holds: when this process dies, however it dies (kill -9 included), the guard
/// reads end-of-file and detaches the mount the kernel would otherwise leave
/// behind dead ("Transport endpoint is not connected").
pub fn serve(
    path: &Path,
    source: &str,
    chaos: Chaos,
    until: Instant,
    guard: Command,
    ready: impl FnOnce(),
) -> Result<(), ServeError> {
    let _guard = start_guard(guard).map_err(ServeError::Guard)?;
    // Files the callers create get the mode they asked for, not the helper's umask.
    nix::sys::stat::umask(Mode::empty());
    // One O_PATH descriptor per inode the kernel remembers: a large tree needs more than 1024.
    if let Ok((_, hard)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    let stop = stop_signals();
    let top = fusemount::top_mount_at(path).ok().flatten();
    if let Some(top) = top.filter(fusemount::MountEntry::is_faultdrill_fuse) {
        return Err(ServeError::Busy { path: path.to_path_buf(), source_name: top.source });
    }
    let root = open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|source| ServeError::Open { path: path.to_path_buf(), source })?;
    let fs = PassFs::new(root, chaos).map_err(|source| ServeError::Open { path: path.to_path_buf(), source })?;
    let mut config = Config::default();
    config.mount_options = vec![MountOption::FSName(source.to_string()), MountOption::DefaultPermissions];
    config.acl = SessionACL::All;
    config.n_threads = Some(2);
    let session =
        Session::new(fs, path, &config).map_err(|source| ServeError::Mount { path: path.to_path_buf(), source })?;
    std::thread::Builder::new()
        .name("fuse-loop".into())
        .spawn(move || session.run())
        .map_err(|source| ServeError::Mount { path: path.to_path_buf(), source })?;
    ready();
    let _ = stop.recv_timeout(until.saturating_duration_since(Instant::now()));
    fusemount::detach(path, source).map(drop).map_err(ServeError::Unmount)
}

/// Starts the guard; the returned pipe end is closed when this process ends.
fn start_guard(mut guard: Command) -> std::io::Result<(Child, ChildStdin)> {
    let mut child = guard.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let pipe = child.stdin.take().expect("stdin is piped");
    Ok((child, pipe))
}

/// The guard's side: waits until the helper's end of `watched` closes (the helper
/// ended), then detaches the helper's mount if it is still there.
pub fn guard(path: &Path, source: &str, mut watched: impl std::io::Read) -> Result<(), UndoError> {
    let mut buf = [0u8; 64];
    loop {
        match watched.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    fusemount::detach(path, source).map(drop)
}

/// Blocks the stop signals in every thread started from now on and waits for them
/// in one thread of its own, so a SIGTERM ends the fault with an unmount instead of
/// leaving a dead mount behind.
fn stop_signals() -> mpsc::Receiver<Signal> {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(signal);
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    let (tx, rx) = mpsc::channel();
    let _ = std::thread::Builder::new().name("stop-signals".into()).spawn(move || {
        if let Ok(signal) = set.wait() {
            let _ = tx.send(signal);
        }
    });
    rx
}
