//! Run-loop tests through the library: plans built in Rust, real faults on real files and
//! processes, helpers run from the real binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use faultdrill::engine::{
    InjectRequest, LocalHost, Run, RunControl, RunOptions, Silent, TargetEnv, new_run, resolve_targets,
};
use faultdrill::experiment::{
    ActionPlan, Comparison, Expectation, ExperimentPlan, GroupMode, GroupPlan, GuardrailAction, GuardrailPlan,
    GuardrailsPlan, HostMetric, OnEmpty, Params, Pick, ProbePlan, ProbeSource, RollbackPolicy, SteadyStatePlan,
    TargetPlan, TargetSelector,
};
use faultdrill::fault::find_fault;
use faultdrill::ids::RunId;
use faultdrill::journal::Journal;
use faultdrill::probe::Prober;
use faultdrill::report::{Event, Outcome, Report, TripSource};

fn params(fault: &str, raw: serde_json::Value) -> Params {
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_value(raw).unwrap();
    let spec = find_fault(fault).unwrap_or_else(|| panic!("fault {fault} is not in the library")).info().params;
    Params::check(spec, &raw).unwrap_or_else(|p| panic!("params of {fault}: {p:?}"))
}

fn action(label: &str, fault: &str, raw: serde_json::Value, hold_ms: Option<u64>) -> ActionPlan {
    ActionPlan {
        label: label.into(),
        fault: fault.into(),
        params: params(fault, raw),
        duration: hold_ms.map(Duration::from_millis),
        wait_before: Duration::ZERO,
        wait_after: Duration::ZERO,
    }
}

fn group(name: &str, mode: GroupMode, after: Vec<usize>, actions: Vec<ActionPlan>) -> GroupPlan {
    GroupPlan { name: name.into(), target: "here".into(), mode, after, actions }
}

fn disk_rule(name: &str, dir: &Path, breach: Comparison, for_samples: u32) -> GuardrailPlan {
    GuardrailPlan {
        name: name.into(),
        source: ProbeSource::Metric {
            metric: HostMetric::DiskUsedPercent,
            path: Some(dir.to_path_buf()),
            process: None,
            target: None,
        },
        breach,
        for_samples,
        action: GuardrailAction::Rollback,
        on_unmeasured: Default::default(),
        measure: Default::default(),
    }
}

fn plan(groups: Vec<GroupPlan>, rules: Vec<GuardrailPlan>, interval_ms: u64) -> ExperimentPlan {
    ExperimentPlan {
        name: "engine-test".into(),
        description: None,
        labels: BTreeMap::new(),
        source: None,
        targets: vec![TargetPlan {
            name: "here".into(),
            selector: TargetSelector::Hosts(vec!["local".into()]),
            pick: Pick::All,
            max: None,
            on_empty: OnEmpty::Fail,
            seed: None,
        }],
        steady_state: None,
        guardrails: GuardrailsPlan { interval: Duration::from_millis(interval_ms), rules, external: vec![] },
        groups,
        rollback: RollbackPolicy::Always,
        lease: Duration::from_secs(15),
        expect_outcome: None,
        host_constraints: Vec::new(),
        recovery: None,
    }
}

struct Fixture {
    state: tempfile::TempDir,
    data: tempfile::TempDir,
    journal: Arc<Journal>,
}

fn fixture() -> Fixture {
    let state = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(state.path()).unwrap());
    Fixture { state, data, journal }
}

impl Fixture {
    /// A 1 MiB disk-fill in the data dir, held `hold_ms`.
    fn fill(&self, label: &str, hold_ms: u64) -> ActionPlan {
        action(label, "disk-fill", serde_json::json!({"path": self.data.path(), "size": "1MiB"}), Some(hold_ms))
    }
}

fn start(fx: &Fixture, plan: ExperimentPlan) -> (Run, RunControl) {
    let local = LocalHost::new(fx.journal.clone()).with_helper_exe(env!("CARGO_BIN_EXE_faultdrill"));
    let env = TargetEnv { local, inventory: None };
    let targets = resolve_targets(&plan, &env).unwrap();
    let options = RunOptions {
        run_id: RunId::generate(),
        journal: Some(fx.journal.clone()),
        handle_signals: false,
        prober: Arc::new(Prober::new()),
    };
    new_run(plan, targets, options, Box::new(Silent))
}

/// A child process the test owns; killed even when the test fails.
struct Sleeper(Child);

impl Sleeper {
    fn spawn() -> Sleeper {
        Sleeper(Command::new("sleep").arg("60").spawn().unwrap())
    }
    fn state(&self) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap();
        stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.id().to_string()]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn events<'a>(report: &'a Report, pick: impl Fn(&Event) -> bool + 'a) -> impl Iterator<Item = &'a Event> + 'a {
    report.timeline.iter().map(|e| &e.event).filter(move |e| pick(e))
}

/// Waits until `count` actions have started (subscribe before the run starts); fails the
/// test, never hangs, if the run ends first.
async fn until_started(mut rx: tokio::sync::broadcast::Receiver<faultdrill::report::TimelineEntry>, count: usize) {
    use tokio::sync::broadcast::error::RecvError;
    let wait = async {
        let mut seen = 0;
        while seen < count {
            match rx.recv().await {
                Ok(entry) if matches!(entry.event, Event::ActionStarted { .. }) => seen += 1,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("the run ended before {count} actions started"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait).await.expect("actions started within 30s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_fault_is_rolled_back_when_its_duration_ends() {
    let fx = fixture();
    let fill = fx.fill("fill/disk-fill#1", 300);
    let (run, _control) = start(&fx, plan(vec![group("fill", GroupMode::Sequential, vec![], vec![fill])], vec![], 100));
    let report = run.execute().await;
    assert_eq!(report.outcome, Some(Outcome::Passed), "{:?}", report.reason);
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.injections.len(), 1);
    assert_eq!(report.rollbacks.len(), 1);
    assert!(report.rollbacks[0].ok && report.rollbacks[0].reason == "duration ended", "{:?}", report.rollbacks);
    assert_eq!(files_in(fx.data.path()), 0, "the fill file is gone");
    assert!(fx.journal.live().unwrap().is_empty());
    let runs = fx.journal.runs(5).unwrap();
    assert_eq!(runs[0].outcome.as_deref(), Some("passed"));
    drop(fx.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_trip_rolls_back_everything() {
    let fx = fixture();
    let child = Sleeper::spawn();
    let actions = vec![
        fx.fill("both/disk-fill#1", 20_000),
        action("both/process-pause#2", "process-pause", serde_json::json!({"pid": child.0.id()}), Some(20_000)),
    ];
    let rule = disk_rule("never", fx.data.path(), Comparison::Gt(100.5), 2);
    let (run, control) = start(&fx, plan(vec![group("both", GroupMode::Parallel, vec![], actions)], vec![rule], 100));
    let live = control.subscribe();
    let running = tokio::spawn(run.execute());
    until_started(live, 2).await;
    assert_eq!(child.state(), 'T', "paused while the fault is held");
    assert_eq!(files_in(fx.data.path()), 1, "the fill file is in place");
    let refused = control.trip("no-such-rule", "test").await.unwrap_err();
    assert!(refused.to_string().contains("has: never"), "{refused}");
    control.trip("never", "alarm fired").await.unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.outcome, Some(Outcome::GuardrailTripped), "{:?}", report.reason);
    assert_eq!(report.exit_code, Some(2));
    // The two actions of a parallel group are independent: rolled back at once, in no order.
    let mut injected: Vec<_> = report.injections.iter().map(|i| i.id.clone()).collect();
    let mut undone: Vec<_> = report.rollbacks.iter().map(|r| r.injection.clone()).collect();
    injected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    undone.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(undone, injected, "each rolled back once");
    assert!(report.all_rolled_back(), "{:?}", report.rollbacks);
    assert_ne!(child.state(), 'T', "resumed");
    assert_eq!(files_in(fx.data.path()), 0, "the fill file is gone");
    let trips: Vec<_> = events(&report, |e| matches!(e, Event::GuardrailTripped { .. })).collect();
    assert!(matches!(trips[..], [Event::GuardrailTripped { source: TripSource::External, .. }]), "{trips:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrail_samples_trip_after_for_consecutive_breaches() {
    let fx = fixture();
    let fill = fx.fill("fill/disk-fill#1", 20_000);
    let rule = disk_rule("any-use", fx.data.path(), Comparison::Ge(0.0), 3);
    let (run, _control) =
        start(&fx, plan(vec![group("fill", GroupMode::Sequential, vec![], vec![fill])], vec![rule], 50));
    let report =
        tokio::time::timeout(Duration::from_secs(15), run.execute()).await.expect("trips well before the hold ends");
    assert_eq!(report.outcome, Some(Outcome::GuardrailTripped), "{:?}", report.reason);
    let counts: Vec<u32> = events(&report, |e| matches!(e, Event::GuardrailSample { .. }))
        .map(|e| match e {
            Event::GuardrailSample { consecutive, .. } => *consecutive,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(counts, vec![1, 2, 3], "judged at each sample, tripped at the third");
    let reaction = report.guardrail_reaction.expect("reaction recorded");
    assert!(reaction.breach_sample_ms <= reaction.tripped_ms && reaction.tripped_ms <= reaction.rolled_back_ms);
    assert_eq!(files_in(fx.data.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_interrupts_and_rolls_back() {
    let fx = fixture();
    let fill = fx.fill("fill/disk-fill#1", 20_000);
    let (run, control) = start(&fx, plan(vec![group("fill", GroupMode::Sequential, vec![], vec![fill])], vec![], 100));
    let live = control.subscribe();
    let running = tokio::spawn(run.execute());
    until_started(live, 1).await;
    assert!(control.stop("operator asked"));
    let report = running.await.unwrap();
    assert_eq!(report.outcome, Some(Outcome::Interrupted));
    assert_eq!(report.exit_code, Some(130));
    assert_eq!(files_in(fx.data.path()), 0);
    assert!(fx.journal.live().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_preflight_injects_nothing() {
    let fx = fixture();
    let fill = fx.fill("g/disk-fill#1", 1000);
    let pause = action("g/process-pause#2", "process-pause", serde_json::json!({"pid": 999_999_999}), Some(1000));
    let (run, _control) =
        start(&fx, plan(vec![group("g", GroupMode::Sequential, vec![], vec![fill, pause])], vec![], 100));
    let report = run.execute().await;
    assert_eq!(report.outcome, Some(Outcome::Error), "{:?}", report.reason);
    assert!(report.injections.is_empty());
    assert_eq!(files_in(fx.data.path()), 0);
    assert!(events(&report, |e| matches!(e, Event::ActionFailed { .. })).count() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_already_active_on_the_host_fails_the_preflight_and_is_left_alone() {
    let fx = fixture();
    let other = tempfile::tempdir().unwrap();
    let local = LocalHost::new(fx.journal.clone()).with_helper_exe(env!("CARGO_BIN_EXE_faultdrill"));
    let earlier = InjectRequest {
        fault: "disk-fill".into(),
        params: params("disk-fill", serde_json::json!({"path": other.path(), "size": "1MiB"})),
        duration: Duration::from_secs(60),
        lease: None,
        run: None,
        dry_run: false,
    };
    let earlier = local.inject(earlier).await.expect("the earlier fill is in place");
    let fill =
        action("g/disk-fill#1", "disk-fill", serde_json::json!({"path": fx.data.path(), "size": "1MiB"}), Some(1000));
    let (run, _control) = start(&fx, plan(vec![group("g", GroupMode::Sequential, vec![], vec![fill])], vec![], 100));
    let report = run.execute().await;
    assert_eq!(report.outcome, Some(Outcome::Error), "{:?}", report.reason);
    let reason = report.reason.clone().unwrap_or_default();
    assert!(reason.contains(earlier.id.as_str()), "the preflight names the active injection: {reason}");
    assert!(report.injections.is_empty() && report.rollbacks.is_empty());
    assert_eq!(files_in(fx.data.path()), 0);
    assert_eq!(files_in(other.path()), 1, "someone else's fault is not the run's to roll back");
    assert!(local.rollback(&earlier.id, "test over").await.outcome.is_ok());
    assert_eq!(files_in(other.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_wait_for_their_after_groups() {
    let fx = fixture();
    let child = Sleeper::spawn();
    let first = fx.fill("a/disk-fill#1", 200);
    let second = action("b/process-pause#1", "process-pause", serde_json::json!({"pid": child.0.id()}), Some(200));
    let groups = vec![
        group("a", GroupMode::Sequential, vec![], vec![first]),
        group("b", GroupMode::Sequential, vec![0], vec![second]),
    ];
    let (run, _control) = start(&fx, plan(groups, vec![], 100));
    let report = run.execute().await;
    assert_eq!(report.outcome, Some(Outcome::Passed), "{:?}", report.reason);
    let order: Vec<String> = events(&report, |e| matches!(e, Event::ActionStarted { .. } | Event::ActionEnded { .. }))
        .map(|e| match e {
            Event::ActionStarted { action, .. } => format!("start {}", action.label),
            Event::ActionEnded { action, .. } => format!("end {}", action.label),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(order, ["start a/disk-fill#1", "end a/disk-fill#1", "start b/process-pause#1", "end b/process-pause#1"]);
    assert_ne!(child.state(), 'T');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_state_failing_before_injects_nothing() {
    let fx = fixture();
    let fill = fx.fill("fill/disk-fill#1", 1000);
    let mut plan = plan(vec![group("fill", GroupMode::Sequential, vec![], vec![fill])], vec![], 100);
    plan.steady_state = Some(SteadyStatePlan {
        interval: Duration::from_millis(100),
        check_before: true,
        check_during: true,
        check_after: true,
        probes: vec![ProbePlan {
            name: "always-fails".into(),
            source: ProbeSource::Command { argv: vec!["false".into()], timeout: Duration::from_secs(5) },
            expect: vec![Expectation::Exit(0)],
            interval: None,
            budget: Default::default(),
        }],
    });
    let (run, _control) = start(&fx, plan);
    let report = run.execute().await;
    // Its own outcome and exit code (issue 12): a broken drill, not a finding.
    assert_eq!(report.outcome, Some(Outcome::NotSteadyBefore), "{:?}", report.reason);
    assert_eq!(report.exit_code, Some(5));
    assert!(report.injections.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_never_leaves_faults_in_place_with_a_warning_but_not_on_abort() {
    let fx = fixture();
    let fill = fx.fill("fill/disk-fill#1", 200);
    let mut never = plan(vec![group("fill", GroupMode::Sequential, vec![], vec![fill.clone()])], vec![], 100);
    never.rollback = RollbackPolicy::Never;
    let (run, _control) = start(&fx, never.clone());
    let report = run.execute().await;
    assert_eq!(report.outcome, Some(Outcome::Passed), "{:?}", report.reason);
    assert_eq!(events(&report, |e| matches!(e, Event::Warning { .. })).count(), 1, "warned up front");
    assert_eq!(events(&report, |e| matches!(e, Event::LeftInPlace { .. })).count(), 1);
    assert_eq!(files_in(fx.data.path()), 1, "left in place, as asked");
    let local = LocalHost::new(fx.journal.clone()).with_helper_exe(env!("CARGO_BIN_EXE_faultdrill"));
    let recovered = local.recover_all("test cleanup").await.unwrap();
    assert!(recovered.iter().all(|r| r.is_ok()) && recovered.len() == 1);
    assert_eq!(files_in(fx.data.path()), 0);

    // An abort still rolls back, whatever the policy says.
    let mut held = never;
    held.groups[0].actions[0].duration = Some(Duration::from_secs(20));
    let (run, control) = start(&fx, held);
    let live = control.subscribe();
    let running = tokio::spawn(run.execute());
    until_started(live, 1).await;
    control.stop("abort");
    let report = running.await.unwrap();
    assert_eq!(report.outcome, Some(Outcome::Interrupted));
    assert_eq!(files_in(fx.data.path()), 0, "rolled back on abort");
}
