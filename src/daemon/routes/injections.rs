//! `/v1/injections`: inject, list, show, renew the lease, roll back.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tracing::info;

use crate::client::wire::{ErrorKind, Injection, InjectionList, InjectionRequest, Rollback};
use crate::daemon::api_error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::daemon::audit::AuditNote;
use crate::daemon::policy::check_action;
use crate::daemon::state::Shared;
use crate::engine::InjectRequest;
use crate::fault::{Params, all_faults, find_fault};
use crate::ids::InjectionId;
use crate::journal::InjectionState;

/// The longest lease a controller may ask for.
const MAX_LEASE: Duration = Duration::from_secs(3600);

/// How many past injections `GET /v1/injections` shows besides the live ones.
const RECENT: usize = 200;

/// `POST /v1/injections`.
pub async fn create(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<InjectionRequest>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Injection>), ApiError> {
    let req = check(body)?;
    check_policy(&state, &req).await?;
    let host = state.host_for(peer.ip());
    let fault = req.fault.clone();
    let (duration, dry_run) = (req.duration, req.dry_run);
    let view = if req.dry_run {
        // Changes nothing, so it need not wait for injects, rollbacks or a shutdown in flight.
        host.inject(req).await?
    } else {
        // Never alongside a rollback sweep or a shutdown, which could miss a fault being applied.
        let _guard = state.mutate.lock().await;
        host.inject(req).await?
    };
    state.reaper_wake.notify_one();
    let record = host.journal().get(&view.id)?;
    if let Some(r) = &record {
        state.metrics.injection(&fault, &state_name(r.state));
    }
    info!(injection = %view.id, %fault, controller = %peer.ip(), "Injected for a controller.");
    let mut out = match record {
        Some(r) => Injection::from_record(&state.name, r),
        None => Injection {
            // A dry run journals nothing.
            id: view.id,
            host: view.host,
            fault: view.fault,
            params: serde_json::to_value(&view.params).unwrap_or_default(),
            state: view.state,
            run: None,
            created_ms: crate::journal::now_ms(),
            updated_ms: crate::journal::now_ms(),
            deadline_ms: view.deadline_ms,
            lease_ms: None,
            lease_expires_ms: None,
            note: Some("dry run: nothing changed".into()),
            preview: Vec::new(),
        },
    };
    out.preview = view.preview;
    let note = AuditNote {
        target: out.id.to_string(),
        message: format!(
            "{} for {}{}",
            out.fault,
            humantime::format_duration(duration),
            if dry_run { " (dry run)" } else { "" }
        ),
    };
    Ok((StatusCode::CREATED, Extension(note), Json(out)))
}

/// The policy's word on the request, a lease for anything real, and room under the cap.
async fn check_policy(state: &Shared, req: &InjectRequest) -> Result<(), ApiError> {
    check_action(&state.policy, &req.fault, &req.params, Some(req.duration)).await?;
    if req.dry_run {
        return Ok(());
    }
    if req.lease.is_none() {
        return Err(ApiError::field(
            ErrorKind::InvalidRequest,
            "lease",
            "lease: required for an injection made over the API (e.g. \"15s\"), so the fault rolls back if its controller goes silent; renew it with POST /v1/injections/{id}/lease",
        ));
    }
    let live = state.host.journal().live()?.len();
    let cap = &state.policy.max_injections;
    if live >= cap.value {
        return Err(ApiError::too_many(format!(
            "inject: {live} injections are live on this daemon, its limit (`{}`) is {}; wait for one to end",
            cap.rule, cap.value
        )));
    }
    Ok(())
}

/// Checks the request into an engine request, naming the offending field.
pub(super) fn check(body: InjectionRequest) -> Result<InjectRequest, ApiError> {
    let fault = find_fault(&body.fault).ok_or_else(|| {
        let names: Vec<_> = all_faults().iter().map(|f| f.info().name).collect();
        ApiError::field(
            ErrorKind::UnknownFault,
            "fault",
            format!("unknown fault `{}`; expected one of: {}", body.fault, names.join(", ")),
        )
    })?;
    let params = Params::check(fault.info().params, &body.params).map_err(|problems| {
        let field = problems.iter().find_map(|p| p.name.clone()).map_or("params".into(), |n| format!("params.{n}"));
        let text: Vec<_> = problems.into_iter().map(|p| p.message).collect();
        ApiError::field(ErrorKind::BadParams, field, format!("{}: {}", body.fault, text.join("; ")))
    })?;
    fault
        .check(&params)
        .map_err(|m| ApiError::field(ErrorKind::BadParams, "params", format!("{}: {m}", body.fault)))?;
    let duration = positive_duration("duration", &body.duration)?;
    let lease = body.lease.as_deref().map(|l| positive_duration("lease", l)).transpose()?;
    if lease.is_some_and(|l| l > MAX_LEASE) {
        return Err(ApiError::field(
            ErrorKind::InvalidRequest,
            "lease",
            "lease: at most 1h; a lease is how long the fault outlives a silent controller, so keep it short and renew it",
        ));
    }
    Ok(InjectRequest { fault: body.fault, params, duration, lease, run: body.run, dry_run: body.dry_run })
}

fn positive_duration(field: &str, text: &str) -> Result<Duration, ApiError> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => match crate::experiment::check_duration_limit(d) {
            Ok(()) => Ok(d),
            Err(why) => Err(ApiError::field(ErrorKind::InvalidRequest, field, format!("{field}: {why}"))),
        },
        _ => Err(ApiError::field(
            ErrorKind::InvalidRequest,
            field,
            format!(
                "{field}: expected a positive duration such as `30s` or `500ms`, found `{}`",
                text.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// `GET /v1/injections`: live ones first, then recent ones.
pub async fn list(State(state): State<Shared>) -> Result<Json<InjectionList>, ApiError> {
    let journal = state.host.journal();
    let mut records = journal.live()?;
    for r in journal.recent(RECENT)? {
        if !records.iter().any(|l| l.id == r.id) {
            records.push(r);
        }
    }
    let injections = records.into_iter().map(|r| Injection::from_record(&state.name, r)).collect();
    Ok(Json(InjectionList { injections }))
}

/// `GET /v1/injections/{id}`.
pub async fn show(State(state): State<Shared>, ApiPath(id): ApiPath<String>) -> Result<Json<Injection>, ApiError> {
    let id = InjectionId::parse(&id).ok_or_else(|| ApiError::bad_id("injection", &id))?;
    let record = state.host.journal().get(&id)?.ok_or_else(|| no_such(&id))?;
    Ok(Json(Injection::from_record(&state.name, record)))
}

/// `POST /v1/injections/{id}/lease`: 410 once the injection has ended (the
/// controller then knows its fault is gone, and why).
pub async fn renew(State(state): State<Shared>, ApiPath(id): ApiPath<String>) -> Result<Json<Injection>, ApiError> {
    let id = InjectionId::parse(&id).ok_or_else(|| ApiError::bad_id("injection", &id))?;
    let journal = state.host.journal();
    journal.renew_lease(&id)?;
    let record = journal.get(&id)?.ok_or_else(|| no_such(&id))?;
    if !matches!(record.state, InjectionState::Pending | InjectionState::Active) {
        let why = record.note.as_deref().unwrap_or("ended");
        return Err(ApiError::new(
            StatusCode::GONE,
            ErrorKind::Gone,
            format!("renew the lease of {id}: it has ended ({why})"),
        ));
    }
    Ok(Json(Injection::from_record(&state.name, record)))
}

/// The longest controller-given rollback reason kept in the journal, in characters.
const MAX_REASON: usize = 200;

/// `DELETE /v1/injections/{id}?reason=...`.
#[derive(Debug, Deserialize)]
pub struct RollbackQuery {
    reason: Option<String>,
}

/// `DELETE /v1/injections/{id}`: idempotent; a second call finds it already gone.
pub async fn roll_back(
    State(state): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RollbackQuery>,
) -> Result<Json<Rollback>, ApiError> {
    let id = InjectionId::parse(&id).ok_or_else(|| ApiError::bad_id("injection", &id))?;
    if state.host.journal().get(&id)?.is_none() {
        return Err(no_such(&id));
    }
    let reason = match query.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(said) => format!("the controller asked: {}", said.chars().take(MAX_REASON).collect::<String>()),
        None => "the controller asked".to_string(),
    };
    let (was_live, result) = {
        let _guard = state.mutate.lock().await;
        // Read under the lock: the reaper may have rolled it back (and counted it) meanwhile.
        // A repeated rollback (idempotent) is answered but not counted again.
        let before = state.host.journal().get(&id)?.map(|r| r.state);
        let was_live =
            matches!(before, Some(InjectionState::Pending | InjectionState::Active | InjectionState::Failed));
        (was_live, state.host.rollback(&id, &reason).await)
    };
    if was_live {
        state.metrics.rollback(&result);
    }
    match result.outcome {
        Ok(outcome) => Ok(Json(Rollback {
            id,
            host: state.name.clone(),
            fault: result.fault,
            outcome: Some(outcome),
            error: None,
        })),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::RollbackFailed,
            format!("roll back {id} ({}): {e}; something may still be injected", result.fault),
        )),
    }
}

fn no_such(id: &InjectionId) -> ApiError {
    ApiError::not_found(format!("find injection {id}: this daemon's journal has no such injection"))
}

fn state_name(state: InjectionState) -> String {
    serde_json::to_value(state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
