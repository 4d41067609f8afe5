//! A client of one node's HTTP API (loopback, bearer token from
//! `HOME/api.token`), and the shapes of its answers that callers check.
//!
//! The `try_*` methods return errors and are what `concord demo` uses; the
//! others panic with what they asked, for tests. [`Api::read_log`] reads a
//! whole log back and checks it: contiguous, each leaf hash the hash of the
//! verbatim header bytes, the root recomputed (RFC 6962).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use concord_protocol::merkle::{self, Hash, RootBuilder};
use serde_json::Value;

use crate::{Error, wait};

/// Timeout of one HTTP request to a node.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a publish waits for a node that just started to confirm its
/// own log with a peer.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read: a whole status of many logs, or one entry.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The body as JSON; panics if it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.body)
        })
    }

    /// The stable `error` code of an API error (empty if it has none).
    pub fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The `message` of an API error (or the whole body if it has none).
    pub fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| self.body.clone())
    }
}

/// Where an acknowledged publish landed (`201 {origin,index,leaf_hash}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub origin: String,
    pub index: u64,
    pub leaf_hash: Hash,
}

impl Published {
    /// Reads the JSON of a 201 answer or of `concord publish --json`;
    /// `None` if a field is missing or malformed.
    pub fn from_json(value: &Value) -> Option<Published> {
        Some(Published {
            origin: value["origin"].as_str()?.to_owned(),
            index: value["index"].as_u64()?,
            leaf_hash: try_decode_hash(value["leaf_hash"].as_str()?)?,
        })
    }

    /// [`Published::from_json`], panicking on a malformed answer.
    #[track_caller]
    pub fn parse(value: &Value) -> Published {
        Published::from_json(value).unwrap_or_else(|| panic!("not a publish answer: {value}"))
    }
}

/// Why a publish was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The node answered, with anything but 201.
    #[error("publish answered HTTP {}: {}", .0.status, .0.body)]
    Refused(Reply),
    /// No answer: the node is down, or the connection broke.
    #[error(transparent)]
    Unreachable(Error),
    /// A 201 whose body is no publish answer: the node acknowledged
    /// something, but not where.
    #[error("publish answered 201 with no origin, index and leaf hash: {}", .0.body)]
    Malformed(Reply),
}

/// A SHA-256 hash as the API and the CLI print them: 64 lowercase hex
/// digits (PROTOCOL.md §1).
pub fn try_decode_hash(text: &str) -> Option<Hash> {
    let digest: concord_protocol::entry::Digest256 =
        serde_json::from_value(Value::String(text.to_owned())).ok()?;
    Some(digest.0)
}

/// [`try_decode_hash`], panicking on anything but a hex 32-byte hash.
#[track_caller]
pub fn decode_hash(text: &str) -> Hash {
    try_decode_hash(text).unwrap_or_else(|| panic!("{text:?} is not a hex 32-byte hash"))
}

/// Sizes by origin from a status document (`GET /v1/status` or
/// `concord status --json`); panics if it lists no logs.
#[track_caller]
pub fn log_sizes(status: &Value) -> HashMap<String, u64> {
    status["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("status has no logs: {status}"))
        .iter()
        .map(|l| {
            (
                l["origin"]
                    .as_str()
                    .expect("a log has an origin")
                    .to_owned(),
                l["size"].as_u64().expect("a log has a size"),
            )
        })
        .collect()
}

/// One entry as read back from a node.
#[derive(Debug, Clone)]
pub struct ReadEntry {
    pub index: u64,
    pub leaf_hash: Hash,
}

/// A whole log read back and checked by [`Api::read_log`].
#[derive(Debug, Clone)]
pub struct ReadLog {
    pub origin: String,
    /// The size and root the node's status reports.
    pub size: u64,
    pub root: Hash,
    pub entries: Vec<ReadEntry>,
}

/// A client of one node's HTTP API.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    /// Whether requests carry the token (tests of a missing one do not).
    token_sent: bool,
    agent: ureq::Agent,
}

impl Api {
    /// The API listening on `listen` (`127.0.0.1:PORT`), with the token of
    /// the node whose home is `home`.
    ///
    /// # Errors
    /// `HOME/api.token` cannot be read.
    pub fn connect(listen: &str, home: &Path) -> Result<Api, Error> {
        let path = home.join("api.token");
        let token = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Ok(Api::new(&format!("http://{listen}"), token.trim()))
    }

    fn new(base: &str, token: &str) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        Api {
            base: base.to_owned(),
            token: token.to_owned(),
            token_sent: true,
            agent,
        }
    }

    /// The API's address, `127.0.0.1:PORT`, for a client of its own.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The bearer token this client sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same API with another bearer token (`None`: no header at all).
    pub fn with_token(&self, token: Option<&str>) -> Api {
        let mut api = Api::new(&self.base, token.unwrap_or_default());
        api.token_sent = token.is_some();
        api
    }

    /// `METHOD path` without a body, with the token, whatever the answer's
    /// status: for methods a route does not take.
    ///
    /// # Errors
    /// [`Error::Http`] when the node cannot be reached or the answer read.
    pub fn try_method(&self, method: &str, path: &str) -> Result<Reply, Error> {
        let what = || format!("{method} {}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let request = self.authorise(request);
        let response = self
            .agent
            .run(
                request
                    .body(())
                    .map_err(|e| Error::io(what(), std::io::Error::other(e)))?,
            )
            .map_err(|e| http(what(), e))?;
        read_reply(response).map_err(|e| http(what(), e))
    }

    fn authorise(&self, request: ureq::http::request::Builder) -> ureq::http::request::Builder {
        if self.token_sent {
            request.header("Authorization", format!("Bearer {}", self.token))
        } else {
            request
        }
    }

    /// `GET path` with the token, whatever the answer's status.
    ///
    /// # Errors
    /// [`Error::Http`] when the node cannot be reached or the answer read.
    pub fn try_get(&self, path: &str) -> Result<Reply, Error> {
        let what = || format!("GET {}{path}", self.base);
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if self.token_sent {
            request = request.header("Authorization", format!("Bearer {}", self.token));
        }
        let response = request.call().map_err(|e| http(what(), e))?;
        read_reply(response).map_err(|e| http(what(), e))
    }

    /// `POST path` with the token and a JSON body, whatever the answer's
    /// status.
    ///
    /// # Errors
    /// [`Error::Http`] when the node cannot be reached, the connection
    /// broke or the answer could not be read.
    pub fn try_post(&self, path: &str, body: &[u8]) -> Result<Reply, Error> {
        let what = || format!("POST {}{path}", self.base);
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if self.token_sent {
            request = request.header("Authorization", format!("Bearer {}", self.token));
        }
        let response = request
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| http(what(), e))?;
        read_reply(response).map_err(|e| http(what(), e))
    }

    /// `POST /v1/records/{kind}` (`kind` may carry a query, e.g.
    /// `denial?visibility=public`; the node's default is `federation`).
    ///
    /// # Errors
    /// A node that started moments ago answers 503 `own_log_unconfirmed`
    /// until a peer confirmed how far its own log goes; that answer is
    /// asked again, as a client of the API does, for up to
    /// [`CONFIRM_TIMEOUT`].
    ///
    /// [`PublishError::Refused`] for any other answer but 201 (or that one
    /// still after the timeout), [`PublishError::Unreachable`] when there
    /// was none, and [`PublishError::Malformed`] for a 201 that does not say
    /// where the entry landed.
    pub fn try_publish(&self, kind: &str, body: &[u8]) -> Result<Published, PublishError> {
        let path = format!("/v1/records/{kind}");
        let mut reply = None;
        let confirmed = wait::poll(CONFIRM_TIMEOUT, "the node's own log confirmed", || {
            let answer = self.try_post(&path, body)?;
            let unconfirmed = answer.status == 503 && answer.code() == "own_log_unconfirmed";
            reply = Some(answer);
            Ok(!unconfirmed)
        });
        let reply = match (confirmed, reply) {
            (Err(Error::Timeout { .. }), Some(reply)) => reply,
            (Err(e), _) => return Err(PublishError::Unreachable(e)),
            (Ok(()), reply) => reply.expect("a poll that succeeded took an answer"),
        };
        if reply.status != 201 {
            return Err(PublishError::Refused(reply));
        }
        serde_json::from_str(&reply.body)
            .ok()
            .as_ref()
            .and_then(Published::from_json)
            .ok_or(PublishError::Malformed(reply))
    }

    /// `GET path`; panics if the node cannot be reached.
    #[track_caller]
    pub fn get(&self, path: &str) -> Reply {
        self.try_get(path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `POST path`; panics if the node cannot be reached.
    #[track_caller]
    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.try_post(path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether `/v1/health` answers 200.
    pub fn health(&self) -> bool {
        self.try_get("/v1/health").is_ok_and(|r| r.status == 200)
    }

    /// Publishes and panics unless the node answers 201.
    #[track_caller]
    pub fn publish(&self, kind: &str, body: &[u8]) -> Published {
        self.try_publish(kind, body)
            .unwrap_or_else(|e| panic!("publish {kind}: {e}"))
    }

    /// `GET /v1/status` as JSON; panics unless it answers 200.
    #[track_caller]
    pub fn status(&self) -> Value {
        let reply = self.get("/v1/status");
        assert_eq!(reply.status, 200, "GET /v1/status: {}", reply.body);
        reply.json()
    }

    /// `GET /v1/logs/{log}/entries/{index}`; `None` on 404.
    #[track_caller]
    pub fn entry(&self, log: &str, index: u64) -> Option<Value> {
        let reply = self.get(&format!("/v1/logs/{log}/entries/{index}"));
        match reply.status {
            200 => Some(reply.json()),
            404 => None,
            other => panic!("GET entry {index} of {log}: HTTP {other}: {}", reply.body),
        }
    }

    /// Reads log `log` (member id or origin) back whole and checks it:
    /// entries `0..size` all answer and `size` does not (contiguous), each
    /// header's `index` is its position, each leaf hash is the hash of the
    /// verbatim header bytes, and the root recomputed from the leaf hashes
    /// (RFC 6962, [`RootBuilder`]) is the root the status reports.
    #[track_caller]
    pub fn read_log(&self, log: &str) -> ReadLog {
        let status = self.status();
        let logs = status["logs"].as_array().expect("status lists logs");
        let view = logs
            .iter()
            .find(|l| l["origin"] == log || l["member"] == log)
            .unwrap_or_else(|| panic!("status has no log {log}: {status}"));
        let origin = view["origin"].as_str().expect("origin").to_owned();
        let size = view["size"].as_u64().expect("size");
        let root = decode_hash(view["root"].as_str().expect("root"));
        let mut entries = Vec::with_capacity(usize::try_from(size).expect("size fits usize"));
        let mut builder = RootBuilder::default();
        for index in 0..size {
            let entry = self
                .entry(log, index)
                .unwrap_or_else(|| panic!("{origin} has size {size} but no entry {index}"));
            let header_bytes =
                concord_protocol::base64::decode(entry["header_b64"].as_str().expect("header_b64"))
                    .expect("header_b64 is base64");
            let leaf_hash = decode_hash(entry["leaf_hash"].as_str().expect("leaf_hash"));
            assert_eq!(entry["index"], index, "entry {index} of {origin}");
            let header: Value =
                serde_json::from_slice(&header_bytes).expect("header bytes are JSON");
            assert_eq!(
                header["index"], index,
                "header of entry {index} of {origin}"
            );
            assert_eq!(
                leaf_hash,
                merkle::leaf_hash(&header_bytes),
                "leaf hash of entry {index} of {origin} is not the hash of its header"
            );
            builder.push(leaf_hash);
            entries.push(ReadEntry { index, leaf_hash });
        }
        assert!(
            self.entry(log, size).is_none(),
            "{origin} answers an entry at its size {size}"
        );
        assert_eq!(
            builder.root(),
            root,
            "root of {origin} recomputed from its {size} leaf hashes differs from the reported root"
        );
        ReadLog {
            origin,
            size,
            root,
            entries,
        }
    }
}

fn http(what: String, source: ureq::Error) -> Error {
    Error::Http {
        what,
        source: Box::new(source),
    }
}

fn read_reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()?;
    Ok(Reply { status, body })
}
