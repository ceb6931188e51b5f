//! Run reports: the `report.json` model every output format (JSON, JUnit, HTML) is built from,
//! and writing it to the state directory.

mod model;
mod write;

pub use model::{
    ActionRef, Event, GuardrailReaction, InjectionSummary, Outcome, ProbePhase, Report, ResolvedTarget, RollbackRecord,
    RunState, SCHEMA_VERSION, SampleRecord, TimelineEntry, TripSource,
};
pub use write::{ReportError, copy_report, read_report, report_path, write_report};
