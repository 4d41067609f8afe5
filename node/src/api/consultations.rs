//! Consultations (PROTOCOL.md §3.3): asking the denying state about a
//! denial, answering, and the consultations this node can read. Requests
//! and replies are published on the own log as `records::publish_entry` does,
//! within the same publish rate.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::records::publish_entry;
use super::{ApiError, ApiResult, ApiState, Code};
use crate::consultation::{ConsultationFilter, ConsultationView, NewReply, NewRequest};
use crate::query::{Published, QueryError};

/// A JSON body of `T`, refused as the other routes refuse (400 with a
/// code), unknown fields included.
fn body_of<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| QueryError::BadRequest(format!("request body: {e}")).into())
}

/// Publishes a consultation request about a denial, as a publish does.
#[utoipa::path(
    post,
    path = "/v1/consultations",
    tag = "consultations",
    operation_id = "request_consultation",
    request_body = NewRequest,
    responses(
        (status = 201, description = "Published and durable", body = Published),
        (status = 403, description = "`observer` or `insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such denial", body = super::openapi::ErrorBody),
        (status = 422, description = "`rejected`: the request breaks a rule of the protocol", body = super::openapi::ErrorBody),
        (status = 503, description = "`own_log_unconfirmed` or `shutting_down`", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn request(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let new: NewRequest = body_of(&body)?;
    let entry = state.queries.consultation_request(&new)?;
    publish_entry(&state, entry).await
}

/// Publishes the reply to a consultation request, as a publish does.
#[utoipa::path(
    post,
    path = "/v1/consultations/reply",
    operation_id = "reply_consultation",
    tag = "consultations",
    request_body = NewReply,
    responses(
        (status = 201, description = "Published and durable", body = Published),
        (status = 403, description = "`observer` or `insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such request", body = super::openapi::ErrorBody),
        (status = 422, description = "`rejected`: the reply breaks a rule of the protocol", body = super::openapi::ErrorBody),
        (status = 503, description = "`own_log_unconfirmed` or `shutting_down`", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn reply(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let new: NewReply = body_of(&body)?;
    let entry = state.queries.consultation_reply(&new)?;
    publish_entry(&state, entry).await
}

/// The consultations this node can read.
#[utoipa::path(
    get,
    path = "/v1/consultations",
    tag = "consultations",
    operation_id = "list_consultations",
    params(ConsultationFilter),
    responses(
        (status = 200, description = "The consultations, each with its request, denial and state", body = [ConsultationView]),
        (status = 400, description = "`bad_request`: an unknown filter", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn list(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Vec<ConsultationView>>> {
    let filter: ConsultationFilter = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| QueryError::BadRequest(format!("query: {e}")))?;
    let queries = state.queries.clone();
    let views =
        tokio::task::spawn_blocking(move || queries.consultations(&filter, crate::clock::now()))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Code::Failed,
                    format!("listing consultations: {e}"),
                )
            })??;
    Ok(Json(views))
}
