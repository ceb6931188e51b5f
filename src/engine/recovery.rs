//! The recovery check after the rollback (`recovery`): each probe, once per host of its
//! target with `{address}` replaced by the host's address, retried until it passes or the
//! time given runs out. A host that does not recover is a deviation naming it.

use std::time::Duration;

use tokio::time::Instant;

use crate::experiment::{ProbePlan, ProbeSource, RecoveryPlan};
use crate::probe::evaluate;
use crate::report::{Event, ProbePhase};

use super::host::Host;
use super::run::Run;
use super::sampling::sample_record;

impl Run {
    /// Checks that every host of the recovery target answers every recovery probe within
    /// `within` of now (the end of the rollback); the first that does not is the deviation.
    pub(super) async fn check_recovery(&mut self) {
        let Some(plan) = self.plan.recovery.clone() else { return };
        let deadline = Instant::now() + plan.within;
        let hosts: Vec<(String, String)> =
            self.targets.hosts(&plan.target).iter().map(|h| (h.name().to_string(), address_of(h))).collect();
        let mut first = None;
        for (host, address) in hosts {
            for probe in &plan.probes {
                if let Some(message) = self.recover_one(&plan, probe, &host, &address, deadline).await {
                    first.get_or_insert(message);
                }
            }
        }
        if let Some(message) = first {
            if self.deviated.is_none() {
                self.deviated = Some(message);
            }
        }
    }

    /// Samples `probe` on `host` until it passes or `deadline`; the deviation message if not.
    async fn recover_one(
        &mut self,
        plan: &RecoveryPlan,
        probe: &ProbePlan,
        host: &str,
        address: &str,
        deadline: Instant,
    ) -> Option<String> {
        let source = with_address(&probe.source, address);
        loop {
            let observation = self.sampler.prober.observe(&source).await;
            let verdict = evaluate(&probe.expect, &observation);
            let last_try = Instant::now() >= deadline;
            if verdict.ok || last_try {
                self.emit(Event::ProbeSample {
                    phase: ProbePhase::After,
                    probe: probe.name.clone(),
                    sample: sample_record(Some(host), &observation),
                    ok: verdict.ok,
                    failures: verdict.failures.clone(),
                });
            }
            if verdict.ok {
                return None;
            }
            if last_try {
                let message = format!(
                    "{} on {host} did not recover within {} of the rollback (last: {})",
                    probe.name,
                    humantime::format_duration(plan.within),
                    verdict.failures.join("; ")
                );
                self.emit(Event::ProbeDeviated {
                    phase: ProbePhase::After,
                    probe: probe.name.clone(),
                    message: message.clone(),
                });
                return Some(message);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(plan.interval.min(left).max(Duration::from_millis(10))).await;
        }
    }
}

/// The host's address as a URL writes it (IPv6 in brackets): from its daemon URL, or the
/// loopback address for `local`.
fn address_of(host: &Host) -> String {
    match host {
        Host::Local(_) => "127.0.0.1".into(),
        Host::Remote(r) => url::Url::parse(&r.reach.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| r.reach.url.clone()),
    }
}

/// `source` with `{address}` replaced in an HTTP url or a TCP address.
fn with_address(source: &ProbeSource, address: &str) -> ProbeSource {
    let mut source = source.clone();
    match &mut source {
        ProbeSource::Http { url, .. } => *url = url.replace("{address}", address),
        ProbeSource::Tcp { address: a, .. } => *a = a.replace("{address}", address),
        _ => {}
    }
    source
}
