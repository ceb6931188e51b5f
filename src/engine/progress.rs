//! Live progress on stderr: one line per action start and end, guardrail state changes
//! and trips, and each rollback. A spinner (indicatif) shows the current state when stderr
//! is a terminal; plain lines otherwise. `NO_COLOR` turns colour off. Log lines written
//! through [`write_around_progress`] never tear the spinner's line.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::report::{Event, ProbePhase, SampleRecord, TimelineEntry};

/// Receives every timeline entry as it happens.
pub trait RunObserver: Send {
    fn on_event(&mut self, entry: &TimelineEntry);
    /// The run is over; release the terminal.
    fn finish(&mut self) {}
}

/// The spinner on screen, if any, so log lines can be written around it.
static ON_SCREEN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes `bytes` (whole log lines) to stderr: with a spinner on screen, it is cleared first
/// and drawn again after, so a log line never lands in the middle of the progress line.
pub fn write_around_progress(bytes: &[u8]) -> std::io::Result<()> {
    let bar = ON_SCREEN.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.suspend(|| std::io::stderr().lock().write_all(bytes)),
        None => std::io::stderr().lock().write_all(bytes),
    }
}

fn set_on_screen(bar: Option<ProgressBar>) {
    if let Ok(mut on_screen) = ON_SCREEN.lock() {
        *on_screen = bar;
    }
}

/// Observes nothing (daemon runs, tests).
pub struct Silent;

impl RunObserver for Silent {
    fn on_event(&mut self, _entry: &TimelineEntry) {}
}

/// Progress lines on stderr.
pub struct StderrProgress {
    started_ms: Option<i64>,
    color: bool,
    spinner: Option<ProgressBar>,
    /// Last shown state per guardrail and host, so plain output prints changes only.
    guard_state: HashMap<(String, Option<String>), String>,
    probe_ok: HashMap<(String, Option<String>), bool>,
    /// Injections that cannot be undone: their end says so instead of "rolled back".
    irreversible: std::collections::HashSet<crate::ids::InjectionId>,
}

impl StderrProgress {
    /// Chooses a spinner or plain lines from whether stderr is a terminal.
    pub fn new() -> StderrProgress {
        let tty = std::io::stderr().is_terminal();
        let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let spinner = tty.then(|| {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            set_on_screen(Some(bar.clone()));
            bar
        });
        StderrProgress {
            started_ms: None,
            color,
            spinner,
            guard_state: HashMap::new(),
            probe_ok: HashMap::new(),
            irreversible: Default::default(),
        }
    }

    fn line(&mut self, at_ms: i64, mark: &str, colour: &str, text: &str) {
        let start = *self.started_ms.get_or_insert(at_ms);
        let secs = (at_ms - start) as f64 / 1000.0;
        let mark = if self.color { format!("\x1b[{colour}m{mark}\x1b[0m") } else { mark.to_string() };
        let line = format!("[{secs:>7.2}s] {mark} {text}");
        match &self.spinner {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }

    fn status(&self, text: String) {
        if let Some(bar) = &self.spinner {
            bar.set_message(text);
        }
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        StderrProgress::new()
    }
}

const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";
const BLUE: &str = "34";
const DIM: &str = "2";

impl RunObserver for StderrProgress {
    fn on_event(&mut self, entry: &TimelineEntry) {
        let at = entry.at_ms;
        match &entry.event {
            Event::State { state } => {
                self.status(state.as_str().replace('_', " "));
                self.line(at, "·", DIM, state.as_str());
            }
            Event::Warning { message } => self.line(at, "!", YELLOW, &format!("warning: {message}")),
            Event::GroupStarted { name, .. } => self.line(at, "▸", BLUE, &format!("group {name} started")),
            Event::GroupFinished { name, .. } => self.line(at, "▸", BLUE, &format!("group {name} finished")),
            Event::ActionStarted { action, host, injection, held, irreversible, hit } => {
                let how = match (*held, *irreversible) {
                    (true, false) => "injected",
                    (true, true) => {
                        self.irreversible.insert(injection.clone());
                        "injected (irreversible: cannot be undone)"
                    }
                    (false, _) => "applied (instantaneous)",
                };
                self.status(format!("running: {} on {host}", action.label));
                let hit: String = hit.iter().map(|h| format!("; {h}")).collect();
                self.line(at, "▶", GREEN, &format!("{} on {host}: {how} [{injection}]{hit}", action.label));
            }
            Event::ActionEnded { action, host, injection, rolled_back } => {
                let how = match (*rolled_back, self.irreversible.contains(injection)) {
                    (_, true) => "duration ended (irreversible: nothing to roll back)",
                    (true, false) => "duration ended, rolled back",
                    (false, false) => "duration ended, left in place",
                };
                self.status(format!("running: {} ended", action.label));
                self.line(at, "■", GREEN, &format!("{} on {host}: {how} [{injection}]", action.label));
            }
            Event::ActionFailed { action, host, error } => {
                self.line(at, "✗", RED, &format!("{} on {host}: failed: {error}", action.label))
            }
            Event::ProbeSample { phase, probe, sample, ok, failures } => {
                let key = (probe.clone(), sample.host.clone());
                let changed = self.probe_ok.insert(key, *ok) != Some(*ok);
                if *phase != ProbePhase::During || changed {
                    let verdict = if *ok { "ok".to_string() } else { format!("FAILED: {}", failures.join("; ")) };
                    let phase = format!("{phase:?}").to_lowercase();
                    let text = format!("steady state {phase}: {probe}{} = {} {verdict}", on(sample), shown(sample));
                    self.line(at, if *ok { "✓" } else { "✗" }, if *ok { GREEN } else { RED }, &text);
                }
            }
            Event::ProbeDeviated { message, .. } => {
                self.line(at, "✗", RED, &format!("steady state DEVIATED: {message}"))
            }
            Event::GuardrailSample { guardrail, sample, breached, consecutive, for_samples } => {
                let state = match (sample.error.is_some(), *breached) {
                    // Fail safe: an unmeasured sample counts toward the breach unless the rule ignores it.
                    (true, true) if consecutive > for_samples => "counts as still breaching".to_string(),
                    (true, true) => format!("counts as breaching {consecutive}/{for_samples}"),
                    (true, false) => "ignored (on_unmeasured: ignore)".to_string(),
                    (false, true) if consecutive > for_samples => "still breaching".to_string(),
                    (false, true) => format!("breaching {consecutive}/{for_samples}"),
                    (false, false) => "ok".to_string(),
                };
                let text = format!("guardrail {guardrail}{} = {} {state}", on(sample), shown(sample));
                self.status(text.clone());
                let key = (guardrail.clone(), sample.host.clone());
                if self.guard_state.insert(key, state.clone()).as_deref() != Some(state.as_str()) {
                    self.line(at, "◆", if *breached { YELLOW } else { DIM }, &text);
                }
            }
            Event::GuardrailTripped { guardrail, action, message, .. } => {
                let then = if action == "warn" { "warning only" } else { "stopping and rolling back" };
                self.line(at, "⚠", RED, &format!("guardrail {guardrail} TRIPPED: {message}; {then}"));
            }
            Event::LeaseRenewFailed { injection, host, error } => {
                self.line(at, "!", YELLOW, &format!("lease of {injection} on {host} not renewed: {error}"))
            }
            Event::FaultEnded { action, host, injection, ended_ms, why, .. } => {
                let when = crate::report::format_ms(*ended_ms);
                let text =
                    format!("{} on {host}: fault NOT HELD, it ended at {when}: {why} [{injection}]", action.label);
                self.line(at, "✗", RED, &text)
            }
            Event::Signal { signal } => self.line(at, "!", YELLOW, &format!("{signal} received: rolling back")),
            Event::StopRequested { reason } => self.line(at, "!", YELLOW, &format!("stop requested: {reason}")),
            Event::RollbackStarted { reason, count } => {
                self.status("rolling back".into());
                self.line(at, "↩", BLUE, &format!("rolling back {count} injection(s): {reason}"));
            }
            Event::RolledBack { record } => {
                let what = record.action.clone().unwrap_or_else(|| record.fault.clone());
                let took = record.finished_ms - record.started_ms;
                let (mark, colour, how) = if record.ok {
                    ("↩", GREEN, format!("{} ({})", record.verdict(), record.detail.replace('_', " ")))
                } else {
                    ("✗", RED, format!("ROLLBACK FAILED: {}", record.detail))
                };
                let text = format!("{what} on {}: {how} in {took} ms [{}]", record.host, record.injection);
                self.line(at, mark, colour, &text);
            }
            Event::RollbackProgress { done, total, waiting, waited_ms } => {
                let text = format!(
                    "rolling back: {done} of {total} done; waiting {:.1}s on {}",
                    *waited_ms as f64 / 1000.0,
                    waiting.join(", ")
                );
                self.line(at, "↩", BLUE, &text);
            }
            Event::RollbackFinished { ok } => {
                let (mark, colour, text) =
                    if *ok { ("↩", GREEN, "everything rolled back") } else { ("✗", RED, "some rollbacks FAILED") };
                self.line(at, mark, colour, text);
            }
            Event::LeftInPlace { injection, host, fault } => {
                self.line(at, "!", YELLOW, &format!("{fault} on {host} left in place (rollback: never) [{injection}]"))
            }
            Event::Finished { outcome, exit_code, reason } => {
                // Green when the run exits 0: passed, or the outcome the drill expected.
                let colour = if *exit_code == crate::exit::PASSED { GREEN } else { RED };
                self.line(at, "=", colour, &format!("{outcome} (exit {exit_code}): {reason}"));
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.spinner.take() {
            set_on_screen(None);
            bar.finish_and_clear();
        }
    }
}

fn on(sample: &SampleRecord) -> String {
    sample.host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default()
}

fn shown(sample: &SampleRecord) -> String {
    match (&sample.error, sample.value, sample.status, sample.exit) {
        (Some(e), ..) => format!("(unmeasured: {e})"),
        (None, Some(v), ..) => format!("{v:.1}"),
        (None, None, Some(status), _) => format!("status {status}"),
        (None, None, None, Some(code)) => format!("exit {code}"),
        _ => "-".into(),
    }
}
