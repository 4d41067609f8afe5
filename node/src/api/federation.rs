//! Routes about the federation as this node sees it: status, roster,
//! evidence of equivocation and the operator's quarantine decisions.

use axum::Json;
use axum::extract::{Extension, Path, State};

use super::auth::Caller;
use super::{ApiResult, ApiState};
use crate::query::{ClearRequest, Liveness, PeerView, QueryError, StatusView};

/// The node, its peers, every log with its checkpoint, witnesses and lag.
#[utoipa::path(
    get,
    path = "/v1/status",
    operation_id = "status",
    tag = "federation",
    responses((status = 200, description = "The status document `concord status --json` prints", body = StatusView)),
)]
pub(super) async fn status(State(state): State<ApiState>) -> ApiResult<Json<StatusView>> {
    Ok(Json(state.status().await?))
}

impl ApiState {
    /// The status document of the running node: the query service's, with
    /// the peers, the own log's confirmation and the replication counters.
    ///
    /// # Errors
    /// [`QueryError::Store`] on a read failure.
    pub(crate) async fn status(&self) -> Result<StatusView, QueryError> {
        let sync = self.sync();
        let peers = match &self.net {
            Some(net) => net
                .peers()
                .await
                .into_iter()
                .map(|p| PeerView {
                    member: self
                        .queries
                        .roster
                        .member_by_peer_id(&p.peer.to_string())
                        .map(|m| m.id.to_string()),
                    peer_id: p.peer.to_string(),
                    addrs: p.addrs.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            None => Vec::new(),
        };
        let own_log = match &self.own_log {
            Some(own_log) => Some(own_log.state_in(&self.queries.store)?),
            None => None,
        };
        let liveness = Liveness {
            running: true,
            peers,
            own_log,
            sync: serde_json::to_value(&sync).unwrap_or_default(),
            seen_sizes: sync.seen_sizes,
        };
        self.queries.status(liveness)
    }
}

/// The roster's members and their C2SP verifier keys.
#[utoipa::path(
    get,
    path = "/v1/roster",
    tag = "federation",
    responses((status = 200, description = "The roster in force and the roster files", body = Object)),
)]
pub(super) async fn roster(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(crate::query::roster(
        &state.queries.roster,
        &state.queries.rosters,
    ))
}

/// The proofs of equivocation held and the quarantines they caused.
#[utoipa::path(
    get,
    path = "/v1/evidence",
    tag = "federation",
    responses((status = 200, description = "Equivocation proofs and quarantines", body = Object)),
)]
pub(super) async fn evidence(State(state): State<ApiState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(state.queries.evidence()?))
}

/// Lifts a log's quarantine. The decision records the operator named and
/// the token that asked.
#[utoipa::path(
    post,
    path = "/v1/quarantine/{log}/clear",
    tag = "federation",
    params(("log" = String, Path, description = "A member id or a log origin")),
    request_body = ClearRequest,
    responses(
        (status = 200, description = "Whether a quarantine was lifted", body = Cleared),
        (status = 404, description = "`not_found`: no such log", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn clear_quarantine(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Extension(caller): Extension<Caller>,
    Json(mut request): Json<ClearRequest>,
) -> ApiResult<Json<Cleared>> {
    request.operator = format!("{} (token {:?})", request.operator, caller.0);
    let (origin, cleared) = state
        .queries
        .clear_quarantine(&log, &request, crate::clock::now())
        .await?;
    Ok(Json(Cleared {
        origin: origin.to_string(),
        cleared,
    }))
}

/// A log's quarantine, lifted or not.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Cleared {
    /// The log's origin.
    origin: String,
    /// Whether the log was quarantined and is no longer.
    cleared: bool,
}
