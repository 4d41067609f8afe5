//! `/metrics`: the node's registry ([`crate::metrics`]), with what its
//! state says now, in the OpenMetrics text format Prometheus reads.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{ApiResult, ApiState};

/// The node's metrics. Asks for `read` unless `[api] metrics_open`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text")),
)]
pub(super) async fn metrics(State(state): State<ApiState>) -> ApiResult<Response> {
    let status = state.status().await?;
    let alerts = state
        .queries
        .store
        .alerts::<serde_json::Value>()
        .map_err(crate::query::QueryError::Store)?
        .len();
    let now = crate::metrics::state_metrics(&status, alerts, crate::clock::now());
    let mut text = String::new();
    prometheus_client::encoding::text::encode_registry(&mut text, &now)
        .expect("writing to a String does not fail");
    prometheus_client::encoding::text::encode(&mut text, &state.registry)
        .expect("writing to a String does not fail");
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
