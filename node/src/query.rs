//! The query service: what officers, operators and observers read, built
//! from the store and the roster for one reader, and served the same way by
//! the HTTP API ([`crate::api`]) and by the CLI on a stopped node
//! ([`crate::cli`]'s local client), so that neither has an answer of its own.
//!
//! Parsing what an officer submits ([`own_entry`]) lives here too: the API
//! and the CLI refuse the same input with the same message.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::{Role, Roster};
use concord_protocol::checkpoint::{CosignatureVerifier, SignedCheckpoint};
use concord_protocol::entry::{Digest256, EntryHeader, Visibility};
use concord_protocol::equivocation::KeyLookup;
use concord_protocol::ledger::{DenialState, DenialStatus};
use concord_protocol::origin::Origin;
use concord_protocol::proof::Proof;
use concord_protocol::record::{Country, Date, Kind, Record};
use serde::{Deserialize, Serialize};

use crate::own_log::OwnLogState;
use crate::publish::OwnEntry;
use crate::store::{Store, StoreError};

/// Largest record an officer may submit (a record is bounded well below
/// this); the API's body limit and the CLI's file limit.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Why an answer could not be built; the API maps these to HTTP statuses and
/// the CLI to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The home names a participant the roster does not hold.
    #[error("{0} is not in the roster")]
    NotInRoster(String),
    /// The system clock reads a time that is no date.
    #[error("the system clock is out of range")]
    Clock,
    /// The record is the payload of an entry of the own log still in
    /// force; publishing it again takes `force`.
    #[error("{0}")]
    Duplicate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// This node's identity as the roster states it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub id: String,
    pub origin: String,
    /// `member` or `observer`.
    #[schema(value_type = String)]
    pub role: Role,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub country: Country,
}

impl Me {
    /// Participant `id` of `roster`.
    ///
    /// # Errors
    /// [`QueryError::NotInRoster`] when the roster has no such participant.
    pub fn of(roster: &Roster, id: &str) -> Result<Self, QueryError> {
        let member = roster
            .members
            .iter()
            .find(|m| m.id.as_str() == id)
            .ok_or_else(|| QueryError::NotInRoster(id.to_owned()))?;
        Ok(Self {
            id: member.id.to_string(),
            origin: member.origin.clone(),
            role: member.role,
            country: member.country,
        })
    }
}

/// The status document.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusView {
    pub me: Me,
    pub federation: String,
    pub roster_version: u64,
    /// Whether the node runs: `false` when this was read from a stopped
    /// node's store, whose peers and lag are then unknown.
    pub running: bool,
    pub peers: Vec<PeerView>,
    pub logs: Vec<LogView>,
    pub quarantined: Vec<String>,
    pub evidence: usize,
    /// Whether the own log may be written (`None` on an observer).
    #[serde(default)]
    pub own_log: Option<OwnLogState>,
    pub sync: serde_json::Value,
}

/// A connected peer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerView {
    pub peer_id: String,
    pub member: Option<String>,
    pub addrs: Vec<String>,
}

/// What the network adds to a status: nothing for a stopped node.
#[derive(Debug, Default)]
pub struct Liveness {
    /// Whether a running node answers (the rest is empty when not).
    pub running: bool,
    pub peers: Vec<PeerView>,
    /// Largest size of each log (by origin) a peer's checkpoint showed.
    pub seen_sizes: HashMap<String, u64>,
    /// The replication counters, or what a stopped node says instead.
    pub sync: serde_json::Value,
    /// The own log's confirmation with peers (`None` on an observer).
    pub own_log: Option<OwnLogState>,
}

/// Where a published entry landed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Published {
    /// The own log's origin.
    pub origin: String,
    /// The entry's index in it.
    pub index: u64,
    /// The entry's RFC 6962 leaf hash, hex.
    pub leaf_hash: String,
}

/// Who lifts a quarantine, and why.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ClearRequest {
    pub operator: String,
    pub reason: String,
}

/// The answers of one node to one reader: its store, its roster and who it
/// is (which decides which payloads are shown).
#[derive(Clone)]
pub struct Queries {
    pub store: Store,
    pub roster: Arc<Roster>,
    /// The roster files, oldest first, canonical, as bundles and screening
    /// results carry them.
    pub rosters: Arc<Vec<Vec<u8>>>,
    pub me: Me,
    pub required_cosignatures: usize,
    /// Days a consultation request waits for its reply before it is
    /// overdue (`[consultations] overdue_days`).
    pub consultation_overdue_days: u32,
}

impl Queries {
    /// The answers of the node of `home` over `store`, for its own
    /// participant, as its config and roster say.
    ///
    /// # Errors
    /// An unreadable config or roster, or a participant not in it.
    pub fn of_home(store: Store, home: &crate::home::Home) -> anyhow::Result<Queries> {
        let config = home.config()?;
        let roster = home.roster()?;
        Ok(Queries {
            store,
            me: Me::of(&roster, &config.id)?,
            roster: Arc::new(roster),
            rosters: Arc::new(home.canonical_roster_files()?),
            required_cosignatures: config.witness.required_cosignatures,
            consultation_overdue_days: config.consultations.overdue_days,
        })
    }

    /// Resolves a member id or a log origin.
    ///
    /// # Errors
    /// [`QueryError::NotFound`] when neither matches.
    pub fn log(&self, log: &str) -> Result<Origin, QueryError> {
        resolve_log(&self.roster, log)
    }

    /// The node, every log with its checkpoint and witnesses, quarantines.
    ///
    /// # Errors
    /// [`QueryError::Store`] on a read failure.
    pub fn status(&self, liveness: Liveness) -> Result<StatusView, QueryError> {
        let logs = logs(
            &self.store,
            &self.roster,
            self.required_cosignatures,
            &liveness.seen_sizes,
        )?;
        let quarantined = self
            .store
            .quarantines()?
            .into_iter()
            .map(|q| q.origin.to_string())
            .collect();
        Ok(StatusView {
            me: self.me.clone(),
            federation: self.roster.federation.clone(),
            roster_version: self.roster.version,
            running: liveness.running,
            peers: liveness.peers,
            logs,
            quarantined,
            evidence: self.store.evidence()?.len(),
            own_log: liveness.own_log,
            sync: liveness.sync,
        })
    }

    /// Entries `start..start+limit` of `log`, summarised.
    ///
    /// # Errors
    /// As [`list`], and [`QueryError::NotFound`] for an unknown log.
    pub fn entries(
        &self,
        log: &str,
        start: u64,
        limit: u64,
        filter: &ListFilter,
    ) -> Result<Vec<EntryLine>, QueryError> {
        list(&self.store, &self.log(log)?, start, limit, filter)
    }

    /// Entry `index` of `log`, its payload shown as this node may read it.
    ///
    /// # Errors
    /// As [`entry`].
    pub fn entry(&self, log: &str, index: u64) -> Result<EntryView, QueryError> {
        entry(
            &self.store,
            &self.log(log)?,
            index,
            (self.me.role, &self.me.country),
        )
    }

    /// The latest signed checkpoint note of `log`, exactly the signed bytes.
    ///
    /// # Errors
    /// [`QueryError::NotFound`] when the log has no checkpoint yet.
    pub fn checkpoint(&self, log: &str) -> Result<Vec<u8>, QueryError> {
        let origin = self.log(log)?;
        let checkpoint = self
            .store
            .checkpoint(&origin)?
            .ok_or_else(|| QueryError::NotFound(format!("no checkpoint of {origin} yet")))?;
        Ok(checkpoint.to_bytes())
    }

    /// As [`inclusion`], for `log`.
    ///
    /// # Errors
    /// As [`inclusion`].
    pub fn inclusion(&self, log: &str, index: u64, size: Option<u64>) -> Result<Proof, QueryError> {
        inclusion(&self.store, &self.log(log)?, index, size)
    }

    /// As [`consistency`], for `log`.
    ///
    /// # Errors
    /// As [`consistency`].
    pub fn consistency(&self, log: &str, from: u64, to: u64) -> Result<Proof, QueryError> {
        consistency(&self.store, &self.log(log)?, from, to)
    }

    /// Equivocation proofs, quarantines and the operators' decisions.
    ///
    /// # Errors
    /// [`QueryError::Store`] on a read failure.
    pub fn evidence(&self) -> Result<serde_json::Value, QueryError> {
        let evidence = self.store.evidence()?;
        let quarantines = self.store.quarantines()?;
        let decisions = self.store.decisions()?;
        Ok(
            serde_json::json!({ "evidence": evidence, "quarantines": quarantines, "decisions": decisions }),
        )
    }

    /// Lifts the quarantine of `log`, recording who decided and why; `false`
    /// when the log was not quarantined.
    ///
    /// # Errors
    /// [`QueryError::BadRequest`] for an empty operator or reason.
    pub async fn clear_quarantine(
        &self,
        log: &str,
        request: &ClearRequest,
        now: u64,
    ) -> Result<(Origin, bool), QueryError> {
        let origin = self.log(log)?;
        if request.operator.trim().is_empty() || request.reason.trim().is_empty() {
            return Err(QueryError::BadRequest(
                "operator and reason must not be empty".into(),
            ));
        }
        let cleared = self
            .store
            .clear_quarantine(&origin, &request.operator, &request.reason, now)
            .await?;
        Ok((origin, cleared))
    }

    /// The denials whose validity ended more than `grace_days` before the
    /// day of `now`, each with the entries (the denial, its amendments and
    /// revocation) whose payloads a purge would remove.
    ///
    /// # Errors
    /// [`QueryError::Clock`] for a clock out of range, [`QueryError::Store`]
    /// on a read failure.
    pub fn expired_denials(
        &self,
        grace_days: u32,
        now: u64,
    ) -> Result<Vec<ExpiredDenial>, QueryError> {
        let expired = self.store.expired_denials(&today(now)?, grace_days)?;
        Ok(expired
            .into_iter()
            .map(|(origin, entries)| ExpiredDenial {
                origin: origin.to_string(),
                entries,
            })
            .collect())
    }
}

/// The day of `now` (seconds since the Unix epoch).
///
/// # Errors
/// [`QueryError::Clock`] when it is no date.
pub fn today(now: u64) -> Result<Date, QueryError> {
    i64::try_from(now)
        .ok()
        .and_then(Date::from_unix_seconds)
        .ok_or(QueryError::Clock)
}

/// A denial a purge would remove the payloads of.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpiredDenial {
    pub origin: String,
    /// The denial's index first, then its amendments and revocation.
    pub entries: Vec<u64>,
}

/// Refuses a new record `entry` (no amendment or revocation) if it is,
/// byte for byte, the payload of an entry of the own log `origin` of the
/// same kind that is still in force
/// (any such entry but a revoked or expired denial): publishing it again
/// is almost always a mistake, so the command line takes `--force` for it
/// (the API refuses it when asked, `refuse_duplicate=true`).
///
/// # Errors
/// [`QueryError::Duplicate`] naming the entry; a store error.
pub fn refuse_duplicate(
    store: &Store,
    origin: &Origin,
    entry: &OwnEntry,
) -> Result<(), QueryError> {
    use sha2::Digest as _;
    // An amendment or revocation names its denial: the same text for
    // another denial is no repeat.
    if entry.refers_to.is_some() {
        return Ok(());
    }
    let digest: [u8; 32] = sha2::Sha256::digest(entry.record.to_canonical_bytes()).into();
    // The payloads are kept by digest: only a held one can be a repeat.
    if !store.holds_payload(&digest)? {
        return Ok(());
    }
    let kind = entry.record.kind();
    let today = today(crate::clock::now())?;
    let mut end = store.head(origin)?.size;
    while end > 0 {
        let start = end.saturating_sub(LIST_BATCH);
        for signed in store.entries(origin, start, end - start)?.iter().rev() {
            let Ok(header) = signed.decode_header() else {
                continue;
            };
            if header.kind != kind || header.payload.sha256.0 != digest {
                continue;
            }
            let in_force = match store.denial_status(origin, header.index)? {
                Some(status) => matches!(
                    status.state_on(&today),
                    DenialState::Active | DenialState::Amended
                ),
                None => true,
            };
            if in_force {
                return Err(QueryError::Duplicate(format!(
                    "this {kind} is the record of entry {} of {origin}, still in force; publish it again with --force if that is meant",
                    header.index
                )));
            }
        }
        end = start;
    }
    Ok(())
}

/// Parses what an officer submits into an entry for the own log.
///
/// # Errors
/// [`QueryError::BadRequest`] naming the problem (the record's field, the
/// visibility, a missing reference).
pub fn own_entry(
    kind: &str,
    visibility: Option<&str>,
    refers_to: Option<u64>,
    body: &[u8],
) -> Result<OwnEntry, QueryError> {
    let kind = parse_kind(kind)?;
    let record = Record::parse(kind, body)
        .map_err(|e| QueryError::BadRequest(format!("{kind} record refused: {e}")))?;
    let visibility = parse_visibility(visibility.unwrap_or("federation"))?;
    Ok(OwnEntry {
        record,
        visibility,
        refers_to,
    })
}

/// One log as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Payloads of entries held that this node may read but does not hold
    /// yet (anti-entropy fetches them from the peers that may serve them),
    /// as far as the entries were looked at: so `behind_by` 0 is not the
    /// whole truth while this is not 0.
    pub payloads_missing: u64,
    pub quarantined: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CosignerView {
    pub witness: String,
    pub time: u64,
}

/// The roster files `bytes` holds: one signed roster file, or a roster
/// document ([`ROSTER_FORMAT`]) and its chain.
///
/// # Errors
/// A document whose files are not base64.
pub fn roster_files_in(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let document = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .filter(|v| v.get("format").and_then(serde_json::Value::as_str) == Some(ROSTER_FORMAT));
    let Some(document) = document else {
        return Ok(vec![bytes.to_vec()]);
    };
    document["files"]
        .as_array()
        .ok_or("a roster document without its files")?
        .iter()
        .map(|f| {
            f.as_str()
                .and_then(|f| BASE64.decode(f).ok())
                .ok_or_else(|| "a roster document's file is not base64".to_owned())
        })
        .collect()
}

/// The roster `bytes` holds (a file or a document), verified as a chain
/// from its genesis.
///
/// # Errors
/// Why it is no roster, naming the file of the chain that fails.
pub fn verify_roster(bytes: &[u8]) -> Result<Roster, String> {
    let files = roster_files_in(bytes)?;
    concord_keys::SignedRoster::verify_chain(&files).map_err(|(position, e)| {
        if files.len() == 1 {
            e.to_string()
        } else {
            format!("roster file {} of the document: {e}", position + 1)
        }
    })
}

/// Every log the store holds, with checkpoints and witnesses.
///
/// # Errors
/// [`QueryError::Store`] on a read failure.
pub fn logs(
    store: &Store,
    roster: &Roster,
    required_cosignatures: usize,
    seen: &std::collections::HashMap<String, u64>,
) -> Result<Vec<LogView>, QueryError> {
    let mut out = Vec::new();
    for (origin, head) in store.logs()? {
        let checkpoint = store.checkpoint(&origin)?;
        let cosigned_by = checkpoint
            .as_ref()
            .map(|cp| cosigners(cp, &roster.witnesses(&origin)))
            .unwrap_or_default();
        let seen_size = seen.get(origin.as_str()).copied().unwrap_or(0);
        let target = store.target(&origin)?.map_or(0, |t| t.checkpoint.size);
        out.push(LogView {
            member: roster
                .member_by_origin(origin.as_str())
                .map(|m| m.id.to_string()),
            size: head.size,
            root: hex::encode(head.root),
            checkpoint_size: checkpoint.as_ref().map(|c| c.checkpoint.size),
            is_final: checkpoint.is_some() && cosigned_by.len() >= required_cosignatures,
            cosigned_by,
            behind_by: seen_size.max(target).saturating_sub(head.size),
            payloads_missing: store.missing_payload_count(&origin)?,
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
/// [`QueryError::NotFound`] when neither matches.
pub fn resolve_log(roster: &Roster, log: &str) -> Result<Origin, QueryError> {
    if let Some(member) = roster
        .members
        .iter()
        .find(|m| m.id.as_str() == log || m.origin == log)
    {
        return Origin::new(&member.origin).map_err(|e| QueryError::NotFound(e.to_string()));
    }
    Err(QueryError::NotFound(format!(
        "{log:?} is neither a member id nor a log origin in the roster"
    )))
}

/// One entry as `show` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// `time` as ISO 8601 UTC.
    pub published_at: String,
    /// The record, when this node holds the payload and the reader may see it.
    pub payload: Option<serde_json::Value>,
    pub payload_state: String,
    pub status: Option<serde_json::Value>,
    /// For a denial amended since: the denial as its last amendment states
    /// it, which is what is in force.
    #[serde(default)]
    pub current: Option<CurrentVersion>,
}

/// The content of a denial after its amendments.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrentVersion {
    /// The amendment that states it.
    pub index: u64,
    /// The denial as amended, when this node holds the amendment's payload
    /// and the reader may see it.
    pub denial: Option<serde_json::Value>,
}

/// Entry `index` of `origin`, its payload shown only to a reader with `role`
/// and `country`.
///
/// # Errors
/// [`QueryError::NotFound`] for an index not stored.
pub fn entry(
    store: &Store,
    origin: &Origin,
    index: u64,
    reader: (Role, &Country),
) -> Result<EntryView, QueryError> {
    let signed = store
        .entry(origin, index)?
        .ok_or_else(|| QueryError::NotFound(format!("{origin} has no entry {index}")))?;
    let header: EntryHeader = signed.decode_header().map_err(|e| {
        QueryError::Store(StoreError::Corrupt(format!(
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
    let denial_status = store.denial_status(origin, index)?;
    let current = match &denial_status {
        Some(status) => current_version(store, origin, status, reader)?,
        None => None,
    };
    let status = denial_status.map(|s| status_json(&s, today.as_ref()));
    Ok(EntryView {
        origin: origin.to_string(),
        index,
        kind: header.kind.as_str().to_owned(),
        time: header.time,
        leaf_hash: hex::encode(signed.leaf_hash()),
        header_b64: BASE64.encode(&signed.header_bytes),
        signature_b64: BASE64.encode(signed.signature),
        header: serde_json::from_slice(&signed.header_bytes).unwrap_or(serde_json::Value::Null),
        published_at: iso_utc(header.time),
        payload,
        payload_state,
        status,
        current,
    })
}

/// The last amendment of a denial with `status`, and the denial it states
/// when `reader` may see it; `None` when the denial was never amended.
fn current_version(
    store: &Store,
    origin: &Origin,
    status: &DenialStatus,
    reader: (Role, &Country),
) -> Result<Option<CurrentVersion>, QueryError> {
    for &index in status.history.iter().rev() {
        let Some(signed) = store.entry(origin, index)? else {
            continue;
        };
        let Ok(header) = signed.decode_header() else {
            continue;
        };
        if header.kind != Kind::DenialAmend {
            continue;
        }
        let denial = if header.payload.visibility.may_read(reader.0, reader.1) {
            store
                .payload(&header.payload.sha256.0)?
                .and_then(|bytes| Record::parse(Kind::DenialAmend, &bytes).ok())
                .and_then(|record| match record {
                    Record::DenialAmend(amend) => serde_json::to_value(&amend.denial).ok(),
                    _ => None,
                })
        } else {
            None
        };
        return Ok(Some(CurrentVersion { index, denial }));
    }
    Ok(None)
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryLine {
    pub origin: String,
    pub index: u64,
    pub kind: String,
    /// Seconds since the Unix epoch, as signed in the header.
    pub time: u64,
    /// `time` as ISO 8601 UTC.
    pub published_at: String,
    pub visibility: String,
    /// A denial's state today (`active`, `amended`… as the status machine
    /// says, `expired` past its validity); `None` for other kinds.
    #[serde(default)]
    pub state: Option<String>,
    /// A denial's denying state and decision date, and its parties' names,
    /// when the payload is held.
    #[serde(default)]
    pub denying_state: Option<String>,
    #[serde(default)]
    pub decision_date: Option<String>,
    #[serde(default)]
    pub parties: Vec<String>,
    pub summary: String,
}

/// What `list` keeps: every filter given must hold. Each is text as a
/// person types it on the command line or in a URL's query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    /// A record kind (`denial`, `notice`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A denial's state today: `active`, `amended`, `revoked`, `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The state in whose name the record was published (ISO code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Part of a party's name or alias, compared as screening keys
    /// (accents, case and legal forms aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// A control-list entry or the start of one (`1C350` keeps `1C350.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_entry: Option<String>,
    /// First and last day (YYYY-MM-DD, inclusive) of the record's date (a
    /// denial's decision, a notice's date; else the day it was published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// [`ListFilter`] checked and parsed once.
struct Matcher {
    kind: Option<Kind>,
    status: Option<String>,
    state: Option<Country>,
    party: Option<String>,
    control_entry: Option<String>,
    since: Option<Date>,
    until: Option<Date>,
}

impl Matcher {
    fn new(filter: &ListFilter) -> Result<Self, QueryError> {
        let bad = |what: &str, why: String| QueryError::BadRequest(format!("--{what}: {why}"));
        let date = |what: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| Date::parse(t).map_err(|e| bad(what, e.to_string())))
                .transpose()
        };
        let status = filter.status.clone();
        if let Some(s) = &status
            && !["active", "amended", "revoked", "expired"].contains(&s.as_str())
        {
            return Err(bad(
                "status",
                format!("{s:?} is not active, amended, revoked or expired"),
            ));
        }
        let party = filter
            .party
            .as_deref()
            .map(concord_protocol::record::normalise_name);
        if party.as_deref() == Some("") {
            return Err(bad("party", "has no letter or digit".into()));
        }
        Ok(Self {
            kind: filter.kind.as_deref().map(parse_kind).transpose()?,
            status,
            state: filter
                .state
                .as_deref()
                .map(|s| {
                    Country::try_from(s.to_uppercase()).map_err(|e| bad("state", e.to_string()))
                })
                .transpose()?,
            party,
            control_entry: filter.control_entry.as_ref().map(|c| c.to_uppercase()),
            since: date("since", &filter.since)?,
            until: date("until", &filter.until)?,
        })
    }

    fn keeps(
        &self,
        kind: Kind,
        record: Option<&Record>,
        line: &EntryLine,
        published: Option<Date>,
    ) -> bool {
        let facts = record.map(Facts::of).unwrap_or_default();
        let day = facts.date.or(published);
        self.kind.is_none_or(|k| k == kind)
            && self
                .status
                .as_ref()
                .is_none_or(|s| line.state.as_ref() == Some(s))
            && self
                .state
                .as_ref()
                .is_none_or(|s| facts.state.as_ref() == Some(s))
            && self.party.as_ref().is_none_or(|needle| {
                facts
                    .names
                    .iter()
                    .any(|n| concord_protocol::record::normalise_name(n).contains(needle.as_str()))
            })
            && self.control_entry.as_ref().is_none_or(|needle| {
                facts
                    .control_entries
                    .iter()
                    .any(|c| c.to_uppercase().starts_with(needle.as_str()))
            })
            && self
                .since
                .is_none_or(|since| day.is_some_and(|d| d >= since))
            && self
                .until
                .is_none_or(|until| day.is_some_and(|d| d <= until))
    }
}

/// What the filters look at in a record.
#[derive(Default)]
struct Facts {
    state: Option<Country>,
    date: Option<Date>,
    names: Vec<String>,
    control_entries: Vec<String>,
}

impl Facts {
    fn of(record: &Record) -> Self {
        let of_denial = |d: &concord_protocol::record::denial::Denial| Facts {
            state: Some(d.denying_state),
            date: Some(d.decision_date),
            names: d
                .parties
                .iter()
                .flat_map(|p| std::iter::once(&p.name).chain(&p.aliases))
                .map(|n| n.as_str().to_owned())
                .collect(),
            control_entries: d
                .items
                .iter()
                .flat_map(|i| &i.control_entries)
                .map(|c| c.as_str().to_owned())
                .collect(),
        };
        match record {
            Record::Denial(d) => of_denial(d),
            Record::DenialAmend(a) => of_denial(&a.denial),
            Record::Notice(n) => Facts {
                state: Some(n.issuing_state),
                date: Some(n.date),
                names: n
                    .parties
                    .iter()
                    .flat_map(|p| std::iter::once(&p.name).chain(&p.aliases))
                    .map(|name| name.as_str().to_owned())
                    .collect(),
                control_entries: n
                    .items
                    .iter()
                    .flat_map(|i| &i.control_entries)
                    .map(|c| c.as_str().to_owned())
                    .collect(),
            },
            _ => Facts::default(),
        }
    }
}

/// How many entries `list` reads from the store at a time while filtering.
const LIST_BATCH: u64 = 1000;

/// Up to `limit` entries of `origin` from index `start` on that `filter`
/// keeps, summarised. Filters read every entry from `start` (no index
/// yet): a filtered listing of a long log takes a while.
///
/// # Errors
/// [`QueryError::BadRequest`] for a filter that does not parse,
/// [`QueryError::Store`] on a read failure.
pub fn list(
    store: &Store,
    origin: &Origin,
    start: u64,
    limit: u64,
    filter: &ListFilter,
) -> Result<Vec<EntryLine>, QueryError> {
    let matcher = Matcher::new(filter)?;
    let today = Date::from_unix_seconds(crate::clock::now() as i64);
    let mut out = Vec::new();
    let mut next = start;
    while (out.len() as u64) < limit {
        let batch = store.entries(origin, next, LIST_BATCH)?;
        if batch.is_empty() {
            break;
        }
        next += batch.len() as u64;
        for signed in batch {
            let Ok(header) = signed.decode_header() else {
                continue;
            };
            let record = store
                .payload(&header.payload.sha256.0)?
                .and_then(|bytes| Record::parse(header.kind, &bytes).ok());
            let line = entry_line(store, origin, &header, record.as_ref(), today.as_ref())?;
            let published = i64::try_from(header.time)
                .ok()
                .and_then(Date::from_unix_seconds);
            if matcher.keeps(header.kind, record.as_ref(), &line, published) {
                out.push(line);
                if out.len() as u64 == limit {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn entry_line(
    store: &Store,
    origin: &Origin,
    header: &EntryHeader,
    record: Option<&Record>,
    today: Option<&Date>,
) -> Result<EntryLine, QueryError> {
    let denial = match record {
        Some(Record::Denial(d)) => Some(d),
        _ => None,
    };
    let state = store.denial_status(origin, header.index)?.map(|status| {
        let state = today.map_or(status.state, |t| status.state_on(t));
        serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    Ok(EntryLine {
        origin: origin.to_string(),
        index: header.index,
        kind: header.kind.as_str().to_owned(),
        time: header.time,
        published_at: iso_utc(header.time),
        visibility: visibility_name(&header.payload.visibility),
        state,
        denying_state: denial.map(|d| d.denying_state.as_str().to_owned()),
        decision_date: denial.map(|d| d.decision_date.to_string()),
        parties: denial
            .map(|d| {
                d.parties
                    .iter()
                    .map(|p| p.name.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        summary: record.map(summarise).unwrap_or_default(),
    })
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

/// Seconds since the Unix epoch as ISO 8601 UTC, `2026-12-02T09:41:07Z`.
pub fn iso_utc(secs: u64) -> String {
    let date = i64::try_from(secs)
        .ok()
        .and_then(Date::from_unix_seconds)
        .map_or_else(|| "?".to_owned(), |d| d.to_string());
    let of_day = secs % 86_400;
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
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
/// [`QueryError::BadRequest`] naming what is wrong.
pub fn parse_visibility(text: &str) -> Result<Visibility, QueryError> {
    match text {
        "public" => Ok(Visibility::Public),
        "federation" => Ok(Visibility::Federation),
        "members" => Ok(Visibility::Members),
        other => {
            let states = other.strip_prefix("bilateral:").ok_or_else(|| {
                QueryError::BadRequest(format!(
                    "visibility {other:?} is not public, federation, members or bilateral:XX,YY"
                ))
            })?;
            let (a, b) = states.split_once(',').ok_or_else(|| {
                QueryError::BadRequest(
                    "bilateral visibility needs two states: bilateral:XX,YY".into(),
                )
            })?;
            let a = Country::try_from(a.to_owned())
                .map_err(|e| QueryError::BadRequest(e.to_string()))?;
            let b = Country::try_from(b.to_owned())
                .map_err(|e| QueryError::BadRequest(e.to_string()))?;
            if a == b {
                return Err(QueryError::BadRequest(
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
/// [`QueryError::BadRequest`] for an unknown kind.
pub fn parse_kind(text: &str) -> Result<Kind, QueryError> {
    text.parse::<Kind>().map_err(|_| {
        let kinds: Vec<&str> = Kind::ALL.iter().map(Kind::as_str).collect();
        QueryError::BadRequest(format!(
            "unknown record kind {text:?}; the kinds are {}",
            kinds.join(", ")
        ))
    })
}

/// Inclusion proof of entry `index` in the tree of `size` (default: the
/// latest checkpoint's size, else the stored size), with the checkpoint of
/// that size when the store holds one.
///
/// # Errors
/// [`QueryError::NotFound`] for positions not stored.
pub fn inclusion(
    store: &Store,
    origin: &Origin,
    index: u64,
    size: Option<u64>,
) -> Result<Proof, QueryError> {
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
        .ok_or_else(|| QueryError::NotFound(format!("{origin} has no entry {index}")))?
        .leaf_hash();
    Ok(Proof::Inclusion {
        origin: origin.clone(),
        index,
        leaf_hash: Digest256(leaf),
        tree_size: size,
        root: Digest256(store.root_at(origin, size)?),
        hashes: hashes.into_iter().map(Digest256).collect(),
        checkpoint: checkpoint_note(store, origin, size)?,
    })
}

/// Consistency proof between two tree sizes.
///
/// # Errors
/// [`QueryError::NotFound`] for sizes not stored, [`QueryError::BadRequest`]
/// when `from > to`.
pub fn consistency(
    store: &Store,
    origin: &Origin,
    from: u64,
    to: u64,
) -> Result<Proof, QueryError> {
    if from > to {
        return Err(QueryError::BadRequest(format!(
            "--from {from} is larger than --to {to}"
        )));
    }
    let hashes = store
        .consistency_proof(origin, from, to)
        .map_err(not_found)?;
    Ok(Proof::Consistency {
        origin: origin.clone(),
        old_size: from,
        old_root: Digest256(store.root_at(origin, from)?),
        tree_size: to,
        root: Digest256(store.root_at(origin, to)?),
        hashes: hashes.into_iter().map(Digest256).collect(),
        checkpoint: checkpoint_note(store, origin, to)?,
    })
}

fn checkpoint_note(
    store: &Store,
    origin: &Origin,
    size: u64,
) -> Result<Option<String>, QueryError> {
    Ok(store
        .checkpoint_at(origin, size)?
        .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned()))
}

fn not_found(e: StoreError) -> QueryError {
    match e {
        StoreError::OutOfRange { .. } | StoreError::UnknownLog(_) => {
            QueryError::NotFound(e.to_string())
        }
        other => QueryError::Store(other),
    }
}

/// The format of a roster document: what `concord roster export` writes,
/// `roster show --json` prints and `GET /v1/roster` serves, and what every
/// command that takes a roster accepts (as it does a single roster file).
pub const ROSTER_FORMAT: &str = "concord-roster-export/v1";

/// A roster document: the federation's roster files, genesis first,
/// canonical (PROTOCOL.md §7, base64), which a reader verifies as a chain,
/// with the members of the last for a person to read.
///
/// `files` are canonical roster files (see [`crate::home::Home::canonical_roster_files`]).
pub fn roster(roster: &Roster, files: &[Vec<u8>]) -> serde_json::Value {
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
    serde_json::json!({
        "format": ROSTER_FORMAT,
        "federation": roster.federation,
        "version": roster.version,
        "fingerprint": roster.fingerprint(),
        "members": members,
        "files": files.iter().map(|f| BASE64.encode(f)).collect::<Vec<_>>(),
    })
}
