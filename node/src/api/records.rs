//! Publishing on the own log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState};
use crate::publish::OwnEntry;
use crate::query::{Published, own_entry, refuse_duplicate};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PublishQuery {
    /// `public`, `federation` (the default) or a list of member ids.
    visibility: Option<String>,
    /// The index in the own log of the record this one amends or revokes.
    refers_to: Option<u64>,
    /// Refuse (409 `duplicate_record`) a record identical to one of the
    /// own log still in force, as the command line does unless `--force`.
    #[serde(default)]
    refuse_duplicate: bool,
}

/// Publishes a record on the own log. Answers 201 only once the entry is
/// durable (the writer's group commit flushed it).
#[utoipa::path(
    post,
    path = "/v1/records/{kind}",
    operation_id = "publish_record",
    tag = "records",
    params(
        ("kind" = String, Path, description = "The record's kind, e.g. `denial`, `denial.amend`, `notice`"),
        PublishQuery,
    ),
    request_body(content = ref("#/components/schemas/record"), description = "The record's payload, by the schema of its kind"),
    responses(
        (status = 201, description = "Published and durable", body = Published),
        (status = 403, description = "`observer` or `insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 409, description = "`duplicate_record`, a quarantined log, or `own_log_forked`", body = super::openapi::ErrorBody),
        (status = 422, description = "`rejected`: the record breaks a rule of the protocol", body = super::openapi::ErrorBody),
        (status = 503, description = "`own_log_unconfirmed` until a peer confirmed the own log, or `shutting_down`", body = super::openapi::ErrorBody),
        (status = 507, description = "`storage`: the disk refused the write", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn publish(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    Query(query): Query<PublishQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let entry = own_entry(&kind, query.visibility.as_deref(), query.refers_to, &body)?;
    if query.refuse_duplicate {
        let origin = state.queries.log(&state.queries.me.id)?;
        let store = state.queries.store.clone();
        let checked = entry.clone();
        super::blocking(move || refuse_duplicate(&store, &origin, &checked)).await?;
    }
    publish_entry(&state, entry).await
}

/// Publishes `entry` on the own log; 201 only once it is durable. The one
/// path of every route that publishes (records, consultations).
pub(super) async fn publish_entry(
    state: &ApiState,
    entry: OwnEntry,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let publisher = state.publisher.as_ref().ok_or_else(ApiError::observer)?;
    let outcome = publisher.publish(entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(Published {
            origin: outcome.origin.to_string(),
            index: outcome.index,
            leaf_hash: hex::encode(outcome.leaf_hash),
        }),
    ))
}
