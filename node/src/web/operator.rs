//! The operator's view, for a token holding `admin`: peers, each log's
//! lag and payloads held back, the own log's confirmation, and the tokens
//! (created with their secret shown once, revoked) as `concord token`
//! manages them ([`crate::tokens`]).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{Fields, Frame, Visit, WebState, failed, html, member_of};
use crate::api::{ApiError, Code};
use crate::own_log::OwnLogState;
use crate::query::{LogView, PeerView};
use crate::tokens::{self, NewToken, Scope, TokenRecord};

/// A log's replication as the operator watches it.
struct LagRow {
    id: String,
    log: LogView,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    f: Frame,
    /// The own log's state as a code word, and the core's line about it.
    own_log: Option<(String, String)>,
    peers: Vec<PeerView>,
    logs: Vec<LagRow>,
    tokens: Vec<TokenRecord>,
    /// The scopes this node may give (an observer publishes nothing).
    scopes: Vec<&'static str>,
    /// A token just made: its secret is in this page only.
    made: Option<NewToken>,
}

/// The state's code word (`awaiting_peers`), which the page says in its
/// language, and the core's line about it (sizes, peers), in English.
fn own_log_state(state: &OwnLogState) -> (String, String) {
    let word = serde_json::to_value(state)
        .ok()
        .and_then(|v| Some(v.get("state")?.as_str()?.to_owned()))
        .unwrap_or_default();
    (word, state.to_string())
}

fn refused(e: &anyhow::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, Code::BadRequest, format!("{e:#}"))
}

/// The page, with `made` when a token was just created.
async fn render(web: &WebState, f: Frame, made: Option<NewToken>) -> Response {
    let status = match web.api.status().await {
        Ok(status) => status,
        Err(e) => return failed(f, e),
    };
    let tokens = match tokens::load(&web.api.home) {
        Ok(tokens) => tokens,
        Err(e) => return failed(f, refused(&e)),
    };
    let logs = status
        .logs
        .into_iter()
        .map(|log| LagRow {
            id: member_of(web, &log.origin),
            log,
        })
        .collect();
    let page = OperatorPage {
        own_log: status.own_log.as_ref().map(own_log_state),
        peers: status.peers,
        logs,
        tokens,
        scopes: tokens::allowed(web.api.queries.me.role)
            .into_iter()
            .map(Scope::as_str)
            .collect(),
        made,
        f,
    };
    html(&page)
}

pub(super) async fn page(State(web): State<WebState>, visit: Visit) -> Response {
    match visit.require(&web, Scope::Admin) {
        Ok(signed) => render(&web, signed.frame, None).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Creates a token and shows its secret, this once (no redirect: a
/// reload must not show it again from a URL).
pub(super) async fn create_token(
    State(web): State<WebState>,
    visit: Visit,
    form: Fields,
) -> Response {
    let signed = match visit.require_form(&web, Scope::Admin, &form) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let scopes = match Scope::parse_list(&form.all("scope").join(",")) {
        Ok(scopes) => scopes,
        Err(why) => {
            return failed(
                signed.frame,
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadRequest, why),
            );
        }
    };
    match tokens::create(&web.api.home, form.get("name"), &scopes) {
        Ok(made) => render(&web, signed.frame, Some(made)).await,
        Err(e) => failed(signed.frame, refused(&e)),
    }
}

pub(super) async fn revoke_token(
    State(web): State<WebState>,
    Path(id): Path<String>,
    visit: Visit,
    form: Fields,
) -> Response {
    let signed = match visit.require_form(&web, Scope::Admin, &form) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    match tokens::revoke(&web.api.home, &id) {
        Ok(_) => Redirect::to("/operator").into_response(),
        Err(e) => failed(signed.frame, refused(&e)),
    }
}
