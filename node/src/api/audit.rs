//! Routes that take the whole store away for checking: the audit of every
//! log (the engine of [`crate::audit`]), a signed bundle (the writer of
//! [`crate::bundle`]) and the payloads a purge would remove, so that an
//! observer audits and exports without stopping its node.
//!
//! Both long walks run on blocking threads (`spawn_blocking`), never on the
//! async ones, so the node keeps serving, gossiping and syncing meanwhile.

use std::io::{self, Write};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::channel::{Channel, Sender};
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState, Code};
use crate::audit::{AuditRequest, Progress, Report, audit_node};
use crate::bundle::ExportRequest;
use crate::query::ExpiredDenial;

/// Chunks of a bundle in flight to the client: the export waits when the
/// client reads slower than the store is read.
const EXPORT_CHUNKS: usize = 8;
/// Bytes of a bundle sent at once.
const EXPORT_CHUNK_BYTES: usize = 256 * 1024;

/// `POST /v1/audit`: the audit report of the whole store, the one
/// `concord audit --home DIR --json` prints of a stopped node (200 with
/// its findings, whether or not there are any).
///
/// The store is written while it is audited. Each log is audited up to the
/// head read when its turn comes, after its checkpoints were read: a head
/// is written in the one sled batch that stores its entries and hashes, a
/// stored entry is never replaced, and a checkpoint is stored only once the
/// tree reached its size, so each log is checked as one state it really
/// had, and nothing that arrives meanwhile is a false finding (see
/// [`crate::audit::audit_store`]). Two logs may be seen at different
/// moments; evidence and quarantines are read last.
#[utoipa::path(
    post,
    path = "/v1/audit",
    tag = "audit",
    summary = "The audit report of the whole store",
    description = "The report `concord audit --home DIR --json` prints of a stopped node, 200 whether or not it has findings. Each log is audited as one state it really had, though two logs may be seen moments apart.",
    request_body = AuditRequest,
    responses(
        (status = 200, description = "The audit report, with its findings if any", body = Object),
        (status = 400, description = "`bad_roster`: the pinned roster does not verify", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn audit(
    State(state): State<ApiState>,
    Json(request): Json<AuditRequest>,
) -> ApiResult<Json<Report>> {
    Ok(Json(state.audit_report(request).await?))
}

impl ApiState {
    /// The audit report of the whole store as [`audit`] answers it, from a
    /// blocking thread.
    ///
    /// # Errors
    /// A pinned roster that does not verify, a store that cannot be read,
    /// or a 500 when the audit's thread stopped.
    pub(crate) async fn audit_report(&self, request: AuditRequest) -> ApiResult<Report> {
        let now = crate::clock::now();
        let state = self.clone();
        let audited = tokio::task::spawn_blocking(move || {
            let roster = state.queries.roster.as_ref();
            audit_node(
                &state.queries.store,
                (roster, &state.home.dir),
                &state.home.db_path().display().to_string(),
                &request,
                now,
                &Progress::new(false),
            )
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Failed,
                format!("the audit stopped: {e}"),
            )
        })?;
        Ok(audited?)
    }
}

/// `POST /v1/export`: the signed bundle `concord export` writes, streamed
/// (`application/x-ndjson`). The request is checked before the answer
/// starts (404 for an unknown log, 400 for an unknown audience); a failure
/// after that ends the stream without its last chunk, so a client never
/// takes a cut bundle for a whole one (and it would lack its signed end
/// line anyway). Each log is exported up to the head read when its turn
/// comes, as the audit reads it.
#[utoipa::path(
    post,
    path = "/v1/export",
    tag = "audit",
    summary = "A signed bundle of the logs, streamed",
    description = "The bundle `concord export` writes. A failure after the answer started ends the stream without its signed last line, so a cut bundle is never taken for a whole one.",
    request_body = ExportRequest,
    responses(
        (status = 200, description = "The signed bundle, one JSON object a line", body = String, content_type = "application/x-ndjson"),
        (status = 400, description = "`bad_request`: an unknown audience", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: an unknown log", body = super::openapi::ErrorBody),
    ),
)]
pub(super) async fn export(
    State(state): State<ApiState>,
    Json(request): Json<ExportRequest>,
) -> ApiResult<Response> {
    let plan = state
        .exporter
        .plan(&state.queries.roster, &request, crate::clock::now())?;
    let (sender, body) = Channel::<Bytes, io::Error>::new(EXPORT_CHUNKS);
    let runtime = tokio::runtime::Handle::current();
    // The thread lives as long as the answer it feeds: it stops at the
    // first chunk the client no longer takes, and the server awaits every
    // open answer when it shuts down.
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            sender: Some(sender),
            runtime,
            chunk: Vec::with_capacity(EXPORT_CHUNK_BYTES),
        };
        // The bundle writer flushes its output last, which sends the last
        // chunk; dropping the sender then ends the answer.
        let written = state.exporter.write(&state.queries.store, &plan, &mut out);
        if let (Err(e), Some(sender)) = (written, out.sender.take()) {
            tracing::warn!(error = %e, "an export through the API stopped");
            sender.abort(io::Error::other(e.to_string()));
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(body),
    )
        .into_response())
}

/// Bundle bytes, sent to the answer's body a chunk at a time.
struct ChunkWriter {
    /// Taken to abort the answer when the export fails.
    sender: Option<Sender<Bytes, io::Error>>,
    runtime: tokio::runtime::Handle,
    chunk: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= EXPORT_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.chunk,
            Vec::with_capacity(EXPORT_CHUNK_BYTES),
        ));
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| io::Error::other("the answer was aborted"))?;
        // On a blocking thread, so waiting for the client here holds no
        // async thread.
        self.runtime
            .block_on(sender.send_data(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PurgeQuery {
    /// Days past a denial's end before its payload goes (0).
    #[serde(default)]
    grace_days: u32,
}

/// `GET /v1/purge?grace_days=N`: the denials a purge would remove the
/// payloads of, the listing of `concord purge --dry-run`. Purging itself
/// stays a stopped node's operation, or the retention task's of a running
/// one.
#[utoipa::path(
    get,
    path = "/v1/purge",
    tag = "audit",
    operation_id = "purge_preview",
    summary = "The denials a purge would remove the payloads of",
    description = "The listing of `concord purge --dry-run`; purging itself is a stopped node's operation, or the retention task's.",
    params(PurgeQuery),
    responses((status = 200, description = "The denials a purge would remove the payloads of", body = [ExpiredDenial])),
)]
pub(super) async fn expired(
    State(state): State<ApiState>,
    Query(query): Query<PurgeQuery>,
) -> ApiResult<Json<Vec<ExpiredDenial>>> {
    Ok(Json(
        state
            .queries
            .expired_denials(query.grace_days, crate::clock::now())?,
    ))
}
