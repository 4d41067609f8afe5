//! Liveness and readiness, without a token: for supervisors and load
//! balancers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::ApiState;
use crate::own_log::OwnLogState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// The process answers.
    live: bool,
    /// The store is open and, for a member, its own log is confirmed
    /// with its peers, so it publishes.
    ready: bool,
    /// The own log's state (`null` for an observer).
    own_log: Option<OwnLogState>,
}

fn health(state: &ApiState) -> Health {
    let own_log = state
        .own_log
        .as_ref()
        .and_then(|own| own.state_in(&state.queries.store).ok());
    let ready = match &state.own_log {
        None => state.queries.store.logs().is_ok(),
        Some(_) => matches!(own_log, Some(OwnLogState::Confirmed { .. })),
    };
    Health {
        live: true,
        ready,
        own_log,
    }
}

/// 200 while the node answers, with whether it is ready.
#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "health",
    tag = "health",
    responses((status = 200, description = "The node answers; `ready` says whether it publishes", body = Health)),
)]
pub(super) async fn live(State(state): State<ApiState>) -> Json<Health> {
    Json(health(&state))
}

/// 200 when ready, 503 until then.
#[utoipa::path(
    get,
    path = "/v1/health/ready",
    operation_id = "health_ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready: the store is open and, for a member, its own log confirmed", body = Health),
        (status = 503, description = "Not ready yet", body = Health),
    ),
)]
pub(super) async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Health>) {
    let health = health(&state);
    let status = if health.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}
