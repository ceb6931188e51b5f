//! The v1 API as an OpenAPI 3.1 document, generated from the wire types: every
//! route with its body, its answers (errors as `ErrorBody`), and the role it
//! needs. Served at `GET /v1/openapi.json`, printed by
//! `faultdrill schema --openapi`, committed as `schema/openapi.json`; the tests
//! keep the three equal and check every route of `routes/mod.rs` is here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::client::wire;
use crate::fault::UndoOutcome;
use crate::ids::{InjectionId, RunId};
use crate::journal::InjectionState;

/// Who may call a route. Ordered: a role may do everything a lower one may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// No token (only `/v1/health`).
    Public,
    /// GET only: dashboards, status, reports.
    Viewer,
    /// Inject, roll back, run, stop, trip, renew leases, Alertmanager.
    Operator,
    /// Everything, including the policy and the audit trail.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

/// The document as pretty JSON with a final newline (what is served and committed).
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| match document().to_pretty_json() {
        Ok(text) => text + "\n",
        Err(e) => format!("{{\"error\": \"serialise the OpenAPI document: {e}\"}}\n"),
    })
}

/// `GET /v1/openapi.json` (viewer: not secret, but behind the token like all but health).
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

/// The OpenAPI 3.1 document of the v1 API.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for (method, path, op) in operations() {
        paths.add_path_operation(path, vec![method], op);
    }
    let info = InfoBuilder::new()
        .title("faultdrill daemon API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(DESCRIPTION))
        .license(Some(LicenseBuilder::new().name("Apache-2.0").identifier(Some("Apache-2.0")).build()));
    let tags = [
        ("health", "Liveness, no token needed."),
        ("injections", "One fault on this daemon's host, held until its deadline, lease or rollback."),
        ("runs", "Experiments run by the daemon, with live events."),
        ("host", "Samples of this host, for guardrails and steady-state probes."),
        ("alerts", "External triggers (Alertmanager) for guardrails."),
        ("admin", "The daemon's policy and audit trail."),
        ("meta", "This document and Prometheus metrics."),
    ]
    .map(|(name, text)| TagBuilder::new().name(name).description(Some(text)).build());
    OpenApiBuilder::new().info(info).paths(paths).components(Some(components())).tags(Some(tags)).build()
}

const DESCRIPTION: &str = "The v1 HTTP API of `faultdrill daemon`. Every endpoint but `/v1/health` needs \
`Authorization: Bearer <token>`; the token's role (viewer < operator < admin) must be at least the one an \
operation names in its `security` scopes and in `x-faultdrill-role`. Every error is a JSON `ErrorBody` with \
a message for the operator and a stable `kind` for programs. Durations are strings such as `30s` or `500ms`.";

/// One operation: method, path (axum's `{param}` syntax is OpenAPI's too) and its description.
type Operation = (HttpMethod, &'static str, utoipa::openapi::path::Operation);

/// Every operation of the API.
fn operations() -> Vec<Operation> {
    [other_operations(), injection_operations(), run_operations()].concat()
}

/// Health, metrics, this document, host samples, Alertmanager, admin.
fn other_operations() -> Vec<Operation> {
    use HttpMethod::{Get, Post};
    vec![
        Op::new(Get, "/v1/health", Role::Public, "health", "health", "Liveness: name, version, uptime.")
            .json::<wire::Health>(200, "The daemon is up.")
            .build(),
        Op::new(Get, "/metrics", Role::Viewer, "meta", "metrics", "Prometheus metrics (OpenMetrics text).")
            .content(200, "application/openmetrics-text; version=1.0.0; charset=utf-8", string(), "The metrics.")
            .build(),
        Op::new(Get, "/v1/openapi.json", Role::Viewer, "meta", "openapi", "This document.")
            .content(200, "application/json", ObjectBuilder::new().into(), "The OpenAPI 3.1 document.")
            .build(),
        Op::new(Get, "/v1/host/metrics", Role::Viewer, "host", "host_metrics", "One sample of this host.")
            .about("cpu, memory and load; disk usage for `path`, a process count for `process`.")
            .query("metric", "Only this metric: cpu_percent, memory_percent, load1, load1_per_core, disk_used_percent, process_count.")
            .query("path", "A path: adds disk_used_percent of its filesystem.")
            .query("process", "A process name (exact comm): adds process_count.")
            .error(422, "invalid_request: an unknown metric or query parameter.")
            .json::<wire::HostMetrics>(
                200,
                "The sample; a metric that could not be read is absent, its reason in `errors`.",
            )
            .build(),
        Op::new(Post, "/v1/alertmanager", Role::Operator, "alerts", "alertmanager", "Receive an Alertmanager webhook.")
            .about(
                "Each firing alert labelled `faultdrill_guardrail` trips that guardrail in the unfinished \
                runs its labels select: `faultdrill_run` (a run id), `faultdrill_experiment` (an experiment \
                name), `faultdrill_label_<key>` (an experiment label); without any, every unfinished run. \
                Firing alerts are kept until they resolve: a run that starts meanwhile trips before \
                injecting. An alert meant for faultdrill that trips nothing is logged, counted in \
                `faultdrill_alerts_ignored_total` and written to the runs' events. Other fields of the \
                webhook are accepted and ignored.",
            )
            .body::<AlertmanagerWebhook>()
            .json::<AlertmanagerAnswer>(200, "What was tripped and what was ignored, and why.")
            .json::<wire::ErrorBody>(
                422,
                "A body of the wrong shape (`invalid_request`, naming the field); or nothing tripped and an \
                alert meant for faultdrill was ignored (a typo in a label, run or guardrail): `error`, `kind` \
                (`trip_refused`), and besides them the `tripped` and `ignored` lists of the 200 answer. \
                Alertmanager logs it as a failure.",
            )
            .build(),
        Op::new(Get, "/v1/audit", Role::Admin, "admin", "audit", "The audit trail.")
            .about("Every mutating call, allowed or refused, oldest first. It never holds a secret.")
            .query("since_ms", "Unix milliseconds: only records from then on.")
            .query("limit", "At most this many records (default 1000, at most 10000).")
            .content(200, "application/json", array::<wire::AuditEntry>(), "The records.")
            .build(),
        Op::new(Get, "/v1/policy", Role::Admin, "admin", "policy", "The daemon's policy.")
            .about(
                "The policy in force (`--policy`), as JSON: what callers may inject, fill, kill, and for \
                how long.",
            )
            .content(200, "application/json", ObjectBuilder::new().into(), "The policy in force.")
            .build(),
    ]
}

/// `/v1/injections`.
fn injection_operations() -> Vec<Operation> {
    use HttpMethod::{Delete, Get, Post};
    let injection_id = ("id", "The injection's id (`i-…`).");
    vec![
        Op::new(Post, "/v1/injections", Role::Operator, "injections", "inject", "Inject one fault on this host.")
            .about(
                "Journaled before it is applied, held until `duration` (or the lease) runs out. \
                `dry_run` prepares and describes, changes nothing.",
            )
            .body::<wire::InjectionRequest>()
            .json::<wire::Injection>(201, "Injected (or, in a dry run, described in `preview`).")
            .error(
                403,
                "The token's role is below operator, or the daemon's policy refuses this fault, \
                path, process or duration (the message names the rule).",
            )
            .error(409, "conflict: the same fault is already active on this host (`active` names it).")
            .error(
                422,
                "invalid_request, unknown_fault, bad_params or inject_failed (refused here); `field` \
                names the offending field.",
            )
            .error(429, "Too many concurrent injections on this daemon: retry later.")
            .error(500, "inject_failed: applying failed (what was applied is rolled back), or internal.")
            .build(),
        Op::new(
            Get,
            "/v1/injections",
            Role::Viewer,
            "injections",
            "list_injections",
            "The live injections, then the most recent ended ones.",
        )
        .json::<wire::InjectionList>(200, "The injections.")
        .build(),
        Op::new(Get, "/v1/injections/{id}", Role::Viewer, "injections", "show_injection", "One injection.")
            .path(injection_id)
            .json::<wire::Injection>(200, "The injection.")
            .build(),
        Op::new(
            Delete,
            "/v1/injections/{id}",
            Role::Operator,
            "injections",
            "roll_back",
            "Roll back one injection now.",
        )
        .about("Idempotent: an injection already gone is success.")
        .path(injection_id)
        .query("reason", "Why, for the journal (at most 200 characters are kept).")
        .json::<wire::Rollback>(200, "Rolled back, or already gone.")
        .error(
            500,
            "rollback_failed: the undo failed and something may still be injected; the journal \
                keeps it as needing rollback and the daemon retries.",
        )
        .build(),
        Op::new(
            Post,
            "/v1/injections/{id}/lease",
            Role::Operator,
            "injections",
            "renew_lease",
            "Renew the injection's lease.",
        )
        .about("The dead man's switch: a daemon that hears nothing for the lease rolls back. No body.")
        .path(injection_id)
        .json::<wire::Injection>(200, "Renewed: `lease_expires_ms` moved on.")
        .error(410, "gone: the injection has ended (its `note` says why).")
        .build(),
    ]
}

/// `/v1/runs`.
fn run_operations() -> Vec<Operation> {
    use HttpMethod::{Get, Post};
    let run_id = ("id", "The run's id (`r-…`).");
    vec![
        Op::new(Post, "/v1/runs", Role::Operator, "runs", "submit_run", "Run an experiment on this host.")
            .about("An experiment (or template) YAML, checked as `faultdrill validate` would.")
            .body::<wire::RunRequest>()
            .json::<wire::RunAccepted>(201, "Accepted: follow it at /v1/runs/{id} and /v1/runs/{id}/events.")
            .error(
                403,
                "The token's role is below operator, or the daemon's policy refuses what the experiment \
                does (say a `command` probe; the message names the rule).",
            )
            .error(
                422,
                "invalid_experiment: the experiment has errors, listed as file:line:col; or \
                invalid_request.",
            )
            .error(429, "Too many concurrent runs on this daemon: retry later.")
            .build(),
        Op::new(Get, "/v1/runs", Role::Viewer, "runs", "list_runs", "This daemon's runs, newest first.")
            .content(200, "application/json", array::<RunRecordSchema>(), "The runs as the journal holds them.")
            .build(),
        Op::new(Get, "/v1/runs/{id}", Role::Viewer, "runs", "show_run", "One run.")
            .about("Its state; once finished, its outcome, exit code and report.")
            .path(run_id)
            .json::<wire::RunStatus>(200, "The run.")
            .build(),
        Op::new(Get, "/v1/runs/{id}/events", Role::Viewer, "runs", "follow_run", "Follow a run, live.")
            .about(
                "Server-sent events: the timeline so far, then live (`event: timeline`, data: one timeline \
                entry of the report), then `event: end` with the final RunStatus; the stream ends after it.",
            )
            .path(run_id)
            .content(200, "text/event-stream", string(), "The event stream.")
            .build(),
        Op::new(Post, "/v1/runs/{id}/stop", Role::Operator, "runs", "stop_run", "Stop a run.")
            .about("It rolls back everything it injected and finishes by itself.")
            .path(run_id)
            .json::<wire::RunAck>(202, "Stopping (or already finished: the message says which).")
            .build(),
        Op::new(
            Post,
            "/v1/runs/{id}/guardrails/{name}/trip",
            Role::Operator,
            "runs",
            "trip_guardrail",
            "Trip a guardrail of a run.",
        )
        .about("As if its samples had breached: an external alarm. The run stops and rolls back.")
        .path(run_id)
        .path(("name", "The guardrail rule's name."))
        .json::<wire::RunAck>(202, "Tripped: the run stops and rolls back.")
        .error(404, "not_found (no such run) or trip_refused (no such guardrail in the run).")
        .error(409, "trip_refused: the run has finished.")
        .build(),
    ]
}

/// Builds one operation; [`Op::build`] adds the auth errors and the security requirement of its role.
struct Op {
    method: HttpMethod,
    path: &'static str,
    role: Role,
    op: OperationBuilder,
    description: Option<String>,
    responses: BTreeMap<u16, utoipa::openapi::Response>,
}

impl Op {
    fn new(method: HttpMethod, path: &'static str, role: Role, tag: &str, id: &str, summary: &str) -> Op {
        let op = OperationBuilder::new().tag(tag).operation_id(Some(id)).summary(Some(summary));
        Op { method, path, role, op, description: None, responses: BTreeMap::new() }
    }

    /// The operation's description, beyond its summary.
    fn about(mut self, text: &str) -> Op {
        self.description = Some(text.to_string());
        self
    }

    /// A required JSON body of type `T`: adds the errors every body can get.
    fn body<T: ToSchema>(mut self) -> Op {
        let content = Content::new(Some(reference::<T>()));
        let body = RequestBodyBuilder::new().content("application/json", content).required(Some(Required::True));
        self.op = self.op.request_body(Some(body.build()));
        self.error(400, "malformed_json: the body is not JSON.")
            .error(413, "The body is larger than the daemon's limit.")
            .error(422, "invalid_request: the JSON does not have the expected shape; `field` names where.")
    }

    fn json<T: ToSchema>(self, status: u16, description: &str) -> Op {
        self.content(status, "application/json", reference::<T>(), description)
    }

    fn content(mut self, status: u16, content_type: &str, schema: RefOr<Schema>, description: &str) -> Op {
        let response =
            ResponseBuilder::new().description(description).content(content_type, Content::new(Some(schema)));
        self.responses.insert(status, response.build());
        self
    }

    /// An error answer: an `ErrorBody`. A later call for the same status replaces the earlier text.
    fn error(self, status: u16, description: &str) -> Op {
        self.json::<wire::ErrorBody>(status, description)
    }

    fn path(mut self, (name, description): (&str, &str)) -> Op {
        let param = ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(string()));
        self.op = self.op.parameter(param.build());
        if self.responses.contains_key(&404) {
            return self;
        }
        self.error(400, "invalid_request: the id does not have the id format (`r-…`, `i-…`), or is not UTF-8.")
            .error(404, "not_found: no such injection, run or guardrail on this daemon.")
    }

    fn query(mut self, name: &str, description: &str) -> Op {
        let param = ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(string()));
        self.op = self.op.parameter(param.build());
        self.error(400, "invalid_request: a query that cannot be read (a field given twice).")
    }

    fn build(self) -> (HttpMethod, &'static str, utoipa::openapi::path::Operation) {
        let Op { method, path, role, mut op, description, mut responses } = self;
        let role_text = match role {
            Role::Public => "No token needed.".to_string(),
            Role::Admin => "Role: admin.".to_string(),
            r => format!("Role: {} or higher.", r.name()),
        };
        let error = |text: &str| {
            let body = Content::new(Some(reference::<wire::ErrorBody>()));
            ResponseBuilder::new().description(text).content("application/json", body).build()
        };
        if role > Role::Public {
            responses.entry(401).or_insert_with(|| error("unauthorized: no bearer token, or not a known one."));
            responses.entry(500).or_insert_with(|| error("internal: the journal could not be read or written."));
            op = op.security(SecurityRequirement::new(BEARER, [role.name()]));
        } else {
            op = op.securities(Some(Vec::new()));
        }
        if role > Role::Viewer {
            let text = format!("The token's role is below {}.", role.name());
            responses.entry(403).or_insert_with(|| error(&text));
        }
        for (status, response) in responses {
            op = op.response(status.to_string(), response);
        }
        let description = match description {
            Some(d) => format!("{d}\n\n{role_text}"),
            None => role_text,
        };
        let extensions = ExtensionsBuilder::new().add("x-faultdrill-role", role.name()).build();
        (method, path, op.description(Some(description)).extensions(Some(extensions)).build())
    }
}

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn reference<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

fn array<T: ToSchema>() -> RefOr<Schema> {
    ArrayBuilder::new().items(reference::<T>()).into()
}

/// `FaultParams.<fault>`: each fault's `params`, from the declaration the daemon checks
/// them against (the same schema as the experiment format's).
fn fault_params() -> Vec<(String, RefOr<Schema>)> {
    crate::fault::all_faults()
        .iter()
        .map(|f| {
            let info = f.info();
            let mut schema = crate::experiment::params_schema(info.params, crate::experiment::ParamsFor::Api);
            let about = format!("`params` of `{}`: {}", info.name, info.summary);
            schema["description"] = json!(about);
            // A shape utoipa cannot model still gets an entry (the test below catches it).
            let schema = serde_json::from_value::<RefOr<Schema>>(schema)
                .unwrap_or_else(|_| ObjectBuilder::new().description(Some(about)).into());
            (format!("FaultParams.{}", info.name), schema)
        })
        .collect()
}

/// Every schema the operations refer to, by name.
fn components() -> utoipa::openapi::Components {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
    }
    add::<wire::Health>(&mut schemas);
    add::<wire::HostMetrics>(&mut schemas);
    add::<wire::InjectionRequest>(&mut schemas);
    add::<wire::Injection>(&mut schemas);
    add::<wire::InjectionList>(&mut schemas);
    add::<wire::Rollback>(&mut schemas);
    add::<wire::RunRequest>(&mut schemas);
    add::<wire::RunAccepted>(&mut schemas);
    add::<wire::RunStatus>(&mut schemas);
    add::<wire::RunAck>(&mut schemas);
    add::<wire::ErrorBody>(&mut schemas);
    add::<wire::ErrorKind>(&mut schemas);
    add::<InjectionId>(&mut schemas);
    add::<RunId>(&mut schemas);
    add::<InjectionState>(&mut schemas);
    add::<UndoOutcome>(&mut schemas);
    add::<RunRecordSchema>(&mut schemas);
    add::<AlertmanagerWebhook>(&mut schemas);
    add::<AlertmanagerAlert>(&mut schemas);
    add::<AlertmanagerAnswer>(&mut schemas);
    add::<TrippedGuardrail>(&mut schemas);
    add::<IgnoredAlert>(&mut schemas);
    add::<wire::AuditEntry>(&mut schemas);
    schemas.extend(fault_params());
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some(
            "A named token from the daemon's token file (or `<state-dir>/token`). The scopes an operation \
             lists are the least role it needs: viewer < operator < admin.",
        ))
        .build();
    ComponentsBuilder::new().schemas_from_iter(schemas).security_scheme(BEARER, SecurityScheme::Http(bearer)).build()
}

// Schemas of types that live outside `client/wire.rs` (ids, journal, platform,
// the Alertmanager route, the lead's audit records), described here so those
// modules need no OpenAPI code. The unit tests below pin them to the real types.

fn string_enum(description: &str, values: Vec<String>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description)).enum_values(Some(values)).into()
}

fn serde_names<T: serde::Serialize>(all: &[T]) -> Vec<String> {
    all.iter().filter_map(|v| serde_json::to_value(v).ok()?.as_str().map(String::from)).collect()
}

/// Every injection state. The match fails to compile when a state is added, as a reminder to list it.
fn injection_states() -> Vec<InjectionState> {
    let all = [InjectionState::Pending, InjectionState::Active, InjectionState::RolledBack, InjectionState::Failed];
    for s in all {
        match s {
            InjectionState::Pending | InjectionState::Active | InjectionState::RolledBack | InjectionState::Failed => {}
        }
    }
    all.to_vec()
}

/// Every undo outcome (see [`injection_states`]).
fn undo_outcomes() -> Vec<UndoOutcome> {
    let all = [UndoOutcome::Undone, UndoOutcome::AlreadyGone, UndoOutcome::UndoneUnchecked];
    for s in &all {
        match s {
            UndoOutcome::Undone | UndoOutcome::AlreadyGone | UndoOutcome::UndoneUnchecked => {}
        }
    }
    all.to_vec()
}

impl PartialSchema for InjectionState {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "pending (journaled, maybe not applied yet), active, rolled_back, failed (`note` says what).",
            serde_names(&injection_states()),
        )
    }
}
impl ToSchema for InjectionState {}

impl PartialSchema for UndoOutcome {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "undone (it was there, now gone) or already_gone (nothing left to undo).",
            serde_names(&undo_outcomes()),
        )
    }
}
impl ToSchema for UndoOutcome {}

impl PartialSchema for InjectionId {
    fn schema() -> RefOr<Schema> {
        let doc = ObjectBuilder::new().schema_type(Type::String).description(Some("An injection's id."));
        doc.examples([json!("i-0x8d1kq2zz")]).into()
    }
}
impl ToSchema for InjectionId {}

impl PartialSchema for RunId {
    fn schema() -> RefOr<Schema> {
        let doc = ObjectBuilder::new().schema_type(Type::String).description(Some("A run's id."));
        doc.examples([json!("r-k3j9x0a2mq")]).into()
    }
}
impl ToSchema for RunId {}

/// One run as the journal holds it (`journal::RunRecord`).
#[derive(ToSchema)]
#[schema(as = RunRecord)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct RunRecordSchema {
    id: RunId,
    /// The experiment's name.
    name: String,
    /// `pending`, `preflight`, `running`, `rolling_back`, `finished`.
    state: String,
    outcome: Option<String>,
    /// Unix milliseconds.
    started_ms: i64,
    /// Unix milliseconds.
    finished_ms: Option<i64>,
}

/// An Alertmanager webhook (version 4); only `alerts` is read.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct AlertmanagerWebhook {
    alerts: Vec<AlertmanagerAlert>,
}

/// One alert of a webhook; other fields are accepted and ignored.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct AlertmanagerAlert {
    /// Only `firing` alerts trip anything.
    status: String,
    /// `faultdrill_guardrail` names the guardrail; `faultdrill_run` the run (absent: every unfinished run).
    #[schema(default = json!({}), required = false)]
    labels: BTreeMap<String, String>,
}

/// `POST /v1/alertmanager` answer.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct AlertmanagerAnswer {
    /// Only in a 422 answer: what went wrong.
    #[schema(required = false)]
    error: Option<String>,
    /// Only in a 422 answer: `trip_refused`.
    #[schema(required = false)]
    kind: Option<wire::ErrorKind>,
    tripped: Vec<TrippedGuardrail>,
    ignored: Vec<IgnoredAlert>,
}

/// A guardrail an alert tripped.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct TrippedGuardrail {
    run_id: String,
    guardrail: String,
}

/// An alert that tripped nothing, and why.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: its fields are never read")]
struct IgnoredAlert {
    alertname: Option<String>,
    /// `resolved`, `not_for_faultdrill`, `no_active_run`, `run_finished` (not errors), or
    /// `unknown_label`, `no_guardrail_label`, `unknown_run`, `no_matching_run`, `unknown_guardrail`.
    reason: String,
    why: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_json<T: ToSchema>() -> serde_json::Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    #[test]
    fn every_fault_has_its_params_schema_from_its_declaration() {
        let doc = serde_json::to_value(document()).unwrap();
        for fault in crate::fault::all_faults() {
            let info = fault.info();
            let schema = &doc["components"]["schemas"][format!("FaultParams.{}", info.name)];
            let mut documented: Vec<&str> =
                schema["properties"].as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
            let mut declared: Vec<&str> = info.params.iter().map(|p| p.name).collect();
            documented.sort();
            declared.sort();
            assert_eq!(documented, declared, "{}: {schema}", info.name);
            assert_eq!(schema["additionalProperties"], json!(false), "{}", info.name);
        }
    }

    fn property_names(schema: &serde_json::Value) -> Vec<String> {
        schema["properties"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn run_record_schema_has_the_journal_fields() {
        let record = crate::journal::RunRecord {
            id: RunId::from_string("r-1"),
            name: "n".into(),
            state: "finished".into(),
            outcome: None,
            started_ms: 0,
            finished_ms: None,
        };
        let value = serde_json::to_value(record).unwrap();
        let mut fields: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        let mut documented = property_names(&schema_json::<RunRecordSchema>());
        documented.sort();
        assert_eq!(fields, documented);
        assert_eq!(RunRecordSchema::name(), "RunRecord");
    }

    #[test]
    fn enums_list_their_serde_names() {
        assert_eq!(schema_json::<InjectionState>()["enum"], json!(["pending", "active", "rolled_back", "failed"]));
        assert_eq!(schema_json::<UndoOutcome>()["enum"], json!(["undone", "already_gone"]));
        let kinds = schema_json::<wire::ErrorKind>();
        assert!(kinds["enum"].as_array().unwrap().contains(&json!("rollback_failed")), "{kinds}");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 20, "{refs:?}");
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("odd $ref {r}"));
            assert!(schemas.contains_key(name), "$ref {r} has no schema");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_operation_names_its_role_and_its_errors() {
        let doc = serde_json::to_value(document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let role = op["x-faultdrill-role"].as_str().unwrap();
                let statuses: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
                if path == "/v1/health" {
                    assert_eq!((role, &op["security"]), ("public", &json!([])));
                    continue;
                }
                assert_eq!(op["security"], json!([{ BEARER: [role] }]), "{method} {path}");
                assert!(statuses.contains(&"401"), "{method} {path}: {statuses:?}");
                let expected = match (method.as_str(), path.as_str()) {
                    (_, "/v1/audit" | "/v1/policy") => "admin",
                    ("get", _) => "viewer",
                    _ => "operator",
                };
                assert_eq!(role, expected, "{method} {path}");
                if role != "viewer" {
                    assert!(statuses.contains(&"403"), "{method} {path}: {statuses:?}");
                }
                if op.get("requestBody").is_some() {
                    for s in ["400", "413", "422"] {
                        assert!(statuses.contains(&s), "{method} {path}: {statuses:?}");
                    }
                }
            }
        }
    }
}
