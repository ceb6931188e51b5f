//! Process exit codes: the contract with CI pipelines (DESIGN §2).
//!
//! Every code faultdrill can exit with is defined here, once. Scripts gate on
//! these numbers, so they never change meaning.

/// Passed: the steady state held, nothing tripped, everything rolled back.
pub const PASSED: u8 = 0;
/// Deviated: the steady-state hypothesis failed. A finding, not a crash.
pub const DEVIATED: u8 = 1;
/// A guardrail tripped: the run stopped early and rolled back.
pub const GUARDRAIL_TRIPPED: u8 = 2;
/// An action could not be injected (what was injected was rolled back).
pub const ERROR: u8 = 3;
/// A rollback failed: something may still be injected; the report says what. Includes a
/// rollback "NOT verified" (the fault was still there when faultdrill looked again) and a
/// `recover` that finds sidecars of injections a lost journal never heard of.
pub const ROLLBACK_FAILED: u8 = 4;
/// The steady state did not hold before anything was injected: nothing was injected.
/// A broken drill (wrong URL, service already down), never a finding.
pub const NOT_STEADY_BEFORE: u8 = 5;
/// A fault was not held as planned on every targeted host (it ended early: rolled back by
/// its daemon, expired, the daemon restarted or went out of reach): the hypothesis was not
/// tested as written. Never "passed"; a failed rollback (4) outranks it.
pub const FAULT_NOT_HELD: u8 = 6;
/// Invalid input: a bad experiment file or bad flags.
pub const INVALID_INPUT: u8 = 64;
/// The daemon refused the call: no valid token (401), or the token's role or the
/// daemon's policy does not allow it (403). Nothing was changed. (sysexits' EX_NOPERM.)
pub const REFUSED: u8 = 77;
/// Interrupted by SIGINT or SIGTERM, after rollback.
pub const INTERRUPTED: u8 = 130;
