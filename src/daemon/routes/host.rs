//! `GET /v1/host/metrics?path=/data&process=nginx&metric=disk_used_percent`:
//! one sample of this host (all metrics, or the one asked for).

use std::path::PathBuf;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::client::wire::{ErrorKind, HostMetrics};
use crate::daemon::api_error::ApiError;
use crate::daemon::state::Shared;
use crate::experiment::HostMetric;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    metric: Option<String>,
    path: Option<PathBuf>,
    process: Option<String>,
}

const ALL: [HostMetric; 6] = [
    HostMetric::CpuPercent,
    HostMetric::MemoryPercent,
    HostMetric::Load1,
    HostMetric::Load1PerCore,
    HostMetric::DiskUsedPercent,
    HostMetric::ProcessCount,
];

pub async fn metrics(
    State(state): State<Shared>,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<HostMetrics>, ApiError> {
    let Query(MetricsQuery { metric, path, process }) =
        query.map_err(|e| ApiError::field(ErrorKind::InvalidRequest, "query", e.body_text()))?;
    let wanted: Vec<HostMetric> = match metric.as_deref() {
        Some(name) => vec![ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|m| m.name()).collect();
            ApiError::field(
                ErrorKind::InvalidRequest,
                "metric",
                format!("unknown metric `{name}`; expected one of: {}", names.join(", ")),
            )
        })?],
        None => ALL
            .into_iter()
            .filter(|m| match m {
                HostMetric::DiskUsedPercent => path.is_some(),
                HostMetric::ProcessCount => process.is_some(),
                _ => true,
            })
            .collect(),
    };
    let host = state.name.clone();
    let sample = tokio::task::spawn_blocking(move || {
        let mut out = HostMetrics { host, ..HostMetrics::default() };
        for m in wanted {
            match crate::probe::read_host_metric(m, path.as_deref(), process.as_deref()) {
                Ok(v) => *slot(&mut out, m) = Some(v),
                Err(e) => {
                    out.errors.insert(m.name().to_string(), e);
                }
            }
        }
        out
    })
    .await
    .map_err(|e| ApiError::internal(format!("sample host metrics: {e}")))?;
    Ok(Json(sample))
}

fn slot(out: &mut HostMetrics, m: HostMetric) -> &mut Option<f64> {
    match m {
        HostMetric::CpuPercent => &mut out.cpu_percent,
        HostMetric::MemoryPercent => &mut out.memory_percent,
        HostMetric::Load1 => &mut out.load1,
        HostMetric::Load1PerCore => &mut out.load1_per_core,
        HostMetric::DiskUsedPercent => &mut out.disk_used_percent,
        HostMetric::ProcessCount => &mut out.process_count,
    }
}
