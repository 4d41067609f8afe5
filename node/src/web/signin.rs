//! Signing in with a token and out again.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::Officer;
use super::{Fields, Frame, Visit, WebState, csrf_refused, failed, html, session_cookie};
use crate::api::{ApiError, Code};

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    f: Frame,
    /// Why the form is shown again, in the page's language.
    notice: Option<&'static str>,
    failed: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInQuery {
    why: Option<String>,
}

/// The sign-in form, in a session of its own so that it carries a CSRF
/// token; the federation page for a session signed in.
pub(super) async fn page(
    State(web): State<WebState>,
    Query(query): Query<SignInQuery>,
    visit: Visit,
) -> Response {
    if visit
        .session
        .as_ref()
        .is_some_and(|(_, s)| s.officer.is_some())
    {
        return Redirect::to("/federation").into_response();
    }
    let t = visit.t();
    let notice = match query.why.as_deref() {
        Some("needed") => Some(t.signin_needed),
        Some("ended") => Some(t.signin_ended),
        Some("signed_out") => Some(t.signed_out),
        Some("cookies") => Some(t.signin_cookies),
        _ => None,
    };
    let (id, csrf, new) = match &visit.session {
        Some((id, session)) => (id.clone(), session.csrf.clone(), false),
        None => match web.sessions.start(None) {
            Ok(id) => {
                let csrf = web
                    .sessions
                    .get(&id)
                    .map(|s| s.csrf)
                    .expect("a session just started is held");
                (id, csrf, true)
            }
            Err(e) => return no_session(&web, &visit, &e),
        },
    };
    let page = html(&SignIn {
        f: visit.anonymous_frame(&web, csrf),
        notice,
        failed: false,
    });
    if new {
        (session_cookie(&web, &id), page).into_response()
    } else {
        page
    }
}

/// The page saying no session could be started (the OS gave no
/// randomness).
fn no_session(web: &WebState, visit: &Visit, e: &anyhow::Error) -> Response {
    let e = ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Failed,
        e.to_string(),
    );
    failed(visit.anonymous_frame(web, String::new()), e)
}

/// Checks the token; a new session holds it.
pub(super) async fn sign_in(State(web): State<WebState>, visit: Visit, form: Fields) -> Response {
    let t = visit.t();
    // No session: the browser did not keep the cookie the form came with.
    let Some((old_id, session)) = visit.session.clone() else {
        return Redirect::to("/?why=cookies").into_response();
    };
    if !session.csrf_matches(form.get("csrf")) {
        return csrf_refused(visit.anonymous_frame(&web, session.csrf.clone()));
    }
    let Some(token) = web.api.tokens.check(form.get("token").trim()) else {
        let page = SignIn {
            f: visit.anonymous_frame(&web, session.csrf.clone()),
            notice: Some(t.signin_failed),
            failed: true,
        };
        return (StatusCode::UNAUTHORIZED, html(&page)).into_response();
    };
    // A new id once signed in: an id someone planted earlier signs in
    // nobody.
    web.sessions.end(&old_id);
    match web.sessions.start(Some(Officer::of(&token))) {
        Ok(id) => (session_cookie(&web, &id), Redirect::to("/federation")).into_response(),
        Err(e) => no_session(&web, &visit, &e),
    }
}

pub(super) async fn sign_out(State(web): State<WebState>, visit: Visit, form: Fields) -> Response {
    let signed = match visit.signed_form(&web, &form) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    web.sessions.end(&signed.session_id);
    Redirect::to("/?why=signed_out").into_response()
}
