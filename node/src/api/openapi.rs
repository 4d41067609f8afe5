//! The API's OpenAPI 3.1 document (`GET /v1/openapi.json`) and its
//! interactive reference (`/v1/docs/`), both without a token: they hold
//! no secret, and an operator reads them before holding one.
//!
//! The document is what `utoipa-axum` collects while the router is built
//! (each handler's `#[utoipa::path]` names the path it is routed at), so
//! the two cannot drift; the scope and the middleware's refusals are
//! stamped on the operations by the same calls that install them
//! ([`scope`], [`takes_body`], [`rate_limited`]).
//!
//! The record and application JSON Schemas of `protocol/schemas/` are
//! embedded under `components.schemas` (`denial`, `defs`, ...), without
//! their `$id`s and with every `$ref` rewritten to a pointer into the
//! document (`defs.schema.json#/$defs/name` becomes
//! `#/components/schemas/defs/$defs/name`): OpenAPI tools resolve those,
//! few honour a `$id` within a schema.

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use concord_protocol::schemas;
use serde_json::{Map, Value};
use utoipa::openapi::path::{Operation, PathItem, Paths};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response as Answer, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::tokens::Scope;

/// Where the document is served.
const DOCUMENT_PATH: &str = "/v1/openapi.json";
/// Where the interactive reference is served.
const REFERENCE_PATH: &str = "/v1/docs";

/// The document's frame: what the handlers' annotations do not say.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Concord node API",
        description = "The local HTTP API of a Concord node. Every route but the health checks, this document and its reference page asks for a bearer token holding one scope (`read`, `screen`, `publish` or `admin`; `concord token create`), named in each operation's `security`. Errors are JSON `{\"error\": <stable code>, \"message\": <what and why>}`. The interactive reference is served at `/v1/docs/`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Bearer),
    components(schemas(ErrorBody)),
    tags(
        (name = "health", description = "Liveness and readiness, without a token"),
        (name = "federation", description = "The federation as this node sees it"),
        (name = "logs", description = "Entries, checkpoints and proofs of each log, and the feed of new entries"),
        (name = "records", description = "Publishing on the own log"),
        (name = "consultations", description = "Asking the denying state about a denial, and answering"),
        (name = "screening", description = "Licence applications screened against the denials in force"),
        (name = "audit", description = "The whole store checked or taken away"),
        (name = "tokens", description = "Bearer tokens and their scopes"),
        (name = "metrics", description = "Prometheus metrics"),
        (name = "reference", description = "This document"),
    ),
)]
pub(super) struct ApiDoc;

/// An API error, as every refusal answers it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody {
    /// A stable code, e.g. `not_found`, `insufficient_scope`.
    pub(super) error: super::Code,
    /// What went wrong and why, for a person.
    pub(super) message: String,
}

/// The `bearer` scheme the scoped operations name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `concord token create` (the node's own is HOME/api.token); its scopes are the OAuth-style scopes each operation names.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The operations of `item`, whatever their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// An error answer with `description`, its body the `Error` schema.
fn error(description: &str) -> RefOr<Answer> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("Error"))),
        )
        .build()
        .into()
}

/// Adds the answer `status` to every operation of `paths` that does not
/// already say what it means.
fn answers(paths: &mut Paths, status: &str, description: &str) {
    for operation in paths.paths.values_mut().flat_map(operations) {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error(description));
    }
}

/// States that the operations of `paths` ask for a token with `scope`, and
/// the refusals of one that does not.
pub(super) fn scope(paths: &mut Paths, scope: Scope) {
    for operation in paths.paths.values_mut().flat_map(operations) {
        operation.security = Some(vec![SecurityRequirement::new("bearer", [scope.as_str()])]);
        let said = operation.description.take().unwrap_or_default();
        operation.description = Some(format!("{said}\n\nScope: `{scope}`.").trim().to_owned());
    }
    answers(
        paths,
        "401",
        "`unauthorized`: no token, or a wrong or revoked one",
    );
    answers(
        paths,
        "403",
        &format!("`insufficient_scope`: the token does not hold `{scope}`"),
    );
}

/// The refusals of a route that reads a JSON body whole before it runs.
pub(super) fn takes_body(paths: &mut Paths) {
    answers(
        paths,
        "400",
        "`bad_request` or `bad_body`: the body is not what the route takes",
    );
    answers(
        paths,
        "408",
        "`body_timeout`: the body did not arrive within `[api.limits] body_timeout_ms`",
    );
    answers(
        paths,
        "413",
        "`too_large`: the body is larger than a record may be",
    );
    answers(
        paths,
        "415",
        "`unsupported_media_type`: the body is not sent as `application/json`",
    );
}

/// The refusal of a route within each token's publish rate.
pub(super) fn rate_limited(paths: &mut Paths) {
    answers(
        paths,
        "429",
        "`rate_limited`: the token publishes faster than `[api.limits]` allow; retry after `Retry-After` seconds",
    );
}

/// The name under `components.schemas` of a schema file:
/// `denial.amend.schema.json` is `denial.amend`.
fn component(file: &str) -> &str {
    file.strip_suffix(".schema.json").unwrap_or(file)
}

/// Points every `$ref` in `schema` (of the file `own`) into the document.
fn rewrite_refs(schema: &mut Value, own: &str) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        let (file, pointer) = target.split_once('#').unwrap_or((target, ""));
                        let name = if file.is_empty() {
                            own
                        } else {
                            component(file)
                        };
                        *target = format!("#/components/schemas/{name}{pointer}");
                    }
                    (_, value) => rewrite_refs(value, own),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, own)),
        _ => {}
    }
}

/// The whole document: `openapi` with the schema files embedded, and the
/// bodies made of them: `record`, any record payload, which publishing
/// takes, and `application_batch`.
pub(super) fn document(mut openapi: utoipa::openapi::OpenApi) -> Value {
    // A summary is the first paragraph of a handler's doc comment, wrapped.
    for operation in openapi.paths.paths.values_mut().flat_map(operations) {
        if let Some(summary) = &mut operation.summary {
            *summary = summary.replace('\n', " ");
        }
    }
    let mut document = serde_json::to_value(openapi).expect("an OpenAPI document serialises");
    let components = document
        .as_object_mut()
        .expect("a document is an object")
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()));
    let embedded = components
        .as_object_mut()
        .expect("components are an object")
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("schemas are an object");
    let mut records = Vec::new();
    for schema in schemas::ALL {
        let name = component(schema.file);
        let mut value: Value =
            serde_json::from_str(schema.json).expect("the compiled-in schemas are JSON");
        let object = value.as_object_mut().expect("a schema file is an object");
        // The document's dialect is JSON Schema 2020-12 already.
        object.remove("$schema");
        object.remove("$id");
        rewrite_refs(&mut value, name);
        if schema != schemas::DEFS && schema != schemas::APPLICATION {
            records.push(serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }));
        }
        embedded.insert(name.to_owned(), value);
    }
    embedded.insert(
        "record".to_owned(),
        serde_json::json!({
            "description": "A record payload: the schema of the kind the path names applies (protocol/schemas/).",
            "anyOf": records,
        }),
    );
    embedded.insert(
        "application_batch".to_owned(),
        serde_json::json!({
            "type": "array",
            "maxItems": crate::screening::MAX_BATCH,
            "items": { "$ref": "#/components/schemas/application" },
        }),
    );
    document
}

/// References to the embedded schemas, for the fields of types that hold
/// a record or an application (`#[schema(schema_with = ...)]`).
pub(crate) mod schema_ref {
    use utoipa::openapi::Ref;

    pub(crate) fn application() -> Ref {
        Ref::from_schema_name("application")
    }

    pub(crate) fn denial() -> Ref {
        Ref::from_schema_name("denial")
    }
}

/// The document as served, serialised once.
#[derive(Clone)]
pub(super) struct Document(pub(super) Bytes);

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "reference",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")),
)]
pub(super) async fn openapi(Extension(document): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.0).into_response()
}

/// The interactive reference (Swagger UI, its files compiled in), reading
/// the document; its own assets only, as its CSP says.
pub(super) fn reference<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = utoipa_swagger_ui::Config::new([DOCUMENT_PATH])
        // No call to the public validator: the page stays on this host.
        .validator_url("none")
        // No top bar, whose field would load a document from elsewhere.
        .use_base_layout()
        .try_it_out_enabled(true)
        .persist_authorization(false);
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new(REFERENCE_PATH).config(config)).layer(
        axum::middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                ),
            );
            response
                .headers_mut()
                .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }),
    )
}
