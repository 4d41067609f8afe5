//! `GET /v1/feed`: new entries of every log as server-sent events, so an
//! agency's own systems follow the federation without polling.
//!
//! Each event is `event: entry`, its data the entry's line as `list`
//! shows it (JSON), its `id` the position reached in every log followed
//! (`origin=size;origin=size`): a client that reconnects with
//! `Last-Event-ID` resumes there, missing nothing. Without one, the feed
//! starts at the logs' heads (`from=now`, the default) or at their first
//! entries (`from=start`). `log=ID` follows one log. The node looks at the
//! logs' heads every 250 ms; the stream ends when the node shuts down.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use concord_keys::roster::Role;
use concord_protocol::origin::Origin;
use futures_util::Stream;
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState, Code};
use crate::query::{ListFilter, QueryError};

/// How often the heads are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// Most entries read from one log at one look.
const BATCH: u64 = 256;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedQuery {
    /// `now` (the default) or `start`, without `Last-Event-ID`.
    from: Option<String>,
    /// Follow one log (a member id or a log origin).
    log: Option<String>,
}

/// `origin=size;origin=size`, the position an event leaves the client at.
fn encode(cursor: &BTreeMap<Origin, u64>) -> String {
    cursor
        .iter()
        .map(|(origin, size)| format!("{origin}={size}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn decode(text: &str, logs: &[Origin]) -> Result<BTreeMap<Origin, u64>, QueryError> {
    let bad = || QueryError::BadRequest(format!("Last-Event-ID {text:?} is no feed position"));
    let mut cursor = BTreeMap::new();
    for part in text.split(';').filter(|p| !p.is_empty()) {
        let (origin, size) = part.rsplit_once('=').ok_or_else(bad)?;
        let origin = Origin::new(origin).map_err(|_| bad())?;
        if logs.contains(&origin) {
            cursor.insert(origin, size.parse().map_err(|_| bad())?);
        }
    }
    Ok(cursor)
}

/// New entries of every log as server-sent events (`event: entry`, its
/// data the entry's line as the listing shows it), resumable with
/// `Last-Event-ID`.
#[utoipa::path(
    get,
    path = "/v1/feed",
    tag = "logs",
    params(
        FeedQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received: the feed resumes there"),
    ),
    responses(
        (status = 200, description = "The event stream; it ends when the node shuts down", body = String, content_type = "text/event-stream"),
        (status = 400, description = "`bad_request`: a bad `from` or `Last-Event-ID`", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such log", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn feed(
    State(state): State<ApiState>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let queries = state.queries.clone();
    let logs: Vec<Origin> = match &query.log {
        Some(log) => vec![queries.log(log)?],
        None => queries
            .roster
            .members
            .iter()
            .filter(|m| m.role == Role::Member)
            .map(|m| Origin::new(&m.origin))
            .collect::<Result<_, _>>()
            .map_err(|e| QueryError::NotFound(e.to_string()))?,
    };
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|text| decode(text, &logs))
        .transpose()?;
    let mut cursor = BTreeMap::new();
    for origin in &logs {
        let start = match (&resumed, query.from.as_deref()) {
            (Some(resumed), _) => resumed.get(origin).copied().unwrap_or(0),
            (None, None | Some("now")) => {
                queries.store.head(origin).map_err(QueryError::from)?.size
            }
            (None, Some("start")) => 0,
            (None, Some(other)) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Code::BadRequest,
                    format!("from={other:?}: expected `now` or `start`"),
                ));
            }
        };
        cursor.insert(origin.clone(), start);
    }
    let (events, receiver) = tokio::sync::mpsc::channel::<Event>(64);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(LOOK_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = events.closed() => return,
                _ = every.tick() => {}
            }
            let looked = {
                let queries = queries.clone();
                let cursor = cursor.clone();
                tokio::task::spawn_blocking(move || new_entries(&queries, &cursor)).await
            };
            let Ok(Ok(found)) = looked else {
                tracing::warn!("the feed could not read the store; it tries again");
                continue;
            };
            for (origin, line) in found {
                cursor.insert(origin, line.index + 1);
                let event = Event::default()
                    .event("entry")
                    .id(encode(&cursor))
                    .json_data(&line)
                    .expect("entry lines serialise");
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The entries past `cursor` in each log, in log order.
fn new_entries(
    queries: &crate::query::Queries,
    cursor: &BTreeMap<Origin, u64>,
) -> Result<Vec<(Origin, crate::query::EntryLine)>, QueryError> {
    let mut found = Vec::new();
    for (origin, &from) in cursor {
        let size = queries.store.head(origin)?.size;
        if size > from {
            let lines =
                crate::query::list(&queries.store, origin, from, BATCH, &ListFilter::default())?;
            found.extend(lines.into_iter().map(|line| (origin.clone(), line)));
        }
    }
    Ok(found)
}
