//! API errors as JSON responses, and a JSON body extractor whose rejections
//! are API errors too (400 for malformed JSON, 422 naming the field).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::client::wire::{ErrorBody, ErrorKind};
use crate::engine::HostError;
use crate::fault::FaultError;
use crate::ids::InjectionId;

/// An error answer: a status and a JSON [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody { error: message.into(), kind, field: None, active: None } }
    }

    /// 422 about one field of the request.
    pub fn field(kind: ErrorKind, field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, kind, message);
        e.body.field = Some(field.into());
        e
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, what)
    }

    /// 429: over a limit of things at once; `message` says which and how many.
    pub fn too_many(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::TooMany, message)
    }

    /// 400 for an id that cannot be one (`../x`), before anything looks it up.
    pub fn bad_id(what: &str, given: &str) -> ApiError {
        let shown: String = given.chars().take(40).collect();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequest,
            format!(
                "`{shown}` is not a {what} id (expected e.g. {})",
                if what == "run" { "r-k3j9x0a2mq" } else { "i-0x8d1kq2zz" }
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal, message)
    }
}

impl From<HostError> for ApiError {
    fn from(e: HostError) -> ApiError {
        let text = crate::engine::error_chain(&e);
        match e {
            HostError::UnknownFault { .. } => ApiError::field(ErrorKind::UnknownFault, "fault", text),
            HostError::BadParams { .. } => ApiError::field(ErrorKind::BadParams, "params", text),
            HostError::Conflict { active, .. } => conflict(text, active),
            HostError::Inject { source: FaultError::Apply { .. }, .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::InjectFailed, text)
            }
            HostError::Inject { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorKind::InjectFailed, text),
            HostError::NotFound { .. } => ApiError::not_found(text),
            HostError::Journal(_) | HostError::Remote { .. } => ApiError::internal(text),
        }
    }
}

fn conflict(text: String, active: InjectionId) -> ApiError {
    let mut e = ApiError::new(StatusCode::CONFLICT, ErrorKind::Conflict, text);
    e.body.active = Some(active);
    e
}

impl From<super::policy::Refusal> for ApiError {
    fn from(r: super::policy::Refusal) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, ErrorKind::Forbidden, r.to_string())
    }
}

impl From<crate::journal::JournalError> for ApiError {
    fn from(e: crate::journal::JournalError) -> ApiError {
        ApiError::internal(crate::engine::error_chain(&e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// A JSON body. Not JSON at all → 400 with serde's message; JSON of the wrong
/// shape → 422 naming the field (`params.percent`, `duration`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                let max = super::routes::MAX_BODY / (1024 * 1024);
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorKind::TooLarge,
                    format!("send a smaller body: this daemon accepts at most {max} MiB"),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::MalformedJson, format!("read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A path parameter; one that cannot be decoded (not UTF-8) is a JSON 400 like any other.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, e.body_text()))
    }
}

/// A query string; a malformed one (a field given twice) is a JSON 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| {
                let mut err = ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, e.body_text());
                err.body.field = Some("query".into());
                err
            })
    }
}

/// Parses a request body (see [`ApiJson`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::MalformedJson, format!("the body is not valid JSON: {e}"))
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match path.as_str() {
            "." => ApiError::field(ErrorKind::InvalidRequest, field_in(&inner).unwrap_or("body").to_string(), inner),
            _ => ApiError::field(ErrorKind::InvalidRequest, path.clone(), format!("{path}: {inner}")),
        }
    })
}

/// The field serde names in "missing field `x`" or "unknown field `x`".
fn field_in(message: &str) -> Option<&str> {
    let start = message.find("field `")? + "field `".len();
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::wire::InjectionRequest;

    #[test]
    fn malformed_json_is_400_and_wrong_shape_is_422_with_the_field() {
        let e = parse_json::<InjectionRequest>(b"{\"fault\": ").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.body.error.starts_with("the body is not valid JSON: EOF"), "{}", e.body.error);
        let e = parse_json::<InjectionRequest>(br#"{"fault": "disk-fill"}"#).unwrap_err();
        assert_eq!((e.status, e.body.field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("duration")));
        let e = parse_json::<InjectionRequest>(br#"{"fault": "x", "duration": 5}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("duration"));
        let e = parse_json::<InjectionRequest>(br#"{"fault": "x", "duration": "5s", "colour": 1}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("colour"));
    }
}
