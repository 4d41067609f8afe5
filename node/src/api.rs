//! The local HTTP API (axum), for this agency's officers and scripts.
//!
//! Bound to loopback by default and protected by the bearer token in
//! `HOME/api.token`; `/v1/health` and `/metrics` need no token. Errors are
//! JSON `{"error": <stable code>, "message": <what and why>}`.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET  | /v1/health | liveness |
//! | GET  | /v1/status | node, peers, every log with checkpoint, witnesses, lag |
//! | POST | /v1/records/{kind}?visibility=..&refers_to=N | publish (durable before 201) |
//! | GET  | /v1/logs/{log}/entries?start=&limit= | entry summaries |
//! | GET  | /v1/logs/{log}/entries/{index} | one entry, header bytes verbatim |
//! | GET  | /v1/logs/{log}/checkpoint | latest signed checkpoint note (text/plain) |
//! | GET  | /v1/logs/{log}/proof/inclusion?index=&size= | inclusion proof |
//! | GET  | /v1/logs/{log}/proof/consistency?from=&to= | consistency proof |
//! | GET  | /v1/roster | members and their C2SP verifier keys |
//! | GET  | /v1/evidence | equivocation proofs and quarantines |
//! | POST | /v1/quarantine/{log}/clear | lift a quarantine, recording who decided |
//! | GET  | /metrics | Prometheus text format |

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use concord_keys::roster::{Role, Roster};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Record};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::net::NetHandle;
use crate::publish::{OwnEntry, PublishError, Publisher};
use crate::replicate::SyncState;
use crate::store::{Rejected, Store};
use crate::views::{self, ViewError};

/// Largest request body accepted (a record is bounded well below this).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Everything the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub roster: Arc<Roster>,
    pub publisher: Option<Publisher>,
    pub net: Option<NetHandle>,
    pub sync: Arc<Mutex<SyncState>>,
    pub token: String,
    pub me: Me,
    pub required_cosignatures: usize,
}

/// This node's identity as the roster states it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    pub origin: String,
    pub role: Role,
    pub country: Country,
}

/// An API failure with a stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            ViewError::BadRequest(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m),
            ViewError::Store(s) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", s.to_string())
            }
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Rejected(r @ Rejected::Quarantined(_)) => {
                ApiError::new(StatusCode::CONFLICT, "quarantined", r.to_string())
            }
            PublishError::Rejected(r) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", r.to_string())
            }
            PublishError::Storage(m) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "storage", m)
            }
            PublishError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the node is shutting down",
            ),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The router over `state`.
pub fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/records/{kind}", post(publish))
        .route("/v1/logs/{log}/entries", get(list_entries))
        .route("/v1/logs/{log}/entries/{index}", get(show_entry))
        .route("/v1/logs/{log}/checkpoint", get(checkpoint))
        .route("/v1/logs/{log}/proof/inclusion", get(inclusion))
        .route("/v1/logs/{log}/proof/consistency", get(consistency))
        .route("/v1/roster", get(roster))
        .route("/v1/evidence", get(evidence))
        .route("/v1/quarantine/{log}/clear", post(clear_quarantine))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        )
        .route("/metrics", get(metrics))
        .merge(protected)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `router` on an already-bound listener until `shutdown` fires.
///
/// # Errors
/// An I/O failure of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn require_token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
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

fn log_origin(state: &ApiState, log: &str) -> ApiResult<Origin> {
    Ok(views::resolve_log(&state.roster, log)?)
}

/// The status document.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusView {
    pub me: Me,
    pub federation: String,
    pub roster_version: u64,
    pub peers: Vec<PeerView>,
    pub logs: Vec<views::LogView>,
    pub quarantined: Vec<String>,
    pub evidence: usize,
    pub sync: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PeerView {
    pub peer_id: String,
    pub member: Option<String>,
    pub addrs: Vec<String>,
}

async fn status(State(state): State<ApiState>) -> ApiResult<Json<StatusView>> {
    let sync = state
        .sync
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let peers = match &state.net {
        Some(net) => net
            .peers()
            .await
            .into_iter()
            .map(|p| PeerView {
                member: state
                    .roster
                    .member_by_peer_id(&p.peer.to_string())
                    .map(|m| m.id.to_string()),
                peer_id: p.peer.to_string(),
                addrs: p.addrs.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        None => Vec::new(),
    };
    let logs = views::logs(
        &state.store,
        &state.roster,
        state.required_cosignatures,
        &sync.seen_sizes,
    )?;
    let quarantined = state
        .store
        .quarantines()
        .map_err(ViewError::from)?
        .into_iter()
        .map(|q| q.origin.to_string())
        .collect();
    Ok(Json(StatusView {
        me: state.me.clone(),
        federation: state.roster.federation.clone(),
        roster_version: state.roster.version,
        peers,
        logs,
        quarantined,
        evidence: state.store.evidence().map_err(ViewError::from)?.len(),
        sync: serde_json::to_value(&sync).unwrap_or_default(),
    }))
}

#[derive(Debug, Deserialize)]
struct PublishQuery {
    visibility: Option<String>,
    refers_to: Option<u64>,
}

/// Where a published entry landed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Published {
    pub origin: String,
    pub index: u64,
    pub leaf_hash: String,
}

async fn publish(
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
            leaf_hash: base64_encode(&outcome.leaf_hash),
        }),
    ))
}

/// Parses what an officer submits into an entry for the own log.
///
/// # Errors
/// [`ViewError::BadRequest`] naming the problem (the record's field, the
/// visibility, a missing reference).
pub fn own_entry(
    kind: &str,
    visibility: Option<&str>,
    refers_to: Option<u64>,
    body: &[u8],
) -> Result<OwnEntry, ViewError> {
    let kind = views::parse_kind(kind)?;
    let record = Record::parse(kind, body)
        .map_err(|e| ViewError::BadRequest(format!("{kind} record refused: {e}")))?;
    let visibility = views::parse_visibility(visibility.unwrap_or("federation"))?;
    Ok(OwnEntry {
        record,
        visibility,
        refers_to,
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    start: Option<u64>,
    limit: Option<u64>,
}

async fn list_entries(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<views::EntryLine>>> {
    let origin = log_origin(&state, &log)?;
    let limit = query.limit.unwrap_or(100).min(1000);
    Ok(Json(views::list(
        &state.store,
        &origin,
        query.start.unwrap_or(0),
        limit,
    )?))
}

async fn show_entry(
    State(state): State<ApiState>,
    Path((log, index)): Path<(String, u64)>,
) -> ApiResult<Json<views::EntryView>> {
    let origin = log_origin(&state, &log)?;
    Ok(Json(views::entry(
        &state.store,
        &origin,
        index,
        (state.me.role, &state.me.country),
    )?))
}

async fn checkpoint(State(state): State<ApiState>, Path(log): Path<String>) -> ApiResult<Response> {
    let origin = log_origin(&state, &log)?;
    let cp = state
        .store
        .checkpoint(&origin)
        .map_err(ViewError::from)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no checkpoint of {origin} yet"),
            )
        })?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.to_bytes(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

async fn inclusion(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<InclusionQuery>,
) -> ApiResult<Json<views::ProofView>> {
    let origin = log_origin(&state, &log)?;
    Ok(Json(views::inclusion(
        &state.store,
        &origin,
        query.index,
        query.size,
    )?))
}

#[derive(Debug, Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(query): Query<ConsistencyQuery>,
) -> ApiResult<Json<views::ProofView>> {
    let origin = log_origin(&state, &log)?;
    Ok(Json(views::consistency(
        &state.store,
        &origin,
        query.from,
        query.to,
    )?))
}

async fn roster(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(views::roster(&state.roster))
}

async fn evidence(State(state): State<ApiState>) -> ApiResult<Json<serde_json::Value>> {
    let evidence = state.store.evidence().map_err(ViewError::from)?;
    let quarantines = state.store.quarantines().map_err(ViewError::from)?;
    let decisions = state.store.decisions().map_err(ViewError::from)?;
    Ok(Json(
        serde_json::json!({ "evidence": evidence, "quarantines": quarantines, "decisions": decisions }),
    ))
}

#[derive(Debug, Deserialize, Serialize)]
pub struct ClearRequest {
    pub operator: String,
    pub reason: String,
}

async fn clear_quarantine(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Json(request): Json<ClearRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let origin = log_origin(&state, &log)?;
    if request.operator.trim().is_empty() || request.reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "operator and reason must not be empty",
        ));
    }
    let cleared = state
        .store
        .clear_quarantine(
            &origin,
            &request.operator,
            &request.reason,
            crate::clock::now(),
        )
        .await
        .map_err(ViewError::from)?;
    Ok(Json(
        serde_json::json!({ "origin": origin, "cleared": cleared }),
    ))
}

async fn metrics(State(state): State<ApiState>) -> Response {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE concord_log_size gauge");
    if let Ok(logs) = state.store.logs() {
        for (origin, head) in logs {
            let _ = writeln!(out, "concord_log_size{{origin=\"{origin}\"}} {}", head.size);
        }
    }
    let sync = state
        .sync
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let _ = writeln!(out, "# TYPE concord_gossip_appended_total counter");
    let _ = writeln!(
        out,
        "concord_gossip_appended_total {}",
        sync.gossip_appended
    );
    let _ = writeln!(out, "# TYPE concord_gossip_rejected_total counter");
    let _ = writeln!(
        out,
        "concord_gossip_rejected_total {}",
        sync.gossip_rejected
    );
    let _ = writeln!(out, "# TYPE concord_synced_appended_total counter");
    let _ = writeln!(
        out,
        "concord_synced_appended_total {}",
        sync.synced_appended
    );
    let quarantined = state.store.quarantines().map(|q| q.len()).unwrap_or(0);
    let _ = writeln!(out, "# TYPE concord_quarantined_logs gauge");
    let _ = writeln!(out, "concord_quarantined_logs {quarantined}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
