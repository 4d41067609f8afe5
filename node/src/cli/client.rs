//! One interface to a node for the commands: its HTTP API while it runs,
//! its store while it is stopped. Both answer through the query service
//! ([`crate::query`]), publish through the own log's group-commit writer
//! ([`crate::publish`]), audit with the audit engine ([`crate::audit`]) and
//! export with the bundle writer ([`crate::bundle`]), so a command has no
//! branch of its own.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use concord_keys::roster::{Role, Roster};
use concord_protocol::origin::Origin;
use serde::de::DeserializeOwned;

use crate::alerts::Alert;
use crate::audit::{AuditRequest, Progress, Report, SourceError, audit_node};
use crate::bundle::{BundleError, ExportRequest, ExportSummary, Exporter, write_new};
use crate::consultation::{ConsultationFilter, ConsultationView, NewReply, NewRequest};
use crate::home::Home;
use crate::own_log::{ForkRisk, OwnLog};
use crate::publish::OwnEntry;
use crate::publish::PublishError;
use crate::query::{
    ClearRequest, EntryLine, EntryView, ExpiredDenial, ListFilter, Liveness, Me, Published,
    Queries, QueryError, StatusView,
};
use crate::screening::verify::{self, Verdict};
use crate::screening::{self, Request, ScreeningResult};
use crate::store::{Store, StoreError};
use concord_protocol::proof::Proof;

/// How long a publish waits for a node just started to confirm its own log
/// with a peer (503 `own_log_unconfirmed`).
const UNCONFIRMED_WAIT: Duration = Duration::from_secs(30);

/// How long a command waits to learn whether the node's API listens.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Why a node could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0} is an observer: observers cannot publish")]
    Observer(String),
    /// The running node's API answered with an error.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("{0}")]
    Unreachable(String),
    #[error("the node's answer does not parse: {0}")]
    BadAnswer(String),
    /// The home's files (config, keys, roster, token).
    #[error(transparent)]
    Home(#[from] anyhow::Error),
}

/// A record to publish: as the officer wrote it (for the API, which parses
/// it again) and as parsed here (for the store), so that a refused record
/// changes nothing, whichever way it goes.
pub struct Submission<'a> {
    kind: &'a str,
    visibility: &'a str,
    body: Vec<u8>,
    entry: OwnEntry,
    /// Whether a stopped node's store is written without confirming the
    /// own log with peers, which it cannot ask; a running node decides by
    /// how it was started.
    fork_risk: ForkRisk,
    /// Publish even if the record is that of an entry still in force.
    force: bool,
}

impl<'a> Submission<'a> {
    /// Parses `body` as a record of `kind`.
    ///
    /// # Errors
    /// [`QueryError::BadRequest`] naming what is wrong.
    pub fn parse(
        kind: &'a str,
        visibility: &'a str,
        refers_to: Option<u64>,
        body: Vec<u8>,
    ) -> Result<Self, QueryError> {
        let entry = crate::query::own_entry(kind, Some(visibility), refers_to, &body)?;
        Ok(Self {
            kind,
            visibility,
            body,
            entry,
            fork_risk: ForkRisk::Refused,
            force: false,
        })
    }

    /// The same submission, published even if it repeats a record in
    /// force (`--force`).
    pub fn with_force(self, force: bool) -> Self {
        Self { force, ..self }
    }

    /// The entry as parsed: the normalised record and its visibility.
    pub fn entry(&self) -> &OwnEntry {
        &self.entry
    }

    /// The same submission, written on a stopped node with `fork_risk`.
    pub fn with_fork_risk(self, fork_risk: ForkRisk) -> Self {
        Self { fork_risk, ..self }
    }
}

/// A consultation to publish, as an officer asked it.
pub enum Consultation {
    Request(NewRequest),
    Reply(NewReply),
}

/// What the commands ask a node.
pub trait NodeClient {
    /// Publishes on the own log; answers once the entry is durable.
    ///
    /// # Errors
    /// A refused record, an observer, a failed write, an unreachable node.
    fn publish(&self, submission: Submission<'_>) -> Result<Published, ClientError>;
    /// Publishes a consultation request or reply on the own log, checked
    /// against the store first; answers once the entry is durable.
    /// `fork_risk` is as for [`Submission::with_fork_risk`].
    ///
    /// # Errors
    /// A bad reference or field, a refusal by the ledger's rules, as
    /// [`NodeClient::publish`].
    fn consult(
        &self,
        consultation: &Consultation,
        fork_risk: ForkRisk,
    ) -> Result<Published, ClientError>;
    /// The consultations this node can read that `filter` keeps.
    ///
    /// # Errors
    /// A filter that does not parse, a failed read, an unreachable node.
    fn consultations(
        &self,
        filter: &ConsultationFilter,
    ) -> Result<Vec<ConsultationView>, ClientError>;
    /// # Errors
    /// An unknown log, a failed read, an unreachable node.
    fn entries(
        &self,
        log: &str,
        start: u64,
        limit: u64,
        filter: &ListFilter,
    ) -> Result<Vec<EntryLine>, ClientError>;
    /// # Errors
    /// An unknown log or index, a failed read, an unreachable node.
    fn entry(&self, log: &str, index: u64) -> Result<EntryView, ClientError>;
    /// # Errors
    /// A failed read, an unreachable node.
    fn status(&self) -> Result<StatusView, ClientError>;
    /// The latest signed checkpoint note, exactly the signed bytes.
    ///
    /// # Errors
    /// An unknown log, no checkpoint yet, an unreachable node.
    fn checkpoint(&self, log: &str) -> Result<Vec<u8>, ClientError>;
    /// # Errors
    /// Positions not stored, an unreachable node.
    fn inclusion(&self, log: &str, index: u64, size: Option<u64>) -> Result<Proof, ClientError>;
    /// # Errors
    /// Sizes not stored or out of order, an unreachable node.
    fn consistency(&self, log: &str, from: u64, to: u64) -> Result<Proof, ClientError>;
    /// Lifts a quarantine; `false` when the log was not quarantined.
    ///
    /// # Errors
    /// An unknown log, an empty operator or reason, a failed write.
    fn clear_quarantine(&self, log: &str, request: &ClearRequest) -> Result<bool, ClientError>;
    /// Audits the node's whole store; findings are in the report, not an
    /// error.
    ///
    /// # Errors
    /// A pinned roster that does not verify, a store that cannot be read,
    /// an unreachable node.
    fn audit(&self, request: &AuditRequest, progress: &Progress) -> Result<Report, ClientError>;
    /// Writes the signed bundle `request` asks for to `out`, a new file
    /// (see [`write_new`]).
    ///
    /// # Errors
    /// An existing `out`, an unknown log or audience, a failed read or
    /// write, an unreachable node or one that stopped sending.
    fn export(&self, request: &ExportRequest, out: &Path) -> Result<ExportSummary, ClientError>;
    /// What `purge` would remove today with `grace_days` of grace.
    ///
    /// # Errors
    /// A failed read, an unreachable node.
    fn expired_denials(&self, grace_days: u32) -> Result<Vec<ExpiredDenial>, ClientError>;

    /// Screens an application against the denials in force
    /// (PROTOCOL.md §11).
    fn screen(&self, request: &Request) -> Result<ScreeningResult, ClientError>;

    /// Verifies a saved screening result against the node's roster, and
    /// screens its logs again at the result's checkpoints.
    fn verify_screening(&self, result: &ScreeningResult) -> Result<Verdict, ClientError>;

    /// Every alert raised, oldest first.
    fn alerts(&self) -> Result<Vec<Alert>, ClientError>;
}

/// A node as a command finds it.
pub enum Connection {
    Running(HttpClient),
    Stopped(LocalClient),
}

impl Connection {
    pub fn client(&self) -> &dyn NodeClient {
        match self {
            Self::Running(http) => http,
            Self::Stopped(local) => local,
        }
    }
}

/// The running node of `home`, or its store when it is stopped, checked
/// on open ([`Store::open`]).
///
/// # Errors
/// No config in `home` (a mistyped `--home` must not become an empty
/// store), an unreadable token, a store that cannot be opened.
pub fn connect(home: &Home) -> Result<Connection, ClientError> {
    connect_with(home, Store::open)
}

/// As [`connect`], but a stopped node's store is opened without checking
/// its logs' tails ([`Store::open_for_audit`]), so that an audit reports
/// what is wrong with a store that opening would refuse, and an export
/// still carries it away.
///
/// # Errors
/// As [`connect`].
pub fn connect_for_audit(home: &Home) -> Result<Connection, ClientError> {
    connect_with(home, Store::open_for_audit)
}

fn connect_with(
    home: &Home,
    open: fn(&Path) -> Result<Store, StoreError>,
) -> Result<Connection, ClientError> {
    let config = home.config()?;
    let running = || -> Result<Connection, ClientError> {
        Ok(Connection::Running(HttpClient {
            base: format!("http://{}", config.api.listen),
            token: home.token()?,
        }))
    };
    // A running node answers on its API; asking it first spares the wait
    // for a store lock that will not be released.
    if std::net::TcpStream::connect_timeout(&config.api.listen, CONNECT_TIMEOUT).is_ok() {
        return running();
    }
    match open(&home.db_path()) {
        Ok(store) => Ok(Connection::Stopped(LocalClient {
            home: home.clone(),
            store,
        })),
        // Started, but its API is not up yet.
        Err(StoreError::Locked(_)) => running(),
        Err(e) => Err(e.into()),
    }
}

/// The HTTP API of a running node, with its bearer token.
pub struct HttpClient {
    base: String,
    token: String,
}

impl HttpClient {
    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(&self.send("GET", path, None)?)
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> Result<T, ClientError> {
        decode(&self.send("POST", path, Some(body))?)
    }

    /// Posts `body` to a route that publishes on the own log.
    fn post_published(&self, path: &str, body: &[u8]) -> Result<Published, ClientError> {
        // A node just started answers 503 until a peer confirmed its own
        // log, which takes a sync round: an officer's publish waits for
        // that rather than failing, up to a bound.
        let deadline = std::time::Instant::now() + UNCONFIRMED_WAIT;
        let mut said = false;
        loop {
            match self.post(path, body.to_vec()) {
                Err(ClientError::Refused { status: 503, .. })
                    if std::time::Instant::now() < deadline =>
                {
                    if !said {
                        eprintln!(
                            "waiting for a peer to confirm this node's own log (up to {} s)…",
                            UNCONFIRMED_WAIT.as_secs()
                        );
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    /// The answer's body; an API error comes back with its message.
    fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<String, ClientError> {
        self.request(method, path, body)?
            .into_body()
            .read_to_string()
            .map_err(|e| ClientError::Unreachable(format!("reading the node's answer: {e}")))
    }

    /// The answer, its body unread; an API error comes back with its
    /// message.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("POST", body) => agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_default()),
            _ => agent.get(&url).header("Authorization", &auth).call(),
        }
        .map_err(|e| match e {
            ureq::Error::StatusCode(status) => ClientError::Refused {
                status,
                message: format!("the node answered HTTP {status}"),
            },
            other => ClientError::Unreachable(format!("the node's API cannot be reached: {other}")),
        })?;
        let status = response.status().as_u16();
        if status < 400 {
            return Ok(response);
        }
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|e| ClientError::Unreachable(format!("reading the node's answer: {e}")))?;
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or(text);
        Err(ClientError::Refused { status, message })
    }
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError::BadAnswer(e.to_string()))
}

impl NodeClient for HttpClient {
    fn publish(&self, submission: Submission<'_>) -> Result<Published, ClientError> {
        let Submission {
            kind,
            visibility,
            body,
            entry,
            fork_risk: _,
            force,
        } = submission;
        let mut path = format!("/v1/records/{kind}?visibility={visibility}");
        if let Some(index) = entry.refers_to {
            path.push_str(&format!("&refers_to={index}"));
        }
        if !force {
            path.push_str("&refuse_duplicate=true");
        }
        self.post_published(&path, &body)
    }

    fn consult(
        &self,
        consultation: &Consultation,
        _fork_risk: ForkRisk,
    ) -> Result<Published, ClientError> {
        let (path, body) = match consultation {
            Consultation::Request(new) => ("/v1/consultations", serde_json::to_vec(new)),
            Consultation::Reply(new) => ("/v1/consultations/reply", serde_json::to_vec(new)),
        };
        self.post_published(path, &body.expect("a consultation serialises"))
    }

    fn consultations(
        &self,
        filter: &ConsultationFilter,
    ) -> Result<Vec<ConsultationView>, ClientError> {
        let query = serde_urlencoded::to_string(filter)
            .map_err(|e| ClientError::BadAnswer(format!("encoding the filters: {e}")))?;
        let and = if query.is_empty() { "" } else { "?" };
        self.get(&format!("/v1/consultations{and}{query}"))
    }

    fn entries(
        &self,
        log: &str,
        start: u64,
        limit: u64,
        filter: &ListFilter,
    ) -> Result<Vec<EntryLine>, ClientError> {
        // Party names carry spaces and accents: the query is encoded.
        let filters = serde_urlencoded::to_string(filter)
            .map_err(|e| ClientError::BadAnswer(format!("encoding the filters: {e}")))?;
        let and = if filters.is_empty() { "" } else { "&" };
        self.get(&format!(
            "/v1/logs/{log}/entries?start={start}&limit={limit}{and}{filters}"
        ))
    }

    fn entry(&self, log: &str, index: u64) -> Result<EntryView, ClientError> {
        self.get(&format!("/v1/logs/{log}/entries/{index}"))
    }

    fn status(&self) -> Result<StatusView, ClientError> {
        self.get("/v1/status")
    }

    fn checkpoint(&self, log: &str) -> Result<Vec<u8>, ClientError> {
        Ok(self
            .send("GET", &format!("/v1/logs/{log}/checkpoint"), None)?
            .into_bytes())
    }

    fn inclusion(&self, log: &str, index: u64, size: Option<u64>) -> Result<Proof, ClientError> {
        let size = size.map(|s| format!("&size={s}")).unwrap_or_default();
        self.get(&format!(
            "/v1/logs/{log}/proof/inclusion?index={index}{size}"
        ))
    }

    fn consistency(&self, log: &str, from: u64, to: u64) -> Result<Proof, ClientError> {
        self.get(&format!(
            "/v1/logs/{log}/proof/consistency?from={from}&to={to}"
        ))
    }

    fn clear_quarantine(&self, log: &str, request: &ClearRequest) -> Result<bool, ClientError> {
        let body = serde_json::to_vec(request).expect("a request serialises");
        let answer: serde_json::Value = self.post(&format!("/v1/quarantine/{log}/clear"), body)?;
        Ok(answer
            .get("cleared")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false))
    }

    /// No progress bar: the node walks its store on its own threads and
    /// answers once, with the report.
    fn audit(&self, request: &AuditRequest, _progress: &Progress) -> Result<Report, ClientError> {
        let body = serde_json::to_vec(request).expect("a request serialises");
        self.post("/v1/audit", body)
    }

    fn export(&self, request: &ExportRequest, out: &Path) -> Result<ExportSummary, ClientError> {
        let body = serde_json::to_vec(request).expect("a request serialises");
        write_new(out, |file| {
            let response = self.request("POST", "/v1/export", Some(body))?;
            // The node ends the stream early (no last chunk) when its export
            // fails: the copy fails then and nothing is left under `out`.
            std::io::copy(&mut response.into_body().into_reader(), file).map_err(|e| {
                ClientError::Unreachable(format!("the node's bundle stopped arriving: {e}"))
            })?;
            Ok(())
        })
    }

    fn expired_denials(&self, grace_days: u32) -> Result<Vec<ExpiredDenial>, ClientError> {
        self.get(&format!("/v1/purge?grace_days={grace_days}"))
    }

    fn screen(&self, request: &Request) -> Result<ScreeningResult, ClientError> {
        let mut path = format!(
            "/v1/screen?threshold={}",
            request
                .threshold
                .unwrap_or(concord_screening::DEFAULT_THRESHOLD)
        );
        if let Some(at) = request.at {
            path.push_str(&format!("&at={at}"));
        }
        let body = serde_json::to_vec(&request.application).expect("applications serialise");
        self.post(&path, body)
    }

    fn verify_screening(&self, result: &ScreeningResult) -> Result<Verdict, ClientError> {
        let body = serde_json::to_vec(result).expect("results serialise");
        self.post("/v1/screen/verify", body)
    }

    fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        self.get("/v1/alerts")
    }
}

/// The store of a stopped node, read and written in this process.
pub struct LocalClient {
    home: Home,
    store: Store,
}

impl LocalClient {
    /// The store, for what only a stopped node may do (purging by hand).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The query service over this store, for the home's participant. The
    /// config names it, so reading needs no passphrase.
    fn queries(&self) -> Result<Queries, ClientError> {
        Ok(Queries::of_home(self.store.clone(), &self.home)?)
    }

    /// The own log of this stopped node, which can ask no peer (`None` for
    /// an observer).
    fn own_log(
        me: &Me,
        roster: &Roster,
        fork_risk: ForkRisk,
    ) -> Result<Option<OwnLog>, ClientError> {
        if me.role != Role::Member {
            return Ok(None);
        }
        let origin = Origin::new(&me.origin).map_err(anyhow::Error::from)?;
        Ok(Some(OwnLog::stopped(origin, roster, &me.id, fork_risk)))
    }

    /// Runs `work` on a runtime of its own, for the store's async writes.
    fn block_on<T>(work: impl Future<Output = T>) -> Result<T, ClientError> {
        let runtime = tokio::runtime::Runtime::new()
            .map_err(|e| ClientError::Home(anyhow::anyhow!("starting a runtime: {e}")))?;
        Ok(runtime.block_on(work))
    }
}

impl LocalClient {
    /// Publishes `entry` on the own log of this stopped node, with
    /// `fork_risk`, through the writer a running node has.
    fn publish_entry(
        &self,
        entry: OwnEntry,
        fork_risk: ForkRisk,
    ) -> Result<Published, ClientError> {
        let identity = self.home.identity()?;
        let roster = Arc::new(self.home.roster()?);
        let me = Me::of(&roster, identity.id.as_str())?;
        let Some(own_log) = Self::own_log(&me, &roster, fork_risk)? else {
            return Err(ClientError::Observer(me.id));
        };
        let origin = own_log.origin().clone();
        let done = Self::block_on(async {
            let shutdown = tokio_util::sync::CancellationToken::new();
            let writer = crate::publish::Writer {
                store: self.store.clone(),
                origin,
                country: me.country,
                key: identity.log_key.clone(),
                clock: crate::clock::now,
                own_log,
                roster: roster.clone(),
            };
            let (publisher, task) = crate::publish::spawn(writer, None, shutdown.clone());
            let outcome = publisher.publish(entry).await;
            shutdown.cancel();
            let _ = task.await;
            outcome
        })??;
        Ok(Published {
            origin: done.origin.to_string(),
            index: done.index,
            leaf_hash: hex::encode(done.leaf_hash),
        })
    }
}

impl NodeClient for LocalClient {
    fn publish(&self, submission: Submission<'_>) -> Result<Published, ClientError> {
        if !submission.force {
            let queries = self.queries()?;
            let origin = queries.log(&queries.me.id)?;
            crate::query::refuse_duplicate(&self.store, &origin, &submission.entry)?;
        }
        self.publish_entry(submission.entry, submission.fork_risk)
    }

    fn consult(
        &self,
        consultation: &Consultation,
        fork_risk: ForkRisk,
    ) -> Result<Published, ClientError> {
        let queries = self.queries()?;
        let entry = match consultation {
            Consultation::Request(new) => queries.consultation_request(new)?,
            Consultation::Reply(new) => queries.consultation_reply(new)?,
        };
        self.publish_entry(entry, fork_risk)
    }

    fn consultations(
        &self,
        filter: &ConsultationFilter,
    ) -> Result<Vec<ConsultationView>, ClientError> {
        Ok(self.queries()?.consultations(filter, crate::clock::now())?)
    }

    fn entries(
        &self,
        log: &str,
        start: u64,
        limit: u64,
        filter: &ListFilter,
    ) -> Result<Vec<EntryLine>, ClientError> {
        Ok(self.queries()?.entries(log, start, limit, filter)?)
    }

    fn entry(&self, log: &str, index: u64) -> Result<EntryView, ClientError> {
        Ok(self.queries()?.entry(log, index)?)
    }

    fn status(&self) -> Result<StatusView, ClientError> {
        let queries = self.queries()?;
        let own_log = match Self::own_log(&queries.me, &queries.roster, ForkRisk::Refused)? {
            Some(own_log) => Some(own_log.state_in(&self.store)?),
            None => None,
        };
        let liveness = Liveness {
            sync: serde_json::json!({"node": "not running"}),
            own_log,
            ..Liveness::default()
        };
        Ok(queries.status(liveness)?)
    }

    fn checkpoint(&self, log: &str) -> Result<Vec<u8>, ClientError> {
        Ok(self.queries()?.checkpoint(log)?)
    }

    fn inclusion(&self, log: &str, index: u64, size: Option<u64>) -> Result<Proof, ClientError> {
        Ok(self.queries()?.inclusion(log, index, size)?)
    }

    fn consistency(&self, log: &str, from: u64, to: u64) -> Result<Proof, ClientError> {
        Ok(self.queries()?.consistency(log, from, to)?)
    }

    fn clear_quarantine(&self, log: &str, request: &ClearRequest) -> Result<bool, ClientError> {
        let queries = self.queries()?;
        let (_, cleared) =
            Self::block_on(queries.clear_quarantine(log, request, crate::clock::now()))??;
        Ok(cleared)
    }

    fn audit(&self, request: &AuditRequest, progress: &Progress) -> Result<Report, ClientError> {
        let roster = self.home.roster()?;
        Ok(audit_node(
            &self.store,
            (&roster, &self.home.dir),
            &self.home.db_path().display().to_string(),
            request,
            crate::clock::now(),
            progress,
        )?)
    }

    fn export(&self, request: &ExportRequest, out: &Path) -> Result<ExportSummary, ClientError> {
        let roster = self.home.roster()?;
        let exporter = Exporter::of_home(&self.home, self.home.identity()?.log_key.clone())?;
        let plan = exporter.plan(&roster, request, crate::clock::now())?;
        write_new(out, |file| Ok(exporter.write(&self.store, &plan, file)?))
    }

    fn expired_denials(&self, grace_days: u32) -> Result<Vec<ExpiredDenial>, ClientError> {
        Ok(self
            .queries()?
            .expired_denials(grace_days, crate::clock::now())?)
    }

    fn screen(&self, request: &Request) -> Result<ScreeningResult, ClientError> {
        Ok(screening::screen(
            &self.queries()?,
            request,
            crate::clock::now(),
        )?)
    }

    fn verify_screening(&self, result: &ScreeningResult) -> Result<Verdict, ClientError> {
        let queries = self.queries()?;
        let source = format!("installed in {}", self.home.roster_dir().display());
        Ok(verify::verify(
            result,
            Some(((*queries.roster).clone(), source)),
            Some(&self.store),
        ))
    }

    fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        Ok(self.store.alerts()?)
    }
}
