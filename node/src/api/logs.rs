//! Routes that read one log: entries, checkpoints and proofs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiResult, ApiState};
use concord_protocol::proof::Proof;

use crate::query::{EntryLine, EntryView};

/// Most entries one listing returns.
const MAX_LIST: u64 = 1000;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    start: Option<u64>,
    limit: Option<u64>,
}

pub(super) async fn list_entries(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<EntryLine>>> {
    let limit = query.limit.unwrap_or(100).min(MAX_LIST);
    Ok(Json(state.queries.entries(
        &log,
        query.start.unwrap_or(0),
        limit,
    )?))
}

pub(super) async fn show_entry(
    State(state): State<ApiState>,
    Path((log, index)): Path<(String, u64)>,
) -> ApiResult<Json<EntryView>> {
    Ok(Json(state.queries.entry(&log, index)?))
}

pub(super) async fn checkpoint(
    State(state): State<ApiState>,
    Path(log): Path<String>,
) -> ApiResult<Response> {
    let note = state.queries.checkpoint(&log)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

pub(super) async fn inclusion(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<InclusionQuery>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(state.queries.inclusion(
        &log,
        query.index,
        query.size,
    )?))
}

#[derive(Debug, Deserialize)]
pub(super) struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub(super) async fn consistency(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ConsistencyQuery>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(state.queries.consistency(&log, query.from, query.to)?))
}
