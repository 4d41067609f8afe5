//! Tokens, for an operator holding `admin` ([`crate::tokens`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState, Code};
use crate::tokens::{self, NewToken, Scope, TokenRecord};

fn refused(e: anyhow::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, Code::BadRequest, format!("{e:#}"))
}

pub(super) async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<TokenRecord>>> {
    Ok(Json(tokens::load(&state.home).map_err(refused)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    name: String,
    scopes: Vec<Scope>,
}

/// 201 with the secret, shown this once.
pub(super) async fn create(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let request: CreateRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            format!("a token request is {{\"name\", \"scopes\"}}: {e}"),
        )
    })?;
    let made = tokens::create(&state.home, &request.name, &request.scopes).map_err(refused)?;
    Ok((StatusCode::CREATED, Json(made)))
}

pub(super) async fn revoke(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenRecord>> {
    let revoked = tokens::revoke(&state.home, &id)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, format!("{e:#}")))?;
    Ok(Json(revoked))
}
