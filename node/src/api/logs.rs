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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// The first index (0).
    start: Option<u64>,
    /// Most entries (100, at most 1000).
    limit: Option<u64>,
    /// A record kind.
    kind: Option<String>,
    /// A denial's state today: `active`, `amended`, `revoked`, `expired`.
    status: Option<String>,
    /// The state in whose name the record was published (ISO code).
    state: Option<String>,
    /// Part of a party's name or alias.
    party: Option<String>,
    /// A control-list entry or the start of one.
    control_entry: Option<String>,
    /// First day (`YYYY-MM-DD`) of the record's date.
    since: Option<String>,
    /// Last day of the record's date.
    until: Option<String>,
}

/// Entry summaries of a log, in log order.
#[utoipa::path(
    get,
    path = "/v1/logs/{log}/entries",
    tag = "logs",
    params(("log" = String, Path, description = "A member id or a log origin"), ListQuery),
    responses(
        (status = 200, description = "One line per entry", body = [EntryLine]),
        (status = 400, description = "`bad_request`: a filter that does not parse", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such log", body = super::openapi::ErrorBody),
    ),
)]
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

/// One entry, its header bytes verbatim (base64) and its payload if this
/// node may read it.
#[utoipa::path(
    get,
    path = "/v1/logs/{log}/entries/{index}",
    tag = "logs",
    params(
        ("log" = String, Path, description = "A member id or a log origin"),
        ("index" = u64, Path, description = "The entry's index"),
    ),
    responses(
        (status = 200, description = "The entry", body = EntryView),
        (status = 404, description = "`not_found`: no such log or entry", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn show_entry(
    State(state): State<ApiState>,
    Path((log, index)): Path<(String, u64)>,
) -> ApiResult<Json<EntryView>> {
    Ok(Json(state.queries.entry(&log, index)?))
}

/// The latest signed checkpoint of a log, a C2SP signed note.
#[utoipa::path(
    get,
    path = "/v1/logs/{log}/checkpoint",
    tag = "logs",
    params(("log" = String, Path, description = "A member id or a log origin")),
    responses(
        (status = 200, description = "The checkpoint note", body = String, content_type = "text/plain"),
        (status = 404, description = "`not_found`: no such log, or no checkpoint yet", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn checkpoint(
    State(state): State<ApiState>,
    Path(log): Path<String>,
) -> ApiResult<Response> {
    let note = state.queries.checkpoint(&log)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct InclusionQuery {
    /// The entry's index.
    index: u64,
    /// The tree size the proof is for (the latest checkpoint's).
    size: Option<u64>,
}

/// An RFC 6962 inclusion proof of an entry.
#[utoipa::path(
    get,
    path = "/v1/logs/{log}/proof/inclusion",
    operation_id = "inclusion_proof",
    tag = "logs",
    params(("log" = String, Path, description = "A member id or a log origin"), InclusionQuery),
    responses(
        (status = 200, description = "The proof: sizes, index and hashes", body = Object),
        (status = 400, description = "`bad_request`: an index beyond the size", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such log", body = super::openapi::ErrorBody),
    ),
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ConsistencyQuery {
    /// The older tree size.
    from: u64,
    /// The newer tree size.
    to: u64,
}

/// An RFC 6962 consistency proof between two sizes of a log.
#[utoipa::path(
    get,
    path = "/v1/logs/{log}/proof/consistency",
    operation_id = "consistency_proof",
    tag = "logs",
    params(("log" = String, Path, description = "A member id or a log origin"), ConsistencyQuery),
    responses(
        (status = 200, description = "The proof: sizes and hashes", body = Object),
        (status = 400, description = "`bad_request`: sizes out of order or beyond the log", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such log", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn consistency(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ConsistencyQuery>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(state.queries.consistency(&log, query.from, query.to)?))
}
