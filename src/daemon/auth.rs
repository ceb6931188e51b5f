//! Bearer-token auth, compared in constant time, on everything but `/v1/health`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::client::wire::ErrorKind;

use super::api_error::ApiError;
use super::state::Shared;

/// Lets the request through only with `Authorization: Bearer <token>` (when the daemon has a token).
pub async fn require_token(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let Some(expected) = &state.token else {
        return next.run(req).await;
    };
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let message = match given.and_then(|v| v.strip_prefix("Bearer ")) {
        Some(token) if is_same(token.trim().as_bytes(), expected.as_bytes()) => return next.run(req).await,
        Some(_) => "use the bearer token: it is wrong; send the daemon's token (its --token-file or FAULTDRILL_TOKEN)",
        None => "authenticate: send `Authorization: Bearer <token>` with the daemon's token",
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, ErrorKind::Unauthorized, message).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    resp
}

/// Constant-time comparison (the length is not secret).
fn is_same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_exactly() {
        assert!(super::is_same(b"abc", b"abc"));
        assert!(!super::is_same(b"abd", b"abc"));
        assert!(!super::is_same(b"ab", b"abc"));
        assert!(!super::is_same(b"", b"abc"));
    }
}
