//! Bearer-token authentication of the API's protected routes.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Lets a request through only with `Authorization: Bearer <HOME/api.token>`.
pub(super) async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = bearer(request.headers());
    // Compare in constant time: the token is the only secret on this path.
    let matches = presented.is_some_and(|p| {
        p.len() == state.token.len()
            && p.bytes()
                .zip(state.token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !matches {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token (see HOME/api.token)",
        )
        .into_response();
    }
    next.run(request).await
}
