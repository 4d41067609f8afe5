//! What officers, operators and observers read, built once from the store
//! and the roster, and served the same way by the HTTP API and the CLI.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::{Role, Roster};
use concord_protocol::checkpoint::{CosignatureVerifier, SignedCheckpoint};
use concord_protocol::entry::{EntryHeader, Visibility};
use concord_protocol::equivocation::KeyLookup;
use concord_protocol::ledger::DenialStatus;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Date, Kind, Record};
use serde::Serialize;

use crate::store::{Store, StoreError};

/// Why a view could not be built; the API maps these to HTTP statuses and
/// the CLI to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One log as `status` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LogView {
    pub origin: String,
    pub member: Option<String>,
    pub size: u64,
    pub root: String,
    pub checkpoint_size: Option<u64>,
    pub cosigned_by: Vec<CosignerView>,
    /// Whether the latest checkpoint has the cosignatures this node requires.
    pub is_final: bool,
    /// Largest size a peer's verified checkpoint showed, beyond this node's.
    pub behind_by: u64,
    pub quarantined: bool,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CosignerView {
    pub witness: String,
    pub time: u64,
}

/// Every log the store holds, with checkpoints and witnesses.
///
/// # Errors
/// [`ViewError::Store`] on a read failure.
pub fn logs(
    store: &Store,
    roster: &Roster,
    required_cosignatures: usize,
    seen: &std::collections::HashMap<String, u64>,
) -> Result<Vec<LogView>, ViewError> {
    let witnesses = roster.witnesses();
    let mut out = Vec::new();
    for (origin, head) in store.logs()? {
        let checkpoint = store.checkpoint(&origin)?;
        let cosigned_by = checkpoint
            .as_ref()
            .map(|cp| cosigners(cp, &witnesses))
            .unwrap_or_default();
        let seen_size = seen.get(origin.as_str()).copied().unwrap_or(0);
        let target = store.target(&origin)?.map_or(0, |t| t.checkpoint.size);
        out.push(LogView {
            member: roster
                .member_by_origin(origin.as_str())
                .map(|m| m.id.to_string()),
            size: head.size,
            root: BASE64.encode(head.root),
            checkpoint_size: checkpoint.as_ref().map(|c| c.checkpoint.size),
            is_final: checkpoint.is_some() && cosigned_by.len() >= required_cosignatures,
            cosigned_by,
            behind_by: seen_size.max(target).saturating_sub(head.size),
            quarantined: store.quarantined(&origin)?.is_some(),
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

fn cosigners(
    checkpoint: &SignedCheckpoint,
    witnesses: &[CosignatureVerifier],
) -> Vec<CosignerView> {
    witnesses
        .iter()
        .filter_map(|w| match w.verify(checkpoint) {
            Ok(Some(time)) => Some(CosignerView {
                witness: w.name.clone(),
                time,
            }),
            _ => None,
        })
        .collect()
}

/// Resolves `--log`: a member id or a log origin.
///
/// # Errors
/// [`ViewError::NotFound`] when neither matches.
pub fn resolve_log(roster: &Roster, log: &str) -> Result<Origin, ViewError> {
    if let Some(member) = roster
        .members
        .iter()
        .find(|m| m.id.as_str() == log || m.origin == log)
    {
        return Origin::new(&member.origin).map_err(|e| ViewError::NotFound(e.to_string()));
    }
    Err(ViewError::NotFound(format!(
        "{log:?} is neither a member id nor a log origin in the roster"
    )))
}

/// One entry as `show` prints it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EntryView {
    pub origin: String,
    pub index: u64,
    pub kind: String,
    pub time: u64,
    pub leaf_hash: String,
    /// The signed header bytes, verbatim, base64.
    pub header_b64: String,
    pub signature_b64: String,
    pub header: serde_json::Value,
    /// The record, when this node holds the payload and the reader may see it.
    pub payload: Option<serde_json::Value>,
    pub payload_state: String,
    pub status: Option<serde_json::Value>,
}

/// Entry `index` of `origin`, its payload shown only to a reader with `role`
/// and `country`.
///
/// # Errors
/// [`ViewError::NotFound`] for an index not stored.
pub fn entry(
    store: &Store,
    origin: &Origin,
    index: u64,
    reader: (Role, &Country),
) -> Result<EntryView, ViewError> {
    let signed = store
        .entry(origin, index)?
        .ok_or_else(|| ViewError::NotFound(format!("{origin} has no entry {index}")))?;
    let header: EntryHeader = signed.decode_header().map_err(|e| {
        ViewError::Store(StoreError::Corrupt(format!(
            "entry {index} of {origin}: {e}"
        )))
    })?;
    let readable = header.payload.visibility.may_read(reader.0, reader.1);
    let (payload, payload_state) = match store.payload(&header.payload.sha256.0)? {
        Some(bytes) if readable => (serde_json::from_slice(&bytes).ok(), "present".to_owned()),
        Some(_) => (None, "withheld (visibility)".to_owned()),
        None if store.purge_record(origin, index)?.is_some() => (None, "purged".to_owned()),
        None => (None, "not held".to_owned()),
    };
    let today = Date::from_unix_seconds(crate::clock::now() as i64);
    let status = store
        .denial_status(origin, index)?
        .map(|s| status_json(&s, today.as_ref()));
    Ok(EntryView {
        origin: origin.to_string(),
        index,
        kind: header.kind.as_str().to_owned(),
        time: header.time,
        leaf_hash: BASE64.encode(signed.leaf_hash()),
        header_b64: BASE64.encode(&signed.header_bytes),
        signature_b64: BASE64.encode(signed.signature),
        header: serde_json::from_slice(&signed.header_bytes).unwrap_or(serde_json::Value::Null),
        payload,
        payload_state,
        status,
    })
}

fn status_json(status: &DenialStatus, today: Option<&Date>) -> serde_json::Value {
    let state = today.map_or(status.state, |t| status.state_on(t));
    serde_json::json!({
        "state": state,
        "latest_index": status.latest_index,
        "valid_until": status.valid_until,
    })
}

/// A short line per entry for `list`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EntryLine {
    pub origin: String,
    pub index: u64,
    pub kind: String,
    pub time: u64,
    pub visibility: String,
    pub summary: String,
}

/// Entries `start..start+limit` of `origin`, summarised.
///
/// # Errors
/// [`ViewError::Store`] on a read failure.
pub fn list(
    store: &Store,
    origin: &Origin,
    start: u64,
    limit: u64,
) -> Result<Vec<EntryLine>, ViewError> {
    let mut out = Vec::new();
    for signed in store.entries(origin, start, limit)? {
        let Ok(header) = signed.decode_header() else {
            continue;
        };
        let summary = store
            .payload(&header.payload.sha256.0)?
            .and_then(|bytes| Record::parse(header.kind, &bytes).ok())
            .map(|r| summarise(&r))
            .unwrap_or_default();
        out.push(EntryLine {
            origin: origin.to_string(),
            index: header.index,
            kind: header.kind.as_str().to_owned(),
            time: header.time,
            visibility: visibility_name(&header.payload.visibility),
            summary,
        });
    }
    Ok(out)
}

fn summarise(record: &Record) -> String {
    match record {
        Record::Denial(d) => format!(
            "{} {}",
            d.reference,
            d.items
                .first()
                .map(|i| i.description.as_str())
                .unwrap_or("")
        ),
        Record::DenialAmend(a) => format!("amends: {}", a.reason),
        Record::DenialRevoke(r) => format!("revokes: {}", r.reason),
        Record::Notice(n) => n.summary.as_str().chars().take(80).collect(),
        other => other.kind().as_str().to_owned(),
    }
}

/// The visibility as text: `public`, `federation`, `members`, `bilateral:CL,MX`.
pub fn visibility_name(visibility: &Visibility) -> String {
    match visibility {
        Visibility::Public => "public".into(),
        Visibility::Federation => "federation".into(),
        Visibility::Members => "members".into(),
        Visibility::Bilateral { states } => format!("bilateral:{},{}", states[0], states[1]),
    }
}

/// Parses a visibility written as [`visibility_name`] writes it.
///
/// # Errors
/// [`ViewError::BadRequest`] naming what is wrong.
pub fn parse_visibility(text: &str) -> Result<Visibility, ViewError> {
    match text {
        "public" => Ok(Visibility::Public),
        "federation" => Ok(Visibility::Federation),
        "members" => Ok(Visibility::Members),
        other => {
            let states = other.strip_prefix("bilateral:").ok_or_else(|| {
                ViewError::BadRequest(format!(
                    "visibility {other:?} is not public, federation, members or bilateral:XX,YY"
                ))
            })?;
            let (a, b) = states.split_once(',').ok_or_else(|| {
                ViewError::BadRequest(
                    "bilateral visibility needs two states: bilateral:XX,YY".into(),
                )
            })?;
            let a = Country::try_from(a.to_owned())
                .map_err(|e| ViewError::BadRequest(e.to_string()))?;
            let b = Country::try_from(b.to_owned())
                .map_err(|e| ViewError::BadRequest(e.to_string()))?;
            if a == b {
                return Err(ViewError::BadRequest(
                    "bilateral visibility needs two different states".into(),
                ));
            }
            Ok(Visibility::Bilateral { states: [a, b] })
        }
    }
}

/// The kinds an officer publishes directly.
///
/// # Errors
/// [`ViewError::BadRequest`] for an unknown kind.
pub fn parse_kind(text: &str) -> Result<Kind, ViewError> {
    text.parse::<Kind>()
        .map_err(|_| ViewError::BadRequest(format!("unknown record kind {text:?}")))
}

/// A proof as JSON, hashes in base64.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ProofView {
    pub origin: String,
    pub kind: String,
    pub index: Option<u64>,
    pub leaf_hash: Option<String>,
    pub old_size: Option<u64>,
    pub size: u64,
    pub root: String,
    pub old_root: Option<String>,
    pub hashes: Vec<String>,
}

/// Inclusion proof of entry `index` in the tree of `size` (default: the
/// latest checkpoint's size, else the stored size).
///
/// # Errors
/// [`ViewError::NotFound`] for positions not stored.
pub fn inclusion(
    store: &Store,
    origin: &Origin,
    index: u64,
    size: Option<u64>,
) -> Result<ProofView, ViewError> {
    let size = match size {
        Some(s) => s,
        None => store
            .checkpoint(origin)?
            .map_or(store.head(origin)?.size, |c| c.checkpoint.size),
    };
    let hashes = store
        .inclusion_proof(origin, index, size)
        .map_err(not_found)?;
    let leaf = store
        .entry(origin, index)?
        .ok_or_else(|| ViewError::NotFound(format!("{origin} has no entry {index}")))?
        .leaf_hash();
    Ok(ProofView {
        origin: origin.to_string(),
        kind: "inclusion".into(),
        index: Some(index),
        leaf_hash: Some(BASE64.encode(leaf)),
        old_size: None,
        size,
        root: BASE64.encode(store.root_at(origin, size)?),
        old_root: None,
        hashes: hashes.iter().map(|h| BASE64.encode(h)).collect(),
    })
}

/// Consistency proof between two tree sizes.
///
/// # Errors
/// [`ViewError::NotFound`] for sizes not stored, [`ViewError::BadRequest`]
/// when `from > to`.
pub fn consistency(
    store: &Store,
    origin: &Origin,
    from: u64,
    to: u64,
) -> Result<ProofView, ViewError> {
    if from > to {
        return Err(ViewError::BadRequest(format!(
            "--from {from} is larger than --to {to}"
        )));
    }
    let hashes = store
        .consistency_proof(origin, from, to)
        .map_err(not_found)?;
    Ok(ProofView {
        origin: origin.to_string(),
        kind: "consistency".into(),
        index: None,
        leaf_hash: None,
        old_size: Some(from),
        size: to,
        root: BASE64.encode(store.root_at(origin, to)?),
        old_root: Some(BASE64.encode(store.root_at(origin, from)?)),
        hashes: hashes.iter().map(|h| BASE64.encode(h)).collect(),
    })
}

fn not_found(e: StoreError) -> ViewError {
    match e {
        StoreError::OutOfRange { .. } | StoreError::UnknownLog(_) => {
            ViewError::NotFound(e.to_string())
        }
        other => ViewError::Store(other),
    }
}

/// The roster as `roster show` prints it.
pub fn roster(roster: &Roster) -> serde_json::Value {
    let members: Vec<_> = roster
        .members
        .iter()
        .map(|m| {
            let current = m
                .keys
                .iter()
                .rev()
                .find(|k| !k.revoked && k.last_index.is_none());
            serde_json::json!({
                "id": m.id.as_str(),
                "name": m.name,
                "country": m.country.as_str(),
                "role": m.role,
                "origin": m.origin,
                "verifier_key": current.map(|k| k.vkey.to_string()),
                "witness_key": current.map(|k| k.vkey.to_witness().to_string()),
                "peer_id": m.peer_id,
                "addrs": m.addrs,
            })
        })
        .collect();
    serde_json::json!({ "federation": roster.federation, "version": roster.version, "members": members })
}
