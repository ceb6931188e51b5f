//! Whether a test may do root things. Outside CI a non-root run skips, saying so;
//! in CI (`CI` set) a non-root run fails, never a silent skip.
//!
//! Include it with `#[path = "../common/root.rs"] mod root;` from a harness folder.

/// True when running as root; otherwise skips `test` (false) or, in CI, fails it.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{test} needs root, and CI runs as root");
    eprintln!("skipping {test}: needs root");
    false
}
