//! Guardrails: judge each sample the moment it is taken, and trip after `for`
//! consecutive breaching samples (per rule and host).

mod judge;

pub use judge::{GuardrailJudge, Judgement};
