//! Consultations: incoming and outgoing with their state, and the forms
//! that request one (from a screening hit) and reply. Both publish what
//! `POST /v1/consultations` and `/v1/consultations/reply` publish: the
//! entry [`crate::query::Queries`] builds, through the node's publisher.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::Officer;
use super::{Fields, Frame, Visit, WebState, blocking, failed, html, member_of};
use crate::api::ApiError;
use crate::consultation::{
    ConsultationFilter, ConsultationView, NewReply, NewRequest, answer_name,
};
use crate::publish::OwnEntry;
use crate::query::QueryError;
use crate::tokens::Scope;

/// The answers a reply may give, as the record spells them.
const ANSWERS: [&str; 3] = ["agree", "object", "need_more_information"];

/// A consultation as the pages show it: its entries named by member id
/// (`co#3`), the denial's link, the answer's code word.
pub(super) struct Row {
    pub request: String,
    pub denial: String,
    pub denial_link: String,
    /// The reply's answer as its code word, once answered.
    pub answer: Option<&'static str>,
    pub view: ConsultationView,
}

impl Row {
    pub(super) fn of(web: &WebState, view: ConsultationView) -> Row {
        Row {
            request: short(web, &view.request),
            denial: short(web, &view.denial),
            denial_link: denial_link(web, &view.denial),
            answer: view.reply.as_ref().map(|r| answer_name(r.answer)),
            view,
        }
    }
}

/// `origin#index` as `member#index`.
fn short(web: &WebState, reference: &str) -> String {
    match reference.rsplit_once('#') {
        Some((origin, index)) => format!("{}#{index}", member_of(web, origin)),
        None => reference.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "consultations.html")]
struct ConsultationsPage {
    f: Frame,
    incoming: Vec<Row>,
    outgoing: Vec<Row>,
    answers: &'static [&'static str],
    /// Whether the token may publish a reply (and the node is a member).
    may_reply: bool,
    /// The entry just published, `origin#index`.
    published: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    published: Option<String>,
}

/// `origin#index` as a page link, `/denials/<member>/<index>`.
fn denial_link(web: &WebState, reference: &str) -> String {
    match reference.rsplit_once('#') {
        Some((origin, index)) => format!("/denials/{}/{index}", member_of(web, origin)),
        None => "/denials".to_owned(),
    }
}

pub(super) async fn page(
    State(web): State<WebState>,
    Query(query): Query<PageQuery>,
    visit: Visit,
) -> Response {
    let signed = match visit.require(&web, Scope::Read) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let queries = web.api.queries.clone();
    let listed = blocking(move || {
        let now = crate::clock::now();
        let of = |direction: &str| {
            let filter = ConsultationFilter {
                direction: Some(direction.to_owned()),
                state: None,
            };
            queries.consultations(&filter, now)
        };
        Ok((of("incoming")?, of("outgoing")?))
    })
    .await;
    let (incoming, outgoing) = match listed {
        Ok(listed) => listed,
        Err(e) => return failed(signed.frame, e),
    };
    // Newest first.
    let rows = |views: Vec<ConsultationView>| {
        views
            .into_iter()
            .rev()
            .map(|view| Row::of(&web, view))
            .collect()
    };
    let may_reply = signed.may(Scope::Publish) && web.api.publisher.is_some();
    html(&ConsultationsPage {
        f: signed.frame,
        incoming: rows(incoming),
        outgoing: rows(outgoing),
        answers: &ANSWERS,
        may_reply,
        published: query.published,
    })
}

/// Publishes `entry` built from a form of `officer`, within the API's
/// publish rate; the consultations page naming it.
async fn publish(
    web: &WebState,
    officer: &Officer,
    f: Frame,
    entry: Result<OwnEntry, QueryError>,
) -> Response {
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return failed(f, e),
    };
    if let Err((refusal, _)) = web
        .publish_rate
        .check(&format!("web session of token {}", officer.token_id))
    {
        return failed(f, refusal);
    }
    let Some(publisher) = web.api.publisher.as_ref() else {
        return failed(f, ApiError::observer());
    };
    match publisher.publish(entry).await {
        Ok(outcome) => Redirect::to(&format!(
            "/consultations?published={}%23{}",
            member_of(web, &outcome.origin.to_string()),
            outcome.index
        ))
        .into_response(),
        Err(e) => failed(f, e),
    }
}

/// A request about a denial, from a screening hit.
pub(super) async fn request(State(web): State<WebState>, visit: Visit, form: Fields) -> Response {
    let signed = match visit.require_form(&web, Scope::Publish, &form) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let items_summary = Some(form.get("items_summary").trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let new = NewRequest {
        denial: form.get("denial").to_owned(),
        application_reference: form.get("application_reference").trim().to_owned(),
        question: form.get("question").trim().to_owned(),
        items_summary,
    };
    let entry = web.api.queries.consultation_request(&new);
    publish(&web, &signed.officer, signed.frame, entry).await
}

/// The reply to an incoming request.
pub(super) async fn reply(State(web): State<WebState>, visit: Visit, form: Fields) -> Response {
    let signed = match visit.require_form(&web, Scope::Publish, &form) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let new = NewReply {
        request: form.get("request").to_owned(),
        answer: form.get("answer").to_owned(),
        comment: form.get("comment").trim().to_owned(),
    };
    let entry = web.api.queries.consultation_reply(&new);
    publish(&web, &signed.officer, signed.frame, entry).await
}
