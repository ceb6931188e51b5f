//! Named crash points at every step boundary of an inject and a rollback, for the torture
//! tests: `FAULTDRILL_FAILPOINTS=apply.mid=kill` makes the process `kill -9` itself there.
//!
//! Test-only by construction, yet always compiled: a point does anything only in a debug
//! build (`cfg!(debug_assertions)`, what `cargo nextest run` builds) *and* when a command
//! that injects or rolls back (`run`, `inject`, `daemon`) armed it from the environment at
//! start. In a release build [`hit`] is an empty function the optimiser removes, and the
//! variable is never read. Helper processes never arm, so a watchdog or a burner that
//! inherits the variable ignores it.

use std::sync::OnceLock;

/// The variable that arms crash points: `NAME=kill[,NAME=kill...]`.
pub const ENV: &str = "FAULTDRILL_FAILPOINTS";

/// Every crash point, in the order an injection meets them.
pub const POINTS: &[&str] = &[
    "journal.pending.before",
    "journal.pending.after",
    "apply.start",
    "apply.mid",
    "apply.done",
    "journal.active.after",
    "rollback.start",
    "rollback.mid",
    "journal.rolled_back.before",
];

static ARMED: OnceLock<Vec<String>> = OnceLock::new();

/// Whether crash points can be armed in this build.
pub const fn is_supported() -> bool {
    cfg!(debug_assertions)
}

/// Arms the crash points named in [`ENV`] (debug builds only; once per process). Returns
/// the names it did not know, for a warning.
pub fn arm_from_env() -> Vec<String> {
    if !is_supported() {
        return Vec::new();
    }
    let Ok(spec) = std::env::var(ENV) else { return Vec::new() };
    let mut armed = Vec::new();
    let mut unknown = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some((name, "kill")) if POINTS.contains(&name) => armed.push(name.to_string()),
            _ => unknown.push(item.to_string()),
        }
    }
    let _ = ARMED.set(armed);
    unknown
}

/// Whether crash point `name` is armed.
pub fn is_armed(name: &str) -> bool {
    is_supported() && ARMED.get().is_some_and(|armed| armed.iter().any(|a| a == name))
}

/// Crash point `name`: if armed, the process dies here at once, as `kill -9` would kill it
/// (no destructor, no rollback, no journal write).
pub fn hit(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown crash point {name}");
    if is_armed(name) {
        eprintln!("failpoint {name}: kill -9");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
