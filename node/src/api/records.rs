//! Publishing on the own log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState};
use crate::query::{Published, own_entry};

#[derive(Debug, Deserialize)]
pub(super) struct PublishQuery {
    visibility: Option<String>,
    refers_to: Option<u64>,
}

/// Answers 201 only once the entry is durable (the writer's group commit
/// flushed it).
pub(super) async fn publish(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    Query(query): Query<PublishQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let publisher = state.publisher.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "observer",
            "this node is an observer: observers cannot publish",
        )
    })?;
    let entry = own_entry(&kind, query.visibility.as_deref(), query.refers_to, &body)?;
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
