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
/// A rollback failed: something may still be injected; the report says what.
pub const ROLLBACK_FAILED: u8 = 4;
/// A fault was not held as planned on every targeted host (it ended early: rolled back by
/// its daemon, expired, the daemon restarted or went out of reach): the hypothesis was not
/// tested as written. Never "passed"; a failed rollback (4) outranks it.
pub const FAULT_NOT_HELD: u8 = 6;
/// Invalid input: a bad experiment file or bad flags.
pub const INVALID_INPUT: u8 = 64;
/// Interrupted by SIGINT or SIGTERM, after rollback.
pub const INTERRUPTED: u8 = 130;
