//! Screening: one application, a batch, and a saved result verified.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use concord_protocol::record::Date;
use concord_screening::Application;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, ApiState, Code, blocking};
use crate::alerts::Alert;
use crate::query::QueryError;
use crate::screening::verify::{self, Verdict};
use crate::screening::{self, MAX_BATCH, Request, ScreeningResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScreenQuery {
    at: Option<String>,
    threshold: Option<f64>,
}

impl ScreenQuery {
    fn request(&self, application: Application) -> Result<Request, QueryError> {
        let at = self
            .at
            .as_deref()
            .map(|at| Date::parse(at).map_err(|e| QueryError::BadRequest(format!("at: {e}"))))
            .transpose()?;
        Ok(Request {
            application,
            at,
            threshold: self.threshold,
        })
    }
}

fn application(bytes: &[u8], what: &str) -> Result<Application, QueryError> {
    Application::parse(bytes).map_err(|e| QueryError::BadRequest(format!("{what}: {e}")))
}

pub(super) async fn screen(
    State(state): State<ApiState>,
    Query(query): Query<ScreenQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ScreeningResult>> {
    let request = query.request(application(&body, "the application")?)?;
    let queries = state.queries.clone();
    let result =
        blocking(move || screening::screen(&queries, &request, crate::clock::now())).await?;
    Ok(Json(result))
}

#[derive(Debug, Serialize)]
pub(super) struct BatchResults {
    results: Vec<ScreeningResult>,
}

/// A JSON array of applications; the results in the same order.
pub(super) async fn batch(
    State(state): State<ApiState>,
    Query(query): Query<ScreenQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<BatchResults>> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| {
        QueryError::BadRequest(format!(
            "the batch must be a JSON array of applications: {e}"
        ))
    })?;
    if items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::BatchTooLarge,
            format!(
                "the batch holds {} applications, more than the {MAX_BATCH} of one request",
                items.len()
            ),
        ));
    }
    let requests = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let bytes = serde_json::to_vec(item).expect("a JSON value serialises");
            query.request(application(&bytes, &format!("applications[{n}]"))?)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let queries = state.queries.clone();
    let results = blocking(move || {
        let now = crate::clock::now();
        requests
            .iter()
            .map(|request| screening::screen(&queries, request, now))
            .collect()
    })
    .await?;
    Ok(Json(BatchResults { results }))
}

/// A saved result, checked against this node's roster and store.
pub(super) async fn verify(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Verdict>> {
    let result: ScreeningResult = serde_json::from_slice(&body)
        .map_err(|e| QueryError::BadRequest(format!("no screening result: {e}")))?;
    let queries = state.queries.clone();
    let verdict = blocking(move || {
        let roster = ((*queries.roster).clone(), "of this node".to_owned());
        Ok(verify::verify(&result, Some(roster), Some(&queries.store)))
    })
    .await?;
    Ok(Json(verdict))
}

/// Every alert raised, oldest first.
pub(super) async fn alerts(State(state): State<ApiState>) -> ApiResult<Json<Vec<Alert>>> {
    let store = state.queries.store.clone();
    Ok(Json(blocking(move || Ok(store.alerts()?)).await?))
}
