//! Screening from a form: the application's fields become the JSON of
//! [`Application`], screened by [`crate::screening::screen`] as the API
//! screens it. A refused form is kept in the session and shown again by
//! `GET /screening?draft`, so that its page may switch language without
//! losing what was typed. The result is kept in the session for its page
//! (explained, each hit a link to its denial, a consultation one form
//! away) and its download, the saved result `concord verify-screening`
//! checks.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use concord_protocol::record::Date;
use concord_screening::Application;
use serde::Deserialize;
use serde_json::{Value, json};

use super::consultations::Row;
use super::{
    Explained, Fields, Frame, Refusal, Signed, Visit, WebState, blocking, failed, html, member_of,
    problem,
};
use crate::api::{ApiError, Code};
use crate::query::QueryError;
use crate::screening::{self, Request, ScreeningResult};
use crate::tokens::Scope;

/// Party rows of the form: applications name few parties.
const PARTY_ROWS: usize = 5;
/// Item rows of the form.
const ITEM_ROWS: usize = 3;
/// A party's roles, as the application spells them.
const ROLES: [&str; 6] = [
    "consignee",
    "end_user",
    "intermediary",
    "purchaser",
    "supplier",
    "other",
];
/// The role each party row starts with, in the order applications list
/// them.
const DEFAULT_ROLES: [&str; PARTY_ROWS] = [
    "consignee",
    "end_user",
    "intermediary",
    "purchaser",
    "other",
];
/// The registers an identifier comes from.
const SCHEMES: [&str; 7] = [
    "tax_id",
    "lei",
    "duns",
    "imo",
    "registration",
    "passport",
    "other",
];

#[derive(Default)]
struct PartyRow {
    role: String,
    name: String,
    aliases: String,
    country: String,
    scheme: String,
    identifier: String,
}

#[derive(Default)]
struct ItemRow {
    control_entries: String,
    hs_codes: String,
    description: String,
}

#[derive(Template)]
#[template(path = "screening.html")]
struct FormPage {
    f: Frame,
    reference: String,
    destination: String,
    end_use: String,
    at: String,
    parties: Vec<PartyRow>,
    items: Vec<ItemRow>,
    roles: &'static [&'static str],
    schemes: &'static [&'static str],
    /// Why the application was refused, shown above the form.
    error: Option<Explained>,
}

impl FormPage {
    /// The form as submitted in `fields` (empty rows where none were).
    fn of(f: Frame, fields: &Fields, error: Option<Explained>) -> FormPage {
        let get = |name: String| fields.get(&name).to_owned();
        FormPage {
            f,
            reference: fields.get("reference").to_owned(),
            destination: fields.get("destination").to_owned(),
            end_use: fields.get("end_use").to_owned(),
            at: fields.get("at").to_owned(),
            parties: (0..PARTY_ROWS)
                .map(|n| PartyRow {
                    role: Some(get(format!("p{n}_role")))
                        .filter(|role| !role.is_empty())
                        .unwrap_or_else(|| DEFAULT_ROLES[n].to_owned()),
                    name: get(format!("p{n}_name")),
                    aliases: get(format!("p{n}_aliases")),
                    country: get(format!("p{n}_country")),
                    scheme: get(format!("p{n}_scheme")),
                    identifier: get(format!("p{n}_identifier")),
                })
                .collect(),
            items: (0..ITEM_ROWS)
                .map(|n| ItemRow {
                    control_entries: get(format!("i{n}_control_entries")),
                    hs_codes: get(format!("i{n}_hs_codes")),
                    description: get(format!("i{n}_description")),
                })
                .collect(),
            roles: &ROLES,
            schemes: &SCHEMES,
            error,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct FormQuery {
    /// Present when the form shows the session's refused draft.
    draft: Option<String>,
}

/// The empty form, or with `?draft` the session's refused one, its fields
/// as typed and why it was refused, in the page's language: the refusal
/// redirects here so that switching the language keeps the officer's work.
pub(super) async fn form(
    State(web): State<WebState>,
    Query(query): Query<FormQuery>,
    visit: Visit,
) -> Response {
    let signed = match visit.require(&web, Scope::Screen) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(draft) = query.draft.and(signed.session.draft.clone()) else {
        return html(&FormPage::of(signed.frame, &Fields(Vec::new()), None));
    };
    let page = FormPage::of(signed.frame, &Fields(draft), None);
    match request_of(&page) {
        Ok(_) => html(&page),
        Err(e) => {
            let error = Some(Explained::of(page.f.lang, e));
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                html(&FormPage { error, ..page }),
            )
                .into_response()
        }
    }
}

/// Words of a list typed in one field: split at commas, semicolons and
/// line breaks (aliases at semicolons and line breaks only, since names
/// hold commas).
fn words(text: &str, separators: &[char]) -> Vec<String> {
    text.split(separators)
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The application's JSON from the form; rows left empty are skipped, so
/// that [`Application::parse`] names what is wrong with what was typed.
fn application_json(page: &FormPage) -> Value {
    let parties: Vec<Value> = page
        .parties
        .iter()
        .filter(|p| !p.name.trim().is_empty())
        .map(|p| {
            let mut party = json!({
                "role": p.role,
                "name": p.name.trim(),
                "aliases": words(&p.aliases, &[';', '\n']),
                "country": p.country.trim().to_uppercase(),
            });
            if !p.identifier.trim().is_empty() {
                party["identifiers"] = json!([{"scheme": p.scheme, "value": p.identifier.trim()}]);
            }
            party
        })
        .collect();
    let items: Vec<Value> = page
        .items
        .iter()
        .filter(|i| {
            !(i.control_entries.trim().is_empty()
                && i.hs_codes.trim().is_empty()
                && i.description.trim().is_empty())
        })
        .map(|i| {
            let mut item = json!({
                "control_entries": words(&i.control_entries, &[',', ';', ' ', '\n']),
                "hs_codes": words(&i.hs_codes, &[',', ';', ' ', '\n']),
            });
            if !i.description.trim().is_empty() {
                item["description"] = i.description.trim().into();
            }
            item
        })
        .collect();
    let mut application = json!({
        "reference": page.reference.trim(),
        "parties": parties,
        "items": items,
        "destination": page.destination.trim().to_uppercase(),
    });
    if !page.end_use.trim().is_empty() {
        application["end_use"] = page.end_use.trim().into();
    }
    application
}

/// The screening request of the form, or why the application is refused.
fn request_of(page: &FormPage) -> Result<Request, ApiError> {
    let bytes = serde_json::to_vec(&application_json(page)).expect("JSON values serialise");
    let at = match page.at.trim() {
        "" => None,
        at => Some(Date::parse(at).map_err(|e| QueryError::BadRequest(e.to_string()))?),
    };
    let application =
        Application::parse(&bytes).map_err(|e| QueryError::BadRequest(e.to_string()))?;
    Ok(Request {
        application,
        at,
        threshold: None,
    })
}

/// Screens the submitted application; the result's page, or the form
/// again saying what is wrong.
pub(super) async fn run(State(web): State<WebState>, visit: Visit, fields: Fields) -> Response {
    let signed = match visit.require_form(&web, Scope::Screen, &fields) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let Signed {
        session_id, frame, ..
    } = signed;
    let page = FormPage::of(frame, &fields, None);
    let Ok(request) = request_of(&page) else {
        // The form's page shows the draft and says why (`form`); its CSRF
        // token stays out of the session's copy.
        let draft = fields.0.into_iter().filter(|(k, _)| k != "csrf").collect();
        web.sessions.keep_draft(&session_id, draft);
        return Redirect::to("/screening?draft").into_response();
    };
    let queries = web.api.queries.clone();
    let result = blocking(move || screening::screen(&queries, &request, crate::clock::now())).await;
    let result = match result {
        Ok(result) => result,
        Err(e) => return failed(page.f, e),
    };
    match web.sessions.keep_result(&session_id, result) {
        Ok(id) => Redirect::to(&format!("/screening/results/{id}")).into_response(),
        Err(e) => failed(
            page.f,
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Failed,
                e.to_string(),
            ),
        ),
    }
}

/// A party that met, both sides named.
struct PartyMet {
    application: String,
    denial: String,
    role: String,
    score: f64,
    fields: Vec<FieldMet>,
}

/// One field that met and how.
struct FieldMet {
    application: String,
    denial: String,
    how: Vec<String>,
    score: f64,
}

/// What raised or lowered a hit's score.
struct AdjustmentRow {
    kind: String,
    /// Each field of the factor and its value, as code words the page
    /// says in its language (`relation`: `same_heading`).
    details: Vec<(String, String)>,
    delta: f64,
}

struct HitRow {
    log: String,
    index: u64,
    denying_state: String,
    score: f64,
    /// The entry whose version was scored, when an amendment.
    amended_by: Option<u64>,
    reference: String,
    parties: Vec<PartyMet>,
    adjustments: Vec<AdjustmentRow>,
    consultations: Vec<Row>,
}

struct RestrictedRow {
    state: String,
    log: String,
    entries: String,
}

#[derive(Template)]
#[template(path = "screening_result.html")]
struct ResultPage {
    f: Frame,
    id: String,
    result: std::sync::Arc<ScreeningResult>,
    hits: Vec<HitRow>,
    restricted: Vec<RestrictedRow>,
    /// Whether the token may publish a consultation request (and the node
    /// is a member).
    may_consult: bool,
}

/// The code word of `how` (`same_key`, `edit_distance`…), which the page
/// says in its language.
fn how_words(how: &concord_screening::How) -> String {
    serde_json::to_value(how)
        .ok()
        .and_then(|v| Some(v.get("kind")?.as_str()?.to_owned()))
        .unwrap_or_default()
}

/// A factor's value as text: a string as it is, a list joined.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn hit_rows(web: &WebState, result: &ScreeningResult) -> Vec<HitRow> {
    result
        .hits
        .iter()
        .map(|hit| {
            let denial = &hit.current.denial;
            HitRow {
                log: member_of(web, hit.entry.origin.as_str()),
                index: hit.entry.index,
                denying_state: hit.denying_state.as_str().to_owned(),
                score: hit.score,
                amended_by: (hit.current.index != hit.entry.index).then_some(hit.current.index),
                reference: denial.reference.as_str().to_owned(),
                parties: hit
                    .explanation
                    .parties
                    .iter()
                    .map(|m| PartyMet {
                        application: result
                            .application
                            .parties
                            .get(m.application_party)
                            .map(|p| p.name.as_str().to_owned())
                            .unwrap_or_default(),
                        denial: denial
                            .parties
                            .get(m.denial_party)
                            .map(|p| p.name.as_str().to_owned())
                            .unwrap_or_default(),
                        role: m.application_role.as_str().to_owned(),
                        score: m.score,
                        fields: m
                            .fields
                            .iter()
                            .map(|field| FieldMet {
                                application: field.application_value.clone(),
                                denial: field.denial_value.clone(),
                                how: field.how.iter().map(how_words).collect(),
                                score: field.score,
                            })
                            .collect(),
                    })
                    .collect(),
                adjustments: hit
                    .explanation
                    .adjustments
                    .iter()
                    .map(|a| {
                        let mut factor = serde_json::to_value(&a.factor).unwrap_or_default();
                        let kind = factor
                            .get("kind")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        if let Some(map) = factor.as_object_mut() {
                            map.remove("kind");
                        }
                        let details = factor
                            .as_object()
                            .map(|map| map.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
                            .unwrap_or_default();
                        AdjustmentRow {
                            kind,
                            details,
                            delta: a.delta,
                        }
                    })
                    .collect(),
                consultations: hit
                    .consultations
                    .iter()
                    .map(|view| Row::of(web, view.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// The session's result `id` for a visit holding `screen`.
fn kept_result(
    web: &WebState,
    visit: Visit,
    id: &str,
) -> Result<(Signed, std::sync::Arc<ScreeningResult>), Refusal> {
    visit
        .require(web, Scope::Screen)
        .and_then(|signed| kept(signed, id))
}

/// The session's result `id`, or the page saying it is gone.
fn kept(signed: Signed, id: &str) -> Result<(Signed, std::sync::Arc<ScreeningResult>), Refusal> {
    let found = signed
        .session
        .results
        .iter()
        .find(|(kept, _)| kept == id)
        .map(|(_, result)| result.clone());
    match found {
        Some(result) => Ok((signed, result)),
        None => {
            let t = signed.frame.t;
            Err(Refusal::from(problem(
                signed.frame,
                StatusCode::NOT_FOUND,
                t.not_found_title,
                t.result_gone.to_owned(),
            )))
        }
    }
}

pub(super) async fn result(
    State(web): State<WebState>,
    Path(id): Path<String>,
    visit: Visit,
) -> Response {
    let (signed, result) = match kept_result(&web, visit, &id) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let may_consult = signed.may(Scope::Publish) && web.api.publisher.is_some();
    html(&ResultPage {
        hits: hit_rows(&web, &result),
        restricted: result
            .restricted
            .iter()
            .map(|r| RestrictedRow {
                state: r.state.as_str().to_owned(),
                log: member_of(&web, r.origin.as_str()),
                entries: r
                    .entries
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        f: signed.frame,
        id,
        result,
        may_consult,
    })
}

/// The result as saved JSON, for `concord verify-screening`.
pub(super) async fn download(
    State(web): State<WebState>,
    Path(id): Path<String>,
    visit: Visit,
) -> Response {
    let (signed, result) = match kept_result(&web, visit, &id) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let body = match serde_json::to_vec_pretty(&*result) {
        Ok(body) => body,
        Err(e) => return failed(signed.frame, QueryError::BadRequest(e.to_string())),
    };
    // The reference is the officer's text: only its plain characters go
    // into the header.
    let name: String = result
        .application
        .reference
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"screening-{name}.json\""))
            .unwrap_or_else(|_| {
                HeaderValue::from_static("attachment; filename=\"screening.json\"")
            });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
