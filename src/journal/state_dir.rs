//! Where faultdrill keeps its state when `--state-dir` is not given.

use std::path::PathBuf;

/// `$FAULTDRILL_STATE_DIR`, else `$XDG_STATE_HOME/faultdrill`, else `~/.local/state/faultdrill`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAULTDRILL_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(xdg).join("faultdrill");
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty()).unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".local/state/faultdrill")
}

/// The daemon's generated token inside its state dir (0600): the daemon writes it when
/// it is given no token, and the CLI on the same host reads it for loopback URLs.
pub fn generated_token_path(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("token")
}
