//! Who is calling, and may they: a named bearer token (compared in constant time)
//! on everything but `/v1/health`, then the role the endpoint needs.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::client::wire::ErrorKind;

use super::api_error::ApiError;
use super::state::Shared;
use super::tokens::Role;

/// Endpoints only an admin may call, whatever the method.
const ADMIN_PATHS: &[&str] = &["/v1/audit", "/v1/policy"];

/// The role `method` on `path` needs: reads are for viewers, changes for operators,
/// the policy and the audit trail for admins.
pub fn required_role(method: &Method, path: &str) -> Role {
    if ADMIN_PATHS.contains(&path) {
        Role::Admin
    } else if method == Method::GET || method == Method::HEAD {
        Role::Viewer
    } else {
        Role::Operator
    }
}

/// Lets the request through with its [`Caller`] in the request (and response)
/// extensions; 401 without a known token, 403 when the role is too low.
pub async fn authenticate(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let caller = match given.and_then(|v| v.strip_prefix("Bearer ")) {
        Some(token) => match state.tokens.identify(token.trim()) {
            Some(caller) => caller.clone(),
            None => return unauthorized("use a valid bearer token: this one is not the daemon's"),
        },
        None => return unauthorized("authenticate: send `Authorization: Bearer <token>`"),
    };
    let needed = required_role(req.method(), req.uri().path());
    if caller.role < needed {
        let message = format!(
            "{} {}: the token `{}` has the role {}, and this needs {needed}",
            req.method(),
            req.uri().path(),
            caller.name,
            caller.role
        );
        let mut resp = ApiError::new(StatusCode::FORBIDDEN, ErrorKind::Forbidden, message).into_response();
        resp.extensions_mut().insert(caller);
        return resp;
    }
    req.extensions_mut().insert(caller.clone());
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(caller);
    resp
}

fn unauthorized(what: &str) -> Response {
    let message = format!(
        "{what}; on the daemon's host the CLI reads the daemon's <state-dir>/token by itself, elsewhere give it with \
         FAULTDRILL_TOKEN or --token-file"
    );
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, ErrorKind::Unauthorized, message).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_method_and_the_admin_paths() {
        assert_eq!(required_role(&Method::GET, "/v1/runs"), Role::Viewer);
        assert_eq!(required_role(&Method::POST, "/v1/injections"), Role::Operator);
        assert_eq!(required_role(&Method::DELETE, "/v1/injections/i-1"), Role::Operator);
        assert_eq!(required_role(&Method::GET, "/v1/audit"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/v1/policy"), Role::Admin);
    }
}
