//! Bearer tokens with scopes ([`crate::tokens`]): each group of routes
//! asks for one scope.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState, Code};
use crate::tokens::Scope;

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Who made a request: the name of its token, for the records an operator
/// decision leaves.
#[derive(Debug, Clone)]
pub(super) struct Caller(pub String);

/// Lets a request through only with an active token holding `scope`: 401
/// without one, 403 with one that lacks the scope.
pub(super) async fn require(
    State((state, scope)): State<(ApiState, Scope)>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = bearer(request.headers()).and_then(|presented| state.tokens.check(presented));
    let Some(token) = token else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthorized,
            "missing, wrong or revoked bearer token: send `Authorization: Bearer <token>` with a token from `concord token create` (the node's own is HOME/api.token)",
        )
        .into_response();
    };
    if !token.scopes.contains(&scope) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            Code::InsufficientScope,
            format!(
                "the token {:?} holds {}, not the {scope} scope this asks for",
                token.name,
                token
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into_response();
    }
    request.extensions_mut().insert(Caller(token.name));
    next.run(request).await
}
