//! Routes that read one log: entries, checkpoints and proofs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiResult, ApiState};
use concord_protocol::proof::Proof;

use crate::query::{EntryLine, EntryView, ListFilter};

/// Most entries one listing returns.
const MAX_LIST: u64 = 1000;

/// A listing's page and filters (`?start=&limit=&kind=&status=&state=
/// &party=&control_entry=&since=&until=`); the filters are
/// [`ListFilter`]'s, spelt out because a flattened struct would take the
/// numbers as text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    start: Option<u64>,
    limit: Option<u64>,
    kind: Option<String>,
    status: Option<String>,
    state: Option<String>,
    party: Option<String>,
    control_entry: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub(super) async fn list_entries(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<EntryLine>>> {
    let limit = query.limit.unwrap_or(100).min(MAX_LIST);
    let filter = ListFilter {
        kind: query.kind,
        status: query.status,
        state: query.state,
        party: query.party,
        control_entry: query.control_entry,
        since: query.since,
        until: query.until,
    };
    Ok(Json(state.queries.entries(
        &log,
        query.start.unwrap_or(0),
        limit,
        &filter,
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
