//! Files only the daemon's user may touch: the state dir (0700, never writable by others)
//! and secret or journal files (0600).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::config::DaemonError;

/// The state dir, made 0700 if new; refused if others may write to it or it is not ours.
pub fn secure_state_dir(dir: &Path) -> Result<(), DaemonError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| DaemonError::Config(format!("create the state dir {}: {e}", dir.display())))?;
    }
    let meta = std::fs::metadata(dir)
        .map_err(|e| DaemonError::Config(format!("read the state dir {}: {e}", dir.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(DaemonError::Config(format!(
            "use the state dir {}: it is writable by {} (mode {mode:o}), so another account could replace the journal or the token; \
             fix it with `chmod 700 {}`",
            dir.display(),
            if mode & 0o002 != 0 { "every account" } else { "its group" },
            dir.display()
        )));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(DaemonError::Config(format!(
            "use the state dir {}: it belongs to uid {}, not to this daemon (uid {me}); fix it with `chown {me} {}`",
            dir.display(),
            meta.uid(),
            dir.display()
        )));
    }
    if mode & 0o077 != 0 {
        // Readable by others: tighten it (the journal and reports are not theirs to read).
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| DaemonError::Config(format!("make the state dir {} private (0700): {e}", dir.display())))?;
    }
    Ok(())
}

/// Refuses a secret file that other accounts can read.
pub fn check_private(path: &Path) -> Result<(), DaemonError> {
    let meta = std::fs::metadata(path).map_err(|e| DaemonError::Config(format!("read {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DaemonError::Config(format!(
            "use the token file {}: other accounts can read it (mode {mode:o}); fix it with `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Makes `path` (and SQLite's `-wal` and `-shm` files beside it) readable by its owner only.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_writable_state_dir_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = secure_state_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("writable by every account") && e.contains("chmod 700"), "{e}");
    }
}
