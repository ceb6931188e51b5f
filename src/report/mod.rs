//! Run reports: the `report.json` model every output format (JSON, JUnit, HTML) is built from,
//! writing it to the state directory, and rendering it as JUnit XML and self-contained HTML.

mod fleet;
mod hostlist;
mod html;
mod html_actions;
mod junit;
mod model;
mod prune;
mod score;
mod spread;
mod svg;
mod thin;
mod write;

pub use html::to_html;
pub use junit::to_junit;
pub use model::{
    ActionRef, Event, GuardrailReaction, InjectionSummary, Outcome, OutcomeExpectation, ProbePhase, Report,
    ResolvedTarget, RollbackRecord, RunState, SCHEMA_VERSION, SampleRecord, TimelineEntry, TripSource, format_ms,
};
pub use prune::prune_reports;
pub use score::{WEIGHT_DURING_SAMPLE, WEIGHT_EDGE_SAMPLE, WEIGHT_GUARDRAIL, resilience_score};
pub use svg::{Marker, Series, Window, escape, timeline_svg};
pub use thin::{MAX_TIMELINE_SAMPLES, SampleBudget, is_sample};
pub use write::{ReportError, copy_report, read_report, report_path, write_report};
