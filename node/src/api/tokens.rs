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

/// The tokens, hashed, revoked ones included.
#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "list_tokens",
    responses((status = 200, description = "The tokens", body = [TokenRecord])),
)]
pub(super) async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<TokenRecord>>> {
    Ok(Json(tokens::load(&state.home).map_err(refused)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    /// Who holds it, e.g. `licensing desk`.
    name: String,
    scopes: Vec<Scope>,
}

/// A new token: 201 with the secret, shown this once.
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "create_token",
    request_body = CreateRequest,
    responses((status = 201, description = "The token and its secret", body = NewToken)),
)]
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

/// Revokes a token, by id or name.
#[utoipa::path(
    post,
    path = "/v1/tokens/{id}/revoke",
    operation_id = "revoke_token",
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id or name")),
    responses(
        (status = 200, description = "The revoked token", body = TokenRecord),
        (status = 404, description = "`not_found`: no such active token", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn revoke(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenRecord>> {
    let revoked = tokens::revoke(&state.home, &id)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, format!("{e:#}")))?;
    Ok(Json(revoked))
}
