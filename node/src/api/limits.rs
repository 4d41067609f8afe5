//! What a request may cost before its handler runs: publishing is rate
//! limited per bearer token, bodies must be JSON and arrive whole within a
//! deadline. The server's own bounds (connections, header timeout) are in
//! [`super::server`].

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use super::auth::bearer;
use super::{ApiError, Code};
use crate::query::MAX_BODY_BYTES;

/// The publish rate of each bearer token (GCRA: `per_second` sustained,
/// `burst` at once).
///
/// Keyed by the token, not the peer address: every local client comes
/// from 127.0.0.1. It runs after authentication, so only valid tokens
/// become keys and the map stays as small as the set of tokens.
#[derive(Clone)]
pub(crate) struct PublishRate {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl PublishRate {
    pub(super) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            )),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` while `key` publishes within its rate; else a 429 saying in
    /// how many whole seconds (rounded up, so that a client that waits
    /// them is let through) to retry.
    ///
    /// # Errors
    /// The 429, with the wait in seconds.
    pub(crate) fn check(&self, key: &str) -> Result<(), (ApiError, u64)> {
        let Err(not_until) = self.limiter.check_key(&key.to_owned()) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(self.clock.now());
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let refusal = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::RateLimited,
            format!(
                "this token is publishing faster than the node's api.limits allow; retry in {retry_after} s"
            ),
        );
        Err((refusal, retry_after))
    }
}

/// 429 with `Retry-After` once a token is past its rate.
pub(super) async fn limit_publish(
    State(rate): State<PublishRate>,
    request: Request,
    next: Next,
) -> Response {
    let token = bearer(request.headers()).unwrap_or_default();
    let Err((refusal, retry_after)) = rate.check(token) else {
        return next.run(request).await;
    };
    let mut response = refusal.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// 415 unless the request says its body is `application/json` (parameters
/// such as `charset` allowed).
pub(super) async fn require_json(request: Request, next: Next) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            "send the body as JSON, with `Content-Type: application/json`",
        )
        .into_response();
    }
    next.run(request).await
}

/// Reads the whole body within `deadline` before the handler runs: 408
/// and a closed connection for a client that sends it too slowly, 413 for
/// one larger than a record may be.
pub(super) async fn read_body(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(deadline, Limited::new(body, MAX_BODY_BYTES).collect()).await;
    let refusal = match read {
        Ok(Ok(collected)) => {
            let request = Request::from_parts(parts, Body::from(collected.to_bytes()));
            return next.run(request).await;
        }
        Err(_elapsed) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            Code::BodyTimeout,
            format!(
                "the request body did not arrive within {} ms",
                deadline.as_millis()
            ),
        ),
        Ok(Err(e)) if e.is::<LengthLimitError>() => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::TooLarge,
            format!("the request body is larger than the {MAX_BODY_BYTES} bytes a record may have"),
        ),
        Ok(Err(e)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::BadBody,
            format!("reading the request body: {e}"),
        ),
    };
    let mut response = refusal.into_response();
    // What is left of the body is not read: the connection cannot carry
    // another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
