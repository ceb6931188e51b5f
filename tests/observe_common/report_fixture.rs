//! A run report of a known shape, built in code: a deviation, a guardrail trip, a rollback
//! that may fail, and any number of probes over any length of run. Shared by the renderer
//! tests and `bench/report.rs`; end-to-end runs produce the same `Report` type.

use std::collections::BTreeMap;
use std::time::Duration;

use faultdrill::experiment::*;
use faultdrill::ids::{InjectionId, RunId};
use faultdrill::report::*;

pub fn plan(probes: usize) -> ExperimentPlan {
    ExperimentPlan {
        name: "disk-guardrail-demo".into(),
        description: Some("Fill /data until the guardrail trips; expect a clean <rollback>.".into()),
        labels: BTreeMap::new(),
        source: None,
        targets: vec![TargetPlan {
            name: "data-hosts".into(),
            selector: TargetSelector::Hosts(vec!["local".into()]),
            pick: Pick::All,
            max: None,
            on_empty: OnEmpty::Fail,
            seed: None,
        }],
        steady_state: Some(SteadyStatePlan {
            interval: Duration::from_secs(1),
            check_before: true,
            check_during: true,
            check_after: true,
            probes: (0..probes)
                .map(|i| ProbePlan {
                    name: format!("api-{i}"),
                    source: ProbeSource::Http {
                        url: "http://127.0.0.1:8080/health".into(),
                        method: "GET".into(),
                        timeout: Duration::from_secs(1),
                        headers: BTreeMap::new(),
                    },
                    expect: vec![Expectation::Status(200), Expectation::LatencyMs(Comparison::Lt(300.0))],
                    interval: None,
                    budget: Default::default(),
                })
                .collect(),
        }),
        guardrails: GuardrailsPlan {
            interval: Duration::from_millis(500),
            rules: vec![GuardrailPlan {
                name: "disk-90".into(),
                source: ProbeSource::Metric {
                    metric: HostMetric::DiskUsedPercent,
                    path: Some("/data".into()),
                    process: None,
                    target: Some("data-hosts".into()),
                },
                breach: Comparison::Ge(90.0),
                for_samples: 2,
                action: GuardrailAction::Rollback,
                on_unmeasured: Default::default(),
                measure: Default::default(),
            }],
            external: vec![],
        },
        groups: vec![GroupPlan {
            name: "fill".into(),
            target: "data-hosts".into(),
            mode: GroupMode::Sequential,
            after: vec![],
            actions: vec![ActionPlan {
                label: "fill/disk-fill#1".into(),
                fault: "disk-fill".into(),
                params: Params::default(),
                duration: Some(Duration::from_secs(60)),
                wait_before: Duration::ZERO,
                wait_after: Duration::ZERO,
            }],
        }],
        rollback: RollbackPolicy::Always,
        lease: Duration::from_secs(15),
        expect_outcome: None,
        host_constraints: Vec::new(),
        recovery: None,
    }
}

/// A run of `seconds` with `probes` HTTP probes sampled each second, a disk fill from 10 %
/// of the run, one deviating probe sample, and a guardrail trip at 80 %.
pub fn report(probes: usize, seconds: i64, rollback_ok: bool) -> Report {
    let t0 = 1_700_000_000_000i64;
    let id = InjectionId::from_string("i-testfill01");
    let action = ActionRef { group: 0, action: 0, label: "fill/disk-fill#1".into(), fault: "disk-fill".into() };
    let mut timeline = vec![TimelineEntry {
        at_ms: t0 + seconds * 100,
        event: Event::ActionStarted {
            action: action.clone(),
            host: "local".into(),
            injection: id.clone(),
            held: true,
            irreversible: false,
            hit: vec![],
        },
    }];
    let trip_at = t0 + seconds * 800;
    timeline.extend(samples(t0, probes, seconds, &["local".to_string()]));
    timeline.push(disk_90_trip(trip_at));
    let record = RollbackRecord {
        injection: id.clone(),
        host: "local".into(),
        fault: "disk-fill".into(),
        action: Some(action.label.clone()),
        reason: "guardrail disk-90 tripped".into(),
        ok: rollback_ok,
        detail: if rollback_ok { "undone".into() } else { "cannot delete /data/.faultdrill-fill: EBUSY".into() },
        verified: rollback_ok,
        started_ms: trip_at + 5,
        finished_ms: trip_at + 9,
    };
    timeline.push(TimelineEntry { at_ms: trip_at + 9, event: Event::RolledBack { record: record.clone() } });
    let outcome = if rollback_ok { Outcome::GuardrailTripped } else { Outcome::RollbackFailed };
    Report {
        schema_version: SCHEMA_VERSION,
        run_id: RunId::from_string("r-testrun001"),
        experiment: "disk-guardrail-demo".into(),
        plan: plan(probes),
        targets: vec![ResolvedTarget { name: "data-hosts".into(), hosts: vec!["local".into()], seed: None }],
        state: RunState::Finished,
        outcome: Some(outcome),
        exit_code: Some(outcome.exit_code()),
        reason: Some("guardrail disk-90 tripped".into()),
        expectation: None,
        started_ms: t0,
        finished_ms: Some(trip_at + 20),
        injections: vec![InjectionSummary {
            id,
            action,
            host: "local".into(),
            injected_ms: t0 + seconds * 100,
            deadline_ms: t0 + seconds * 100 + 60_000,
            held: true,
            irreversible: false,
            preview: vec!["fallocate /data/.faultdrill-fill (50 MiB)".into()],
        }],
        rollbacks: vec![record],
        guardrail_reaction: None,
        timeline,
    }
}

/// Probe samples each second and guardrail samples each second on each of `hosts`, each disk
/// filling from 20 % at its own rate (one host alone: to 95 %); probe 0 is slow once, half-way through.
fn samples(t0: i64, probes: usize, seconds: i64, hosts: &[String]) -> Vec<TimelineEntry> {
    let mut timeline = Vec::new();
    for s in 0..seconds {
        let at = t0 + s * 1000;
        let phase = if s == 0 { ProbePhase::Before } else { ProbePhase::During };
        for p in 0..probes {
            let slow = p == 0 && s == seconds / 2;
            timeline.push(TimelineEntry {
                at_ms: at + p as i64,
                event: Event::ProbeSample {
                    phase,
                    probe: format!("api-{p}"),
                    sample: SampleRecord {
                        host: None,
                        value: None,
                        latency_ms: Some(if slow { 450.0 } else { 20.0 + (s % 7) as f64 }),
                        status: Some(200),
                        exit: None,
                        error: None,
                    },
                    ok: !slow,
                    failures: if slow { vec!["latency (ms) 450, expected < 300".into()] } else { vec![] },
                },
            });
        }
        for (i, host) in hosts.iter().enumerate() {
            // Hosts fill at different rates; one host fills exactly from 20 % to 95 %.
            let rate =
                if hosts.len() == 1 { 1.0 } else { 0.8 + 0.3 * ((i * 37) % hosts.len()) as f64 / hosts.len() as f64 };
            let used = (20.0 + 75.0 * (s as f64 / seconds as f64) * rate).min(100.0);
            timeline.push(TimelineEntry {
                at_ms: at + 500,
                event: Event::GuardrailSample {
                    guardrail: "disk-90".into(),
                    sample: SampleRecord {
                        host: Some(host.clone()),
                        value: Some(used),
                        latency_ms: None,
                        status: None,
                        exit: None,
                        error: None,
                    },
                    breached: used >= 90.0,
                    consecutive: u32::from(used >= 90.0),
                    for_samples: 2,
                },
            });
        }
    }
    timeline
}

/// A fleet run: `fill/disk-fill#1` then `burn/cpu-burn#1` on `hosts` daemons `h1`..`hN`,
/// injected in a scrambled order over ~0.4 s, until the guardrail trips at 80 % of the run;
/// the disk fill's rollback fails on the hosts numbered in `failed`. The implicit `local`
/// target is resolved but nothing uses it.
pub fn fleet_report(hosts: usize, failed: &[usize], seconds: i64) -> Report {
    fleet_report_with(
        hosts,
        failed,
        seconds,
        &[("fill/disk-fill#1", "disk-fill", 10), ("burn/cpu-burn#1", "cpu-burn", 12)],
    )
}

/// A fleet run of the given actions `(label, fault, starting at this % of the run)`, each
/// on every host, one group each; the first action's rollback fails on the hosts in `failed`.
pub fn fleet_report_with(hosts: usize, failed: &[usize], seconds: i64, actions: &[(&str, &str, i64)]) -> Report {
    let t0 = 1_700_000_000_000i64;
    let names: Vec<String> = (1..=hosts).map(|n| format!("h{n}")).collect();
    let mut plan = plan(1);
    plan.targets[0].selector = TargetSelector::Hosts(names.clone());
    plan.targets.push(TargetPlan {
        name: "local".into(),
        selector: TargetSelector::Hosts(vec!["local".into()]),
        pick: Pick::All,
        max: None,
        on_empty: OnEmpty::Fail,
        seed: None,
    });
    let template = plan.groups.remove(0);
    for (label, fault, _) in actions {
        let mut group = template.clone();
        group.name = label.split('/').next().unwrap_or(label).into();
        group.actions[0].label = label.to_string();
        group.actions[0].fault = fault.to_string();
        plan.groups.push(group);
    }
    let mut timeline = samples(t0, 1, seconds, &names);
    let (mut injections, mut rollbacks) = (Vec::new(), Vec::new());
    let trip_at = t0 + seconds * 800;
    for (group, &(label, fault, percent)) in actions.iter().enumerate() {
        let from = seconds * percent * 10;
        let action = ActionRef { group, action: 0, label: label.into(), fault: fault.into() };
        for k in 0..hosts {
            // Daemons answer in no particular order: h1 is not first.
            let n = (k * 37 + 11) % hosts + 1;
            let host = format!("h{n}");
            let nth = if group > 1 { group.to_string() } else { String::new() };
            let id = InjectionId::from_string(format!("i-{}{nth}{n:04}", &fault[..4]));
            let at = t0 + from + (k as i64 * 4);
            timeline.push(TimelineEntry {
                at_ms: at,
                event: Event::ActionStarted {
                    action: action.clone(),
                    host: host.clone(),
                    injection: id.clone(),
                    held: true,
                    irreversible: false,
                    hit: vec![],
                },
            });
            injections.push(InjectionSummary {
                id: id.clone(),
                action: action.clone(),
                host: host.clone(),
                injected_ms: at,
                deadline_ms: at + 60_000,
                held: true,
                irreversible: false,
                preview: vec![format!("{fault} on {host}")],
            });
            let ok = group == 1 || !failed.contains(&n);
            let started = trip_at + 5 + (k as i64 * 2);
            rollbacks.push(RollbackRecord {
                injection: id,
                host,
                fault: fault.into(),
                action: Some(label.into()),
                reason: "guardrail disk-90 tripped".into(),
                ok,
                detail: if ok { "undone".into() } else { "cannot delete /data/.faultdrill-fill: EBUSY".into() },
                verified: ok,
                started_ms: started,
                finished_ms: started + 9,
            });
        }
    }
    timeline.push(disk_90_trip(trip_at));
    for record in &rollbacks {
        timeline.push(TimelineEntry { at_ms: record.finished_ms, event: Event::RolledBack { record: record.clone() } });
    }
    timeline.sort_by_key(|e| e.at_ms);
    let outcome = if failed.is_empty() { Outcome::GuardrailTripped } else { Outcome::RollbackFailed };
    let finished = rollbacks.iter().map(|r| r.finished_ms).max().unwrap_or(trip_at) + 10;
    Report {
        schema_version: SCHEMA_VERSION,
        run_id: RunId::from_string("r-testfleet01"),
        experiment: "disk-guardrail-demo".into(),
        plan,
        targets: vec![
            ResolvedTarget { name: "data-hosts".into(), hosts: names, seed: None },
            ResolvedTarget { name: "local".into(), hosts: vec!["local".into()], seed: None },
        ],
        state: RunState::Finished,
        outcome: Some(outcome),
        exit_code: Some(outcome.exit_code()),
        reason: Some("guardrail disk-90 tripped".into()),
        expectation: None,
        started_ms: t0,
        finished_ms: Some(finished),
        injections,
        rollbacks,
        guardrail_reaction: None,
        timeline,
    }
}

/// The fixtures' guardrail trip: disk-90, from its samples.
fn disk_90_trip(at_ms: i64) -> TimelineEntry {
    TimelineEntry {
        at_ms,
        event: Event::GuardrailTripped {
            guardrail: "disk-90".into(),
            source: TripSource::Samples,
            action: "rollback".into(),
            message: "disk_used_percent 95 >= 90 for 2 samples".into(),
        },
    }
}
