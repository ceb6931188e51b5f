//! faultdrill: a chaos fault-injection experiment runner for Linux hosts.
//!
//! Layers, highest first (imports only flow downwards):
//! `cli`, `daemon` → `engine` → `fault`, `probe`, `guardrail`, `client` →
//! `experiment`, `journal`, `platform`. `exit`, `ids`, `errors`, `failpoint` and `tls` are shared vocabulary;
//! `report` is the run report every output format (JSON, JUnit, HTML) is built from.

pub mod cli;
pub mod client;
pub mod daemon;
pub mod engine;
pub mod errors;
pub mod exit;
pub mod experiment;
pub mod failpoint;
pub mod fault;
pub mod guardrail;
pub mod ids;
pub mod journal;
pub mod platform;
pub mod probe;
pub mod report;
pub mod tls;
