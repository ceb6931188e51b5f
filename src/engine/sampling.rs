//! Taking steady-state and guardrail samples. Sampling tasks only measure and send;
//! the run loop judges each sample the moment it arrives.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::experiment::{GuardrailPlan, ProbePlan, ProbeSource};
use crate::journal::now_ms;
use crate::probe::{Observation, Prober, Verdict, evaluate};
use crate::report::SampleRecord;

use super::local_host::error_chain;
use super::targets::ResolvedTargets;

/// One probe measured on one host (or once, for sources that are not host metrics).
#[derive(Clone, Debug)]
pub struct ProbeSample {
    pub probe: usize,
    pub host: Option<String>,
    pub observation: Observation,
    pub verdict: Verdict,
}

/// One guardrail measured on one host.
#[derive(Clone, Debug)]
pub struct GuardrailSample {
    pub rule: usize,
    pub host: Option<String>,
    pub observation: Observation,
    /// When the measurement came back (the start of the reaction time).
    pub sampled_ms: i64,
    pub sampled_at: Instant,
}

/// What a sampling task hands back to the loop.
pub enum SampleBatch {
    /// The probes asked for (by index), and their samples.
    Probes(Vec<usize>, Vec<ProbeSample>),
    Guardrails(Vec<GuardrailSample>),
}

/// Everything sampling needs, shared with the tasks.
pub struct Sampler {
    pub prober: Arc<Prober>,
    pub targets: Arc<ResolvedTargets>,
}

impl Sampler {
    /// Measures the probes at indices `which` once each and judges them against their
    /// expectations (per sample; budgets are the loop's job).
    pub async fn sample_probes(self: Arc<Self>, probes: Arc<Vec<ProbePlan>>, which: Vec<usize>) -> Vec<ProbeSample> {
        let mut set = JoinSet::new();
        for index in which {
            let (sampler, probes) = (self.clone(), probes.clone());
            set.spawn(async move {
                let probe = &probes[index];
                sampler
                    .observe(&probe.source)
                    .await
                    .into_iter()
                    .map(|(host, observation)| ProbeSample {
                        probe: index,
                        host,
                        verdict: evaluate(&probe.expect, &observation),
                        observation,
                    })
                    .collect::<Vec<_>>()
            });
        }
        let mut samples: Vec<ProbeSample> = set.join_all().await.into_iter().flatten().collect();
        samples.sort_by_key(|s| s.probe);
        samples
    }

    /// Measures every guardrail once; judging is the loop's job.
    pub async fn sample_guardrails(self: Arc<Self>, rules: Arc<Vec<GuardrailPlan>>) -> Vec<GuardrailSample> {
        let mut set = JoinSet::new();
        for index in 0..rules.len() {
            if super::probe_rate::window_of(&rules[index].source).is_some() {
                continue; // measured by the loop from the probe's own samples
            }
            let (sampler, rules) = (self.clone(), rules.clone());
            set.spawn(async move {
                let observed = sampler.observe(&rules[index].source).await;
                let (sampled_ms, sampled_at) = (now_ms(), Instant::now());
                observed
                    .into_iter()
                    .map(|(host, observation)| GuardrailSample {
                        rule: index,
                        host,
                        observation,
                        sampled_ms,
                        sampled_at,
                    })
                    .collect::<Vec<_>>()
            });
        }
        set.join_all().await.into_iter().flatten().collect()
    }

    /// Measures `source`: a host metric on each of its target's hosts, anything else once.
    async fn observe(&self, source: &ProbeSource) -> Vec<(Option<String>, Observation)> {
        let ProbeSource::Metric { metric, path, process, target } = source else {
            return vec![(None, self.prober.observe(source).await)];
        };
        let hosts = match target {
            Some(name) => self.targets.hosts(name).to_vec(),
            None => vec![self.targets.local().clone()],
        };
        // Every host at once: a slow daemon must not delay the others' samples.
        let mut set = JoinSet::new();
        for (index, host) in hosts.into_iter().enumerate() {
            let (metric, path, process) = (*metric, path.clone(), process.clone());
            set.spawn(async move {
                let observation = match host.sample_metric(metric, path.as_deref(), process.as_deref()).await {
                    Ok(value) => Observation { value: Some(value), ..Observation::default() },
                    Err(e) => Observation { error: Some(error_chain(&e)), ..Observation::default() },
                };
                (index, Some(host.name().to_string()), observation)
            });
        }
        let mut out = set.join_all().await;
        out.sort_by_key(|(index, ..)| *index);
        out.into_iter().map(|(_, host, observation)| (host, observation)).collect()
    }
}

/// The timeline form of an observation.
pub fn sample_record(host: Option<&str>, observation: &Observation) -> SampleRecord {
    SampleRecord {
        host: host.map(String::from),
        value: observation.value,
        latency_ms: observation.latency_ms,
        status: observation.status,
        exit: observation.exit,
        error: observation.error.clone(),
    }
}
