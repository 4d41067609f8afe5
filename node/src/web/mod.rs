//! The node's web page, served at `/` beside the API, for licensing and
//! customs officers, observers and the operator: server-rendered HTML
//! (askama templates under `templates/`, compiled into the binary), plain
//! forms, one embedded style sheet and no script.
//!
//! Every answer comes from the rooms the API calls: the query service
//! ([`crate::query`], [`crate::consultation`]), screening
//! ([`crate::screening`]), the publisher ([`crate::publish`]) and the
//! tokens ([`crate::tokens`]). A page asks for the scope of the API route
//! that shows the same thing and says so when the session's token lacks
//! it. Sessions and CSRF tokens are in [`session`]; the words of every
//! page, in English, Spanish and Portuguese, in [`i18n`].
//!
//! | method | path | scope | what |
//! |---|---|---|---|
//! | GET  | / | none | sign-in form (the federation page once signed in) |
//! | POST | /signin, /signout | none | sign in with a token, sign out |
//! | GET  | /federation | read | members, logs, checkpoints, witnesses, quarantines, evidence, alerts |
//! | GET  | /federation/audit | read | the audit of every log: verdict, logs checked, findings |
//! | GET  | /denials | read | denials and notices of every log, with [`crate::query::ListFilter`]'s filters |
//! | GET  | /denials/{log}/{index} | read | one entry: header, contents, status, history, consultations, inclusion proof |
//! | GET, POST | /screening | screen | the application form (`?draft`: the session's refused one, saying why); screening it |
//! | GET  | /screening/results/{id} | screen | a result, explained |
//! | GET  | /screening/results/{id}/download | screen | the result as a JSON attachment |
//! | GET  | /consultations | read | incoming and outgoing consultations |
//! | POST | /consultations/request, /consultations/reply | publish | publish a request or a reply |
//! | GET  | /operator | admin | peers, lag, payloads held back, tokens |
//! | POST | /operator/tokens, /operator/tokens/{id}/revoke | admin | create (secret shown once) or revoke a token |
//! | GET  | /static/style.css | none | the style sheet |

mod consultations;
mod denials;
mod federation;
mod i18n;
mod operator;
mod screening;
mod session;
mod signin;

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use crate::api::limits::PublishRate;
use crate::api::{ApiError, ApiState, blocking};
use crate::tokens::Scope;
use i18n::{Lang, Text};
use session::{Officer, Session, Sessions};

/// What the pages read: the API's state and the sessions.
#[derive(Clone)]
pub(crate) struct WebState {
    api: ApiState,
    sessions: Sessions,
    /// The API's publish rate; a session's token is keyed by its id.
    publish_rate: PublishRate,
    /// The session cookie's name, `concord-<participant id>`: nodes on one
    /// host share its cookies (they ignore ports), and an officer may keep
    /// a page of each open.
    cookie: String,
}

/// The page's routes over `api`, their sessions held in memory, their
/// publishing within `publish_rate`.
pub(crate) fn router(api: ApiState, publish_rate: PublishRate) -> Router {
    let cookie = format!("concord-{}", api.queries.me.id);
    let state = WebState {
        api,
        sessions: Sessions::default(),
        publish_rate,
        cookie,
    };
    Router::new()
        .route("/", get(signin::page))
        .route("/signin", post(signin::sign_in))
        .route("/signout", post(signin::sign_out))
        .route("/federation", get(federation::page))
        .route("/federation/audit", get(federation::audit))
        .route("/denials", get(denials::search))
        .route("/denials/{log}/{index}", get(denials::entry))
        .route("/screening", get(screening::form).post(screening::run))
        .route("/screening/results/{id}", get(screening::result))
        .route("/screening/results/{id}/download", get(screening::download))
        .route("/consultations", get(consultations::page))
        .route("/consultations/request", post(consultations::request))
        .route("/consultations/reply", post(consultations::reply))
        .route("/operator", get(operator::page))
        .route("/operator/tokens", post(operator::create_token))
        .route("/operator/tokens/{id}/revoke", post(operator::revoke_token))
        .route("/static/style.css", get(style))
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::from_fn(page_headers))
        .with_state(state)
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/style.css"),
    )
}

/// No script, no frames, nothing from elsewhere; pages hold what a token
/// may read, so no cache keeps them.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `?lang=` switches the language and a cookie remembers it.
async fn remember_lang(request: Request, next: Next) -> Response {
    let chosen = request.uri().query().and_then(Lang::of_query);
    let mut response = next.run(request).await;
    if let Some(lang) = chosen {
        let cookie = format!(
            "concord-lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Who asks, in which language, from which page.
pub(super) struct Visit {
    lang: Lang,
    path: String,
    /// The page's query, for the language links to keep.
    query: Option<String>,
    /// The session's id and the session, if the browser has one.
    session: Option<(String, Session)>,
}

impl FromRequestParts<WebState> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        let lang = parts
            .uri
            .query()
            .and_then(Lang::of_query)
            .or_else(|| session::cookie(&cookies, "concord-lang").and_then(Lang::of_code))
            .unwrap_or_else(|| Lang::of_accept(&parts.headers));
        let session = session::cookie(&cookies, &state.cookie)
            .and_then(|id| Some((id.to_owned(), state.sessions.get(id)?)));
        // The language links of a page answering a form lead to the start
        // page: the form's own path takes no GET. (A refused screening
        // form redirects to a GET page instead, which keeps its draft.)
        let (path, query) = if parts.method == axum::http::Method::GET {
            (
                parts.uri.path().to_owned(),
                parts.uri.query().map(str::to_owned),
            )
        } else {
            ("/".to_owned(), None)
        };
        Ok(Visit {
            lang,
            path,
            query,
            session,
        })
    }
}

/// The page answered instead of the one asked for: the sign-in form, or
/// a page saying why not. Boxed, as a response is large and a signed-in
/// visit the common case.
pub(super) struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Refusal {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A signed-in visit whose token is still active.
pub(super) struct Signed {
    session_id: String,
    session: Session,
    officer: Officer,
    frame: Frame,
}

impl Signed {
    fn may(&self, scope: Scope) -> bool {
        self.officer.scopes.contains(&scope)
    }

    /// This visit if its token holds `scope`, else a page naming it.
    fn holding(self, scope: Scope) -> Result<Signed, Refusal> {
        if self.may(scope) {
            return Ok(self);
        }
        let t = self.frame.t;
        Err(Refusal::from(problem(
            self.frame,
            StatusCode::FORBIDDEN,
            t.scope_missing_title,
            format!("{} {scope}", t.scope_missing),
        )))
    }
}

impl Visit {
    fn t(&self) -> &'static Text {
        self.lang.text()
    }

    /// The signed-in officer holding `scope`; else the page to answer: the
    /// sign-in form without a session or with a revoked token, a refusal
    /// naming the scope without it.
    fn require(self, web: &WebState, scope: Scope) -> Result<Signed, Refusal> {
        self.signed_in(web)?.holding(scope)
    }

    fn signed_in(self, web: &WebState) -> Result<Signed, Refusal> {
        let Some((session_id, session)) = self.session else {
            return Err(Refusal::from(Redirect::to("/?why=needed").into_response()));
        };
        let Some(held) = session.officer.as_ref() else {
            return Err(Refusal::from(Redirect::to("/?why=needed").into_response()));
        };
        let Some(token) = web.api.tokens.active(&held.token_id) else {
            web.sessions.end(&session_id);
            return Err(Refusal::from(Redirect::to("/?why=ended").into_response()));
        };
        let officer = Officer::of(&token);
        web.sessions.refresh(&session_id, officer.clone());
        let frame = Frame {
            t: self.lang.text(),
            lang: self.lang,
            path: self.path,
            query: self.query,
            node: web.api.queries.me.id.clone(),
            officer: Some(officer.name.clone()),
            scopes: officer
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            csrf: session.csrf.clone(),
            observer: web.api.publisher.is_none(),
            admin: officer.scopes.contains(&Scope::Admin),
        };
        Ok(Signed {
            session_id,
            session,
            officer,
            frame,
        })
    }

    /// As [`Visit::require`], for a form: its CSRF token must be the
    /// session's, or nothing is done and the page says why.
    fn require_form(self, web: &WebState, scope: Scope, form: &Fields) -> Result<Signed, Refusal> {
        self.signed_form(web, form)?.holding(scope)
    }

    /// A signed-in visit whose form carries the session's CSRF token.
    fn signed_form(self, web: &WebState, form: &Fields) -> Result<Signed, Refusal> {
        let signed = self.signed_in(web)?;
        if !signed.session.csrf_matches(form.get("csrf")) {
            return Err(Refusal::from(csrf_refused(signed.frame)));
        }
        Ok(signed)
    }

    /// The frame of a page shown before sign-in.
    fn anonymous_frame(&self, web: &WebState, csrf: String) -> Frame {
        Frame {
            t: self.t(),
            lang: self.lang,
            path: self.path.clone(),
            query: self.query.clone(),
            node: web.api.queries.me.id.clone(),
            officer: None,
            scopes: String::new(),
            csrf,
            observer: web.api.publisher.is_none(),
            admin: false,
        }
    }
}

/// What every page shows around its content: the node, the navigation, the
/// languages, who is signed in.
pub(super) struct Frame {
    t: &'static Text,
    lang: Lang,
    /// The page's path and query, for the language links.
    path: String,
    query: Option<String>,
    node: String,
    officer: Option<String>,
    scopes: String,
    csrf: String,
    observer: bool,
    admin: bool,
}

impl Frame {
    fn langs(&self) -> &'static [Lang] {
        &Lang::ALL
    }

    /// The link to this page in `lang`.
    fn switch(&self, lang: &Lang) -> String {
        lang_link(&self.path, self.query.as_deref(), *lang)
    }
}

/// The link to the page at `path` with `query` in `lang`: the same path
/// and every parameter but `lang` (a search's filters, a draft), then
/// `lang`, percent-encoded. It stays a path on this host: one a browser
/// would read as another host's (`//host`, `/\host`) becomes `/`.
fn lang_link(path: &str, query: Option<&str>, lang: Lang) -> String {
    let path = match path.strip_prefix('/') {
        Some(rest) if !rest.starts_with(['/', '\\']) => path,
        _ => "/",
    };
    let mut pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    pairs.retain(|(name, _)| name != "lang");
    pairs.push(("lang".to_owned(), lang.code().to_owned()));
    let query = serde_urlencoded::to_string(&pairs).expect("pairs of strings encode");
    format!("{path}?{query}")
}

/// A submitted form's fields; a field missing reads as empty, so that a
/// form without its CSRF token reaches the check that explains it.
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a repeated field (checkboxes).
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Fields(fields))
    }
}

/// A rendered page, or a plain 500 naming the template's failure.
fn html(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page failed: {e}"),
        )
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
struct Problem {
    f: Frame,
    title: &'static str,
    message: String,
    /// The core's own message, beneath the page's sentence for its code.
    detail: Option<String>,
}

/// A page saying what went wrong, with `status`.
fn problem(f: Frame, status: StatusCode, title: &'static str, message: String) -> Response {
    let page = Problem {
        f,
        title,
        message,
        detail: None,
    };
    (status, html(&page)).into_response()
}

/// The page of a form refused for its missing or wrong CSRF token.
fn csrf_refused(f: Frame) -> Response {
    let t = f.t;
    problem(
        f,
        StatusCode::FORBIDDEN,
        t.csrf_title,
        t.csrf_refused.to_owned(),
    )
}

/// An error of the core as a page shows it: what its code means, in the
/// page's language, and the core's own message, which names the field or
/// value concerned.
pub(super) struct Explained {
    pub sentence: &'static str,
    pub detail: String,
}

impl Explained {
    fn of(lang: Lang, e: impl Into<ApiError>) -> Explained {
        let e: ApiError = e.into();
        Explained {
            sentence: lang.explain(e.code),
            detail: e.message,
        }
    }
}

/// The page of an API error: the API's status, its code explained.
fn failed(f: Frame, e: impl Into<ApiError>) -> Response {
    let e: ApiError = e.into();
    let status = e.status;
    let explained = Explained::of(f.lang, e);
    let page = Problem {
        title: f.t.failed_title,
        f,
        message: explained.sentence.to_owned(),
        detail: Some(explained.detail),
    };
    (status, html(&page)).into_response()
}

/// The member id of log `origin`, for links; the origin itself if the
/// roster has no such log.
fn member_of(web: &WebState, origin: &str) -> String {
    web.api
        .queries
        .roster
        .members
        .iter()
        .find(|m| m.origin == origin)
        .map_or_else(|| origin.to_owned(), |m| m.id.to_string())
}

/// `secs` as a short age: `42 s`, `5 min`, `3 h`, `2 d`.
fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// The `Set-Cookie` value of session `id` in `web`'s cookie.
fn session_cookie(web: &WebState, id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let cookie = format!(
        "{}={id}; HttpOnly; SameSite=Strict; Secure; Path=/",
        web.cookie
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_link_keeps_every_filter_and_replaces_the_language() {
        let link = lang_link(
            "/denials",
            Some("party=Qu%C3%ADmica+Andina&state=PE&lang=en&kind=denial&since=2025-01-01&lang=pt"),
            Lang::Es,
        );
        assert_eq!(
            link,
            "/denials?party=Qu%C3%ADmica+Andina&state=PE&kind=denial&since=2025-01-01&lang=es"
        );
        assert_eq!(
            lang_link("/federation", None, Lang::Pt),
            "/federation?lang=pt"
        );
        assert_eq!(lang_link("/", Some("lang=pt"), Lang::En), "/?lang=en");
    }

    #[test]
    fn the_language_link_encodes_any_script_and_the_query_s_own_signs() {
        let filters = [
            ("party", "ООО «Каспийская логистика»"),
            ("control_entry", "مختبر ليفانت الصيدلاني & 北京化工 #1"),
            ("until", "a=b+c?d"),
        ];
        let query = serde_urlencoded::to_string(filters).expect("encodes");
        let link = lang_link("/denials", Some(&query), Lang::Pt);
        assert!(link.is_ascii(), "{link}");
        let (path, query) = link.split_once('?').expect("a query");
        assert_eq!(path, "/denials");
        let read: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("decodes");
        let mut expected: Vec<(String, String)> = filters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        expected.push(("lang".to_owned(), "pt".to_owned()));
        assert_eq!(read, expected);
    }

    #[test]
    fn the_language_link_stays_a_path_on_this_host() {
        for path in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "",
        ] {
            assert_eq!(
                lang_link(path, Some("q=1"), Lang::En),
                "/?q=1&lang=en",
                "{path}"
            );
        }
    }
}
