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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ScreenQuery {
    /// The day screened as of (`YYYY-MM-DD`; today).
    at: Option<String>,
    /// The least score of a hit, between 0 and 1.
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

/// An application screened against every denial in force, with the
/// checkpoints and proofs that make the result checkable.
#[utoipa::path(
    post,
    path = "/v1/screen",
    tag = "screening",
    params(ScreenQuery),
    request_body(content = ref("#/components/schemas/application"), description = "The licence application"),
    responses(
        (status = 200, description = "The screening result, its hits explained", body = ScreeningResult),
        (status = 400, description = "`bad_request`: not an application, or a bad `at` or `threshold`", body = super::openapi::ErrorBody),
    ),
)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct BatchResults {
    /// One screening result per application, in their order.
    results: Vec<ScreeningResult>,
}

/// A JSON array of applications; the results in the same order.
#[utoipa::path(
    post,
    path = "/v1/screen/batch",
    operation_id = "screen_batch",
    tag = "screening",
    params(ScreenQuery),
    request_body(content = ref("#/components/schemas/application_batch"), description = "At most 1,000 applications"),
    responses(
        (status = 200, description = "The results", body = BatchResults),
        (status = 400, description = "`bad_request`: not an array of applications", body = super::openapi::ErrorBody),
        (status = 413, description = "`batch_too_large`, or `too_large`: a body larger than a record may be", body = super::openapi::ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/screen/verify",
    operation_id = "verify_screening",
    tag = "screening",
    request_body(content = ScreeningResult, description = "A screening result as `/v1/screen` answered it"),
    responses((status = 200, description = "The verdict: what holds and what does not", body = Verdict)),
)]
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

/// Every alert raised, oldest first: denials that met an application
/// screened before they arrived.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    operation_id = "alerts",
    tag = "screening",
    responses((status = 200, description = "The alerts", body = [Alert])),
)]
pub(super) async fn alerts(State(state): State<ApiState>) -> ApiResult<Json<Vec<Alert>>> {
    let store = state.queries.store.clone();
    Ok(Json(blocking(move || Ok(store.alerts()?)).await?))
}
