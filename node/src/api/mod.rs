//! The local HTTP API (axum), for this agency's officers and scripts.
//!
//! Bound to loopback by default. Every route but the health checks and
//! the API's reference (`/v1/openapi.json`, `/v1/docs/`) asks for a
//! bearer token holding one scope ([`auth`], [`crate::tokens`]): `read`,
//! `screen`, `publish` or `admin`, as the table says; `/metrics` asks for
//! `read` unless `[api] metrics_open`. An unknown path (404) and a method a
//! path does not take (405) are answered in JSON like every other error.
//! What a client may hold of the server is bounded by `[api.limits]`:
//! connections and the time to send headers ([`server`]), the time to send
//! a body, JSON bodies only (415) and the publish rate of each token (429
//! with `Retry-After`) ([`limits`]).
//! The web page ([`crate::web`]) is served beside these routes, at `/`,
//! its forms within the same body deadline and publish rate.
//! Every answer is built by the query service ([`crate::query`]), the audit
//! engine ([`crate::audit`]) or the bundle writer ([`crate::bundle`]), the
//! same ones the CLI uses on a stopped node. Errors are JSON
//! `{"error": <stable code>, "message": <what and why>}`.
//! Each handler's `#[utoipa::path]` names the path it is served at, and
//! the OpenAPI document is collected from the same registrations
//! ([`openapi`]); `tests/api.rs` holds this table to that document.
//!
//! | method | path | scope | what | room |
//! |---|---|---|---|---|
//! | GET  | /v1/health | none | liveness, and whether the node is ready | [`health`] |
//! | GET  | /v1/health/ready | none | 200 when ready (store open; a member's own log confirmed), else 503 | [`health`] |
//! | GET  | /v1/status | read | node, peers, every log with checkpoint, witnesses, lag | [`federation`] |
//! | POST | /v1/records/{kind}?visibility=..&refers_to=N&refuse_duplicate=true | publish | publish (durable before 201; 503 `own_log_unconfirmed` until a peer confirmed the own log, [`crate::own_log`]) | [`records`] |
//! | POST | /v1/consultations `{"denial", "application_reference", "question", "items_summary"}` | publish | publish a consultation request about a denial (as a publish) | [`consultations`] |
//! | POST | /v1/consultations/reply `{"request", "answer", "comment"}` | publish | publish the reply to a consultation request (as a publish) | [`consultations`] |
//! | GET  | /v1/consultations?direction=incoming\|outgoing&state=pending\|answered\|overdue | read | the consultations this node can read | [`consultations`] |
//! | GET  | /v1/logs/{log}/entries?start=&limit= | read | entry summaries | [`logs`] |
//! | GET  | /v1/logs/{log}/entries/{index} | read | one entry, header bytes verbatim | [`logs`] |
//! | GET  | /v1/logs/{log}/checkpoint | read | latest signed checkpoint note (text/plain) | [`logs`] |
//! | GET  | /v1/logs/{log}/proof/inclusion?index=&size= | read | inclusion proof | [`logs`] |
//! | GET  | /v1/logs/{log}/proof/consistency?from=&to= | read | consistency proof | [`logs`] |
//! | GET  | /v1/roster | read | members and their C2SP verifier keys | [`federation`] |
//! | GET  | /v1/evidence | read | equivocation proofs and quarantines | [`federation`] |
//! | POST | /v1/quarantine/{log}/clear | admin | lift a quarantine, recording who decided and the token's name | [`federation`] |
//! | POST | /v1/audit `{"records", "roster"}` | read | the audit report of the whole store | [`audit`] |
//! | POST | /v1/export `{"logs", "headers_only", "audience"}` | read | a signed bundle, streamed | [`audit`] |
//! | GET  | /v1/purge?grace_days=N | read | the denials a purge would remove | [`audit`] |
//! | POST | /v1/screen?at=&threshold= | screen | an application screened, with checkpoints and proofs | [`screening`] |
//! | POST | /v1/screen/batch?at=&threshold= | screen | a JSON array of applications (at most 1,000), `{"results": [...]}` | [`screening`] |
//! | POST | /v1/screen/verify | screen | a saved result checked against this node's roster and store | [`screening`] |
//! | GET  | /v1/feed?from=now\|start&log=ID | read | new entries of every log as server-sent events, resumable with `Last-Event-ID` | [`feed`] |
//! | GET  | /v1/alerts | read | denials that met an application screened before they arrived ([`crate::alerts`]) | [`screening`] |
//! | GET  | /v1/tokens | admin | the tokens, hashed, revoked ones included | [`tokens`] |
//! | POST | /v1/tokens `{"name", "scopes"}` | admin | a new token; its secret is in this answer only | [`tokens`] |
//! | POST | /v1/tokens/{id}/revoke | admin | revoke a token (by id or name) | [`tokens`] |
//! | GET  | /metrics | read, or none with `metrics_open` | Prometheus text format | [`metrics`] |
//! | GET  | /v1/openapi.json | none | the OpenAPI 3.1 document of these routes, the record schemas embedded | [`openapi`] |
//! | GET  | /v1/docs/ | none | the interactive reference of that document (HTML; its files under /v1/docs/) | [`openapi`] |

mod audit;
mod auth;
mod code;
mod consultations;
mod federation;
mod feed;
mod health;
pub(crate) mod limits;
mod logs;
mod metrics;
mod openapi;
pub(crate) use openapi::schema_ref;
mod records;
mod screening;
mod server;
mod tokens;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use concord_protocol::ledger::LedgerError;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::audit::SourceError;
use crate::bundle::Exporter;
use crate::home::{ApiLimits, Home};
use crate::net::NetHandle;
use crate::own_log::{OwnLog, OwnLogState};
use crate::publish::{PublishError, Publisher};
use crate::query::{MAX_BODY_BYTES, Queries, QueryError};
use crate::replicate::SyncState;
use crate::store::Rejected;
use crate::tokens::Scope;
pub use code::Code;

/// Everything the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub queries: Queries,
    pub publisher: Option<Publisher>,
    /// The own log's confirmation with peers (`None` on an observer).
    pub own_log: Option<OwnLog>,
    pub net: Option<NetHandle>,
    pub sync: Arc<Mutex<SyncState>>,
    /// The tokens requests are checked against.
    pub tokens: crate::tokens::Tokens,
    /// `/metrics` without a token (`[api] metrics_open`).
    pub metrics_open: bool,
    /// Ends the streams that would otherwise outlive the node (the feed).
    pub shutdown: CancellationToken,
    /// Where the API counts its requests.
    pub metrics: crate::metrics::NodeMetrics,
    /// Every metric the node and libp2p keep, for `/metrics`.
    pub registry: Arc<prometheus_client::registry::Registry>,
    /// The node's home: where its store is, for the audit's report.
    pub home: Home,
    /// The signer of the bundles the node exports.
    pub exporter: Arc<Exporter>,
}

impl ApiState {
    /// The replication counters as they are now.
    fn sync(&self) -> SyncState {
        self.sync
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// An API failure with a stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// An observer asked to publish: it has no log of its own.
    pub(crate) fn observer() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            Code::Observer,
            "this node is an observer: observers cannot publish",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = openapi::ErrorBody {
            error: self.code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, m),
            QueryError::BadRequest(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadRequest, m)
            }
            QueryError::Duplicate(m) => {
                ApiError::new(StatusCode::CONFLICT, Code::DuplicateRecord, m)
            }
            e @ QueryError::NotInRoster(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Roster,
                e.to_string(),
            ),
            e @ QueryError::Clock => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Clock,
                e.to_string(),
            ),
            QueryError::Store(s) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Storage,
                s.to_string(),
            ),
        }
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        match e {
            e @ (SourceError::Unreadable { .. } | SourceError::Roster { .. }) => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadRoster, e.to_string())
            }
            e @ SourceError::Held(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Failed,
                e.to_string(),
            ),
            SourceError::Store(s) => QueryError::Store(s).into(),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            // A quarantine is the log's state, not a fault of the record.
            PublishError::Rejected(Rejected::Ledger(closed @ LedgerError::Quarantined(_))) => {
                ApiError::new(StatusCode::CONFLICT, Code::Quarantined, closed.to_string())
            }
            PublishError::Rejected(Rejected::Ledger(
                closed @ LedgerError::OwnLogQuarantined(_),
            )) => ApiError::new(
                StatusCode::CONFLICT,
                Code::OwnLogQuarantined,
                closed.to_string(),
            ),
            // The node may publish once it learnt its log's head from a
            // peer: a client retries later.
            PublishError::Unconfirmed(unconfirmed) => {
                let status = match unconfirmed.0 {
                    OwnLogState::Forked { .. } => StatusCode::CONFLICT,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                ApiError::new(status, unconfirmed.code(), unconfirmed.to_string())
            }
            PublishError::Rejected(r) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::Rejected,
                r.to_string(),
            ),
            PublishError::Storage(m) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, Code::Storage, m)
            }
            PublishError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::ShuttingDown,
                "the node is shutting down",
            ),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Runs `work` off the async workers: screening and listings read many
/// sled pages.
///
/// # Errors
/// `work`'s error, or a 500 when its thread panicked.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Failed,
                e.to_string(),
            )
        })?
        .map_err(ApiError::from)
}

/// The router over `state`, within `limits`, and the OpenAPI document of
/// its routes ([`openapi`]) served beside them.
pub fn router(state: ApiState, limits: &ApiLimits) -> Router {
    let body_timeout = Duration::from_millis(limits.body_timeout_ms.get());
    // Routes that take a body get it as JSON, whole, within the deadline;
    // the token was checked first (the layer of `scoped` below).
    let with_body = |route: UtoipaMethodRouter<ApiState>| {
        let (schemas, mut paths, route) = route;
        openapi::takes_body(&mut paths);
        let route = route
            .layer(middleware::from_fn_with_state(
                body_timeout,
                limits::read_body,
            ))
            .layer(middleware::from_fn(limits::require_json));
        (schemas, paths, route)
    };
    let publish_rate = limits::PublishRate::new(limits.publish_per_second, limits.publish_burst);
    let publishing = |route: UtoipaMethodRouter<ApiState>| {
        let (schemas, mut paths, route) = with_body(route);
        openapi::rate_limited(&mut paths);
        let route = route.layer(middleware::from_fn_with_state(
            publish_rate.clone(),
            limits::limit_publish,
        ));
        (schemas, paths, route)
    };
    // Each group of routes asks its tokens for one scope (`auth`), and the
    // document says so of each of them.
    let scoped = |mut routes: OpenApiRouter<ApiState>, scope: Scope| {
        openapi::scope(&mut routes.get_openapi_mut().paths, scope);
        routes.route_layer(middleware::from_fn_with_state(
            (state.clone(), scope),
            auth::require,
        ))
    };
    let mut read = OpenApiRouter::new()
        .routes(routes!(federation::status))
        .routes(routes!(consultations::list))
        .routes(routes!(logs::list_entries))
        .routes(routes!(logs::show_entry))
        .routes(routes!(logs::checkpoint))
        .routes(routes!(logs::inclusion))
        .routes(routes!(logs::consistency))
        .routes(routes!(federation::roster))
        .routes(routes!(federation::evidence))
        .routes(with_body(routes!(audit::audit)))
        .routes(with_body(routes!(audit::export)))
        .routes(routes!(audit::expired))
        .routes(routes!(screening::alerts))
        .routes(routes!(feed::feed));
    let mut open = OpenApiRouter::new()
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::openapi));
    if state.metrics_open {
        open = open.routes(routes!(metrics::metrics));
    } else {
        read = read.routes(routes!(metrics::metrics));
    }
    let screen = OpenApiRouter::new()
        .routes(with_body(routes!(screening::screen)))
        .routes(with_body(routes!(screening::batch)))
        .routes(with_body(routes!(screening::verify)));
    let publish = OpenApiRouter::new()
        .routes(publishing(routes!(records::publish)))
        .routes(publishing(routes!(consultations::request)))
        .routes(publishing(routes!(consultations::reply)));
    let admin = OpenApiRouter::new()
        .routes(with_body(routes!(federation::clear_quarantine)))
        .routes(routes!(tokens::list))
        .routes(with_body(routes!(tokens::create)))
        .routes(routes!(tokens::revoke));
    let (api, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(open)
        .merge(scoped(read, Scope::Read))
        .merge(scoped(screen, Scope::Screen))
        .merge(scoped(publish, Scope::Publish))
        .merge(scoped(admin, Scope::Admin))
        .split_for_parts();
    let document = openapi::Document(
        serde_json::to_vec(&openapi::document(document))
            .expect("a JSON value serialises")
            .into(),
    );
    // The page's forms arrive within the same body deadline and size, and
    // its consultations publish within each token's same rate.
    let web = crate::web::router(state.clone(), publish_rate.clone()).layer(
        middleware::from_fn_with_state(body_timeout, limits::read_body),
    );
    api.merge(openapi::reference())
        .layer(Extension(document))
        .route_layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            count_request,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .merge(web)
}

/// Counts each request by its route's pattern, method and status, and
/// times it (`crate::metrics`); refusals of the token layers included.
async fn count_request(
    axum::extract::State(metrics): axum::extract::State<crate::metrics::NodeMetrics>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics
        .request_seconds
        .get_or_create(&crate::metrics::RouteLabels {
            route: route.clone(),
            method: method.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&crate::metrics::RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

async fn not_found(request: axum::extract::Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Code::NoSuchRoute,
        format!(
            "no route {} {}: the API's routes are under /v1/ (see the table in the README)",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: axum::extract::Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
        format!(
            "{} does not take {}",
            request.uri().path(),
            request.method()
        ),
    )
}

/// Serves the API on an already-bound listener, within `limits`, until
/// `shutdown` fires and every open connection finished its request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    limits: &ApiLimits,
    shutdown: CancellationToken,
) {
    server::serve(listener, router(state, limits), limits, shutdown).await;
}
