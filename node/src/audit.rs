//! `concord audit`: verifies a node's whole store, or an exported bundle,
//! offline, trusting nothing but the roster.
//!
//! For every log, in index order: each header decodes strictly, names its log
//! and its position, and carries a valid signature by the key the roster
//! authorises for that index (batch-verified on every core); amendments and
//! revocations point at an earlier denial of the same log, not revoked;
//! times never decrease and none is ahead of the auditor's clock beyond the
//! ledger's tolerance; a bilateral visibility names the member's own state
//! (these rules are `concord_protocol::ledger`'s); every payload held
//! matches its header's digest and size (and, with `--records`, validates as
//! its record kind and names no state but the member's where it names the
//! publisher, as a node checks before storing it); every purge
//! happened after the denial's validity ended. The tree is recomputed from
//! the leaves and every checkpoint must verify under the log's key, match
//! the recomputed root at its size, and carry only valid cosignatures by
//! known witnesses; the head claimed for the log must be the recomputed
//! root. Every equivocation proof held must verify, and is itself a
//! finding (`equivocation`, at the log and position it proves), as is every
//! log the store holds in quarantine (`quarantined`): a proven fork is
//! never clean. These two are evidence against a member, not damage to the
//! source ([`Finding::is_evidence`]): a bundle that carries a proof is
//! still imported, and the proof kept.
//!
//! [`LogAudit`] is the one engine; [`audit_store`] and
//! [`crate::bundle::audit_file`] feed it from their source. The command
//! that prints the report is in [`crate::cli`].

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::Roster;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{self, EntryHeader, SignedEntry};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup};
use concord_protocol::ledger::{self, Replay};
use concord_protocol::merkle::{Hash, RootBuilder};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Date, Kind, Record};
use serde::{Deserialize, Serialize};

use crate::parallel::InOrder;
pub use crate::progress::Progress;
use crate::store::{LogHead, Store, StoreError, StoredCheckpoint};

/// Entries read and verified at once.
pub const CHUNK: usize = 2048;

/// One problem, located.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    /// The log's origin, or `bundle` for the bundle's own framing.
    pub log: String,
    pub index: Option<u64>,
    /// 1-based line of a bundle; absent for a store.
    pub line: Option<u64>,
    /// A stable code: `bad_signature`, `root_mismatch`, ...
    /// (A `Cow` so that a report read back from a running node's API holds
    /// its codes too.)
    pub what: Cow<'static, str>,
    pub why: String,
}

/// The code of a valid equivocation proof held.
pub const EQUIVOCATION: &str = "equivocation";
/// The code of a log held in quarantine, the one `LedgerError::Quarantined`
/// has.
pub const QUARANTINED: &str = "quarantined";

impl Finding {
    /// Whether the finding is evidence that a member equivocated, found in a
    /// sound source, rather than a source that is damaged or forged.
    pub fn is_evidence(&self) -> bool {
        matches!(&*self.what, EQUIVOCATION | QUARANTINED)
    }
}

/// An equivocation proof a source holds, verified again with the roster
/// alone: `equivocation` at the log and position it proves, or
/// `evidence_invalid` at `held_at` (the log and index the source filed it
/// under) when it does not verify.
pub fn check_proof(
    proof: &EquivocationProof,
    roster: &Roster,
    held_at: (String, Option<u64>),
    line: Option<u64>,
) -> Finding {
    match proof.verify(roster) {
        Ok(found) => Finding {
            log: found.origin.to_string(),
            index: Some(found.position),
            line,
            what: EQUIVOCATION.into(),
            why: match proof {
                EquivocationProof::Entries { .. } => format!(
                    "a proof holds two different entries {} of the log, both signed by the key the roster authorises there",
                    found.position
                ),
                EquivocationProof::Checkpoints { .. } => format!(
                    "a proof holds two checkpoints of size {} of the log with different roots, both signed by its key",
                    found.position
                ),
            },
        },
        Err(e) => Finding {
            log: held_at.0,
            index: held_at.1,
            line,
            what: "evidence_invalid".into(),
            why: format!("an equivocation proof does not verify: {e}"),
        },
    }
}

/// What the audit saw of one log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogReport {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub checkpoints: usize,
    pub latest_checkpoint_size: Option<u64>,
    pub cosigners: Vec<String>,
    pub payloads_checked: u64,
}

/// The audit's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub verdict: Cow<'static, str>,
    pub source: String,
    /// Where the roster came from and which version it is.
    pub roster: String,
    /// Whether payloads were also validated as records (`--records`).
    pub records_validated: bool,
    pub logs: Vec<LogReport>,
    pub findings: Vec<Finding>,
    /// What the audit could not check, and why (a bundle of a format that
    /// leaves part of its content unsigned); not findings.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The findings that follow from an earlier one: a line missing from
    /// a bundle puts every later entry of its log out of place, a bundle
    /// of another federation fails every log. Each group names its cause
    /// and what follows (positions in `findings`); a finding in no group
    /// stands alone.
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// A finding and the findings that follow from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    pub cause: usize,
    pub follows: Vec<usize>,
}

/// Findings about the whole bundle after which nothing in it can be
/// trusted: every other finding follows from them.
const FATAL: [&str; 4] = [
    "not_a_bundle",
    "roster_invalid",
    "wrong_federation",
    "bundle_signature",
];

/// Groups `findings` (see [`Report::groups`]): everything under a fatal
/// finding of the bundle; else, per log, every later finding under the
/// log's first. Evidence of equivocation always stands alone: it proves
/// something of its own.
fn group(findings: &[Finding]) -> Vec<Group> {
    let stands_alone = Finding::is_evidence;
    if let Some(cause) = findings
        .iter()
        .position(|f| FATAL.contains(&f.what.as_ref()))
    {
        let follows: Vec<usize> = (0..findings.len())
            .filter(|&i| i != cause && !stands_alone(&findings[i]))
            .collect();
        return if follows.is_empty() {
            Vec::new()
        } else {
            vec![Group { cause, follows }]
        };
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut first_of_log: HashMap<&str, usize> = HashMap::new();
    for (i, finding) in findings.iter().enumerate() {
        if stands_alone(finding) {
            continue;
        }
        match first_of_log.get(finding.log.as_str()) {
            None => {
                first_of_log.insert(&finding.log, i);
            }
            Some(&cause) => match groups.iter_mut().find(|g| g.cause == cause) {
                Some(group) => group.follows.push(i),
                None => groups.push(Group {
                    cause,
                    follows: vec![i],
                }),
            },
        }
    }
    groups
}

impl Report {
    pub fn new(
        source: String,
        roster: String,
        records_validated: bool,
        logs: Vec<LogReport>,
        findings: Vec<Finding>,
    ) -> Self {
        Self {
            verdict: if findings.is_empty() {
                "clean".into()
            } else {
                "findings".into()
            },
            source,
            roster,
            records_validated,
            logs,
            groups: group(&findings),
            findings,
            notes: Vec::new(),
        }
    }
}

/// Why the roster or the store to audit could not be read; anything wrong
/// in what they hold is a finding, not an error.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading {path}: {why}")]
    Unreadable { path: String, why: String },
    #[error("{path}: {why}")]
    Roster { path: String, why: String },
    #[error("the store at {0} is held by the running node; stop the node first")]
    Held(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads and verifies a roster: a genesis roster file, or a roster
/// document (`roster export`, `roster show --json`) verified as a chain.
///
/// # Errors
/// [`SourceError`] naming the file.
pub fn read_roster(path: &Path) -> Result<Roster, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::Unreadable {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    crate::query::verify_roster(&bytes).map_err(|why| SourceError::Roster {
        path: path.display().to_string(),
        why,
    })
}

/// Opens a store no node holds.
///
/// # Errors
/// [`SourceError::Held`] when the running node holds it.
pub fn open_stopped(path: &Path) -> Result<Store, SourceError> {
    match Store::open_for_audit(path) {
        Ok(store) => Ok(store),
        Err(StoreError::Locked(path)) => Err(SourceError::Held(path)),
        Err(e) => Err(e.into()),
    }
}

/// What an audit of a node's store is asked: the options of `concord
/// audit --home`, and the body of the API's `POST /v1/audit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    /// Also validate every payload as a record of its kind.
    #[serde(default)]
    pub records: bool,
    /// A signed genesis roster to verify against instead of the node's.
    #[serde(default)]
    pub roster: Option<PinnedRoster>,
}

/// A roster file given to the auditor, with where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinnedRoster {
    /// Where the auditor read it, for the report.
    pub source: String,
    /// Base64 of a signed genesis roster file or of a roster document.
    pub file: String,
}

impl PinnedRoster {
    /// Reads the roster file at `path`.
    ///
    /// # Errors
    /// [`SourceError::Unreadable`] naming the file.
    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let bytes = std::fs::read(path).map_err(|e| SourceError::Unreadable {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        Ok(Self {
            source: path.display().to_string(),
            file: BASE64.encode(bytes),
        })
    }

    /// The roster, verified.
    ///
    /// # Errors
    /// [`SourceError::Roster`] when it is neither a signed genesis roster
    /// nor a roster document whose chain verifies.
    pub fn verify(&self) -> Result<Roster, SourceError> {
        let invalid = |why: String| SourceError::Roster {
            path: self.source.clone(),
            why,
        };
        let bytes = BASE64
            .decode(&self.file)
            .map_err(|e| invalid(format!("not base64: {e}")))?;
        crate::query::verify_roster(&bytes).map_err(invalid)
    }
}

/// Audits the store of a node as `request` asks: against the node's
/// `roster` (found in `home`) unless the request pins another; `source`
/// names the store in the report.
///
/// # Errors
/// As [`audit_store`], and [`SourceError::Roster`] for a pinned roster
/// that does not verify.
pub fn audit_node(
    store: &Store,
    (roster, home): (&Roster, &Path),
    source: &str,
    request: &AuditRequest,
    now: u64,
    progress: &Progress,
) -> Result<Report, SourceError> {
    let (pinned, roster_source) = match &request.roster {
        Some(pinned) => (Some(pinned.verify()?), pinned.source.clone()),
        None => (None, format!("home {}", home.display())),
    };
    Ok(audit_store(
        store,
        pinned.as_ref().unwrap_or(roster),
        source,
        &roster_source,
        request.records,
        now,
        progress,
    )?)
}

/// Audits every log of `store` against `roster`, by a clock that reads
/// `now`.
///
/// The store may be written meanwhile (a running node's): each log is
/// audited up to the head read when its turn comes, and read after its
/// checkpoints. A head is written in the batch that stores its entries and
/// hashes, a stored entry never changes, and a checkpoint is stored only
/// once the tree reached its size; so every log is audited as one state
/// it had (its entries, checkpoints and head), though two logs may be seen
/// at slightly different moments. Cosignatures that arrive meanwhile may or
/// may not be seen; evidence and quarantines are read last, so a fork
/// found during the audit is reported.
///
/// # Errors
/// [`StoreError`] when the store cannot be read at all; anything wrong in
/// what it holds is a finding, not an error.
pub fn audit_store(
    store: &Store,
    roster: &Roster,
    source: &str,
    roster_source: &str,
    records: bool,
    now: u64,
    progress: &Progress,
) -> Result<Report, StoreError> {
    let mut findings = Vec::new();
    let mut logs = Vec::new();
    for (origin, _) in store.logs()? {
        let mut log = LogAudit::new(roster, origin.clone(), now);
        for stored in store.checkpoints(&origin)? {
            log.add_checkpoint(stored, None);
        }
        let head = store.head(&origin)?;
        progress.start(origin.as_str(), head.size);
        // Each chunk's payloads and purges are read and its entries checked
        // on a thread of its own, about one per core, while this thread reads the
        // next chunk's entries and applies the oldest.
        let gap = std::thread::scope(|scope| -> Result<Option<u64>, StoreError> {
            let mut checking = InOrder::new(scope);
            let mut apply = |checked: Result<CheckedChunk, StoreError>| {
                let checked = checked?;
                progress.advance(checked.entries());
                log.apply(checked);
                Ok::<_, StoreError>(())
            };
            let mut start = 0;
            let mut gap = None;
            while start < head.size && gap.is_none() {
                let entries = store.entries(&origin, start, CHUNK as u64)?;
                let expected = (CHUNK as u64).min(head.size - start);
                let got = entries.len() as u64;
                let origin = &origin;
                if let Some(oldest) = checking.start(move || {
                    let items = store_items(store, origin, entries)?;
                    Ok(CheckedChunk::new(origin, roster, start, items, records))
                }) {
                    apply(oldest)?;
                }
                gap = (got < expected).then_some(start + got);
                start += expected;
            }
            while let Some(oldest) = checking.oldest() {
                apply(oldest)?;
            }
            Ok(gap)
        })?;
        if let Some(missing) = gap {
            log.find(
                Some(missing),
                None,
                "index_gap",
                format!("entry {missing} is missing below the head ({})", head.size),
            );
        }
        let (report, mut found) = log.finish(head, None);
        logs.push(report);
        findings.append(&mut found);
    }
    let evidence = store.evidence()?;
    for held in &evidence {
        findings.push(check_proof(
            &held.proof,
            roster,
            (held.origin.to_string(), Some(held.position)),
            None,
        ));
    }
    for quarantine in store.quarantines()? {
        // Located where the fork is, when a proof of it is held.
        let position = evidence
            .iter()
            .filter(|held| held.origin == quarantine.origin)
            .map(|held| held.position)
            .min();
        findings.push(Finding {
            log: quarantine.origin.to_string(),
            index: position,
            line: None,
            what: QUARANTINED.into(),
            why: format!(
                "the log is quarantined since {} ({}); nothing of it is accepted until an operator clears it",
                quarantine.since, quarantine.reason
            ),
        });
    }
    Ok(Report::new(
        source.to_owned(),
        format!("v{} ({roster_source})", roster.version),
        records,
        logs,
        findings,
    ))
}

/// The store's entries with their payloads and purge records, as items.
fn store_items(
    store: &Store,
    origin: &Origin,
    entries: Vec<SignedEntry>,
) -> Result<Vec<Item>, StoreError> {
    // A header that does not decode is the engine's finding; here it only
    // means there is no payload to look up.
    entries
        .into_iter()
        .map(|entry| {
            let Ok(header) = entry.decode_header() else {
                return Ok(Item::bare(entry));
            };
            let payload = store.payload(&header.payload.sha256.0)?;
            let purge = match (&payload, store.purge_record(origin, header.index)?) {
                (None, Some(purge)) => {
                    let denial = match header.refers_to {
                        Some(reference) => reference.index,
                        None => header.index,
                    };
                    Some(PurgeClaim {
                        purged_at: purge.purged_at,
                        valid_until: store
                            .denial_status(origin, denial)?
                            .and_then(|s| s.valid_until),
                    })
                }
                _ => None,
            };
            Ok(Item {
                entry,
                header: Some(header),
                payload,
                purge,
                line: None,
            })
        })
        .collect()
}

/// One entry as a source holds it.
pub struct Item {
    pub entry: SignedEntry,
    /// The entry's header when the source decoded it already (the store,
    /// to find the payload), so that the check does not decode it again.
    pub header: Option<EntryHeader>,
    pub payload: Option<Vec<u8>>,
    /// Why the payload is absent, when it was purged.
    pub purge: Option<PurgeClaim>,
    /// Where a bundle holds it.
    pub line: Option<u64>,
}

impl Item {
    fn bare(entry: SignedEntry) -> Self {
        Self {
            entry,
            header: None,
            payload: None,
            purge: None,
            line: None,
        }
    }
}

/// A record that an entry's payload was purged, and the validity of its
/// denial then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeClaim {
    pub purged_at: u64,
    pub valid_until: Option<String>,
}

/// What the parallel pass learnt of one entry.
struct Checked {
    header: Option<EntryHeader>,
    leaf: Hash,
    problems: Vec<(&'static str, String)>,
}

/// The running audit of one log: fed checkpoints first, then its entries in
/// index order, in chunks.
pub struct LogAudit<'a> {
    roster: &'a Roster,
    origin: Origin,
    /// The auditor's clock, which no entry's time may be ahead of.
    now: u64,
    builder: RootBuilder,
    /// The log so far, as the ledger's rules read it.
    replay: Replay,
    /// Checkpoints not yet reached, smallest first, with their line.
    checkpoints: VecDeque<(SignedCheckpoint, Option<u64>)>,
    n_checkpoints: usize,
    latest_checkpoint: Option<u64>,
    cosigners: Vec<String>,
    payloads_checked: u64,
    findings: Vec<Finding>,
}

impl<'a> LogAudit<'a> {
    pub fn new(roster: &'a Roster, origin: Origin, now: u64) -> Self {
        Self {
            roster,
            origin,
            now,
            builder: RootBuilder::default(),
            replay: Replay::default(),
            checkpoints: VecDeque::new(),
            n_checkpoints: 0,
            latest_checkpoint: None,
            cosigners: Vec::new(),
            payloads_checked: 0,
            findings: Vec::new(),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Entries audited so far.
    pub fn size(&self) -> u64 {
        self.builder.size()
    }

    pub fn find(&mut self, index: Option<u64>, line: Option<u64>, what: &'static str, why: String) {
        self.findings.push(Finding {
            log: self.origin.to_string(),
            index,
            line,
            what: what.into(),
            why,
        });
    }

    /// Adds a checkpoint to check when the tree reaches its size.
    pub fn add_checkpoint(&mut self, stored: StoredCheckpoint, line: Option<u64>) {
        let StoredCheckpoint { size, note } = stored;
        self.n_checkpoints += 1;
        self.latest_checkpoint = self.latest_checkpoint.max(Some(size));
        let note = match note {
            Ok(note) if note.checkpoint.size == size && note.checkpoint.origin == self.origin => {
                note
            }
            Ok(note) => {
                return self.find(
                    None,
                    line,
                    "checkpoint_misfiled",
                    format!(
                        "a checkpoint of {} size {} is filed under {} size {size}",
                        note.checkpoint.origin, note.checkpoint.size, self.origin
                    ),
                );
            }
            Err(e) => {
                return self.find(
                    None,
                    line,
                    "checkpoint_malformed",
                    format!("checkpoint of size {size} does not parse: {e}"),
                );
            }
        };
        if size < self.builder.size() {
            return self.find(
                None,
                line,
                "checkpoint_order",
                format!(
                    "checkpoint of size {size} comes after entry {}",
                    self.builder.size()
                ),
            );
        }
        let at = self
            .checkpoints
            .partition_point(|(c, _)| c.checkpoint.size <= size);
        self.checkpoints.insert(at, (note, line));
        self.check_checkpoints();
    }

    /// Takes in a chunk checked from [`LogAudit::size`]:
    /// the findings, references, purges, the tree and the checkpoints it
    /// reaches, in index order.
    pub fn apply(&mut self, chunk: CheckedChunk) {
        let CheckedChunk {
            start,
            items,
            checked,
        } = chunk;
        debug_assert_eq!(start, self.size(), "chunks are applied in order");
        for (offset, (item, checked)) in items.iter().zip(checked).enumerate() {
            let index = start + offset as u64;
            for (what, why) in checked.problems {
                self.find(Some(index), item.line, what, why);
            }
            if item.payload.is_some() && checked.header.is_some() {
                self.payloads_checked += 1;
            }
            if let Err(refused) = self
                .replay
                .push(checked.leaf, checked.header.as_ref(), self.now)
            {
                self.find(Some(index), item.line, refused.code(), refused.to_string());
            }
            if let (Some(header), Some(claim)) = (&checked.header, &item.purge) {
                self.check_purge(index, item.line, header, claim);
            }
            self.builder.push(checked.leaf);
            self.check_checkpoints();
        }
    }

    /// Ends the log: the claimed head must be what the entries make, and
    /// no checkpoint may lie beyond them.
    pub fn finish(mut self, claimed: LogHead, line: Option<u64>) -> (LogReport, Vec<Finding>) {
        if claimed.size != self.builder.size() {
            self.find(
                None,
                line,
                "size_mismatch",
                format!(
                    "the log claims {} entries but {} were found",
                    claimed.size,
                    self.builder.size()
                ),
            );
        } else if claimed.root != self.builder.root() {
            self.find(
                None,
                line,
                "root_mismatch",
                "the claimed head's root is not the root recomputed from the entries".into(),
            );
        }
        let beyond: Vec<_> = self.checkpoints.drain(..).collect();
        for (checkpoint, line) in beyond {
            self.find(
                None,
                line,
                "checkpoint_beyond_log",
                format!(
                    "a checkpoint of size {} lies beyond the log",
                    checkpoint.checkpoint.size
                ),
            );
        }
        let report = LogReport {
            origin: self.origin.to_string(),
            size: self.builder.size(),
            root: hex::encode(self.builder.root()),
            checkpoints: self.n_checkpoints,
            latest_checkpoint_size: self.latest_checkpoint,
            cosigners: self.cosigners,
            payloads_checked: self.payloads_checked,
        };
        (report, self.findings)
    }

    /// A purge is legitimate only for a denial's payloads, after the
    /// denial's validity ended.
    fn check_purge(
        &mut self,
        index: u64,
        line: Option<u64>,
        header: &EntryHeader,
        claim: &PurgeClaim,
    ) {
        if !matches!(
            header.kind,
            Kind::Denial | Kind::DenialAmend | Kind::DenialRevoke
        ) {
            return self.find(
                Some(index),
                line,
                "purge_not_retention",
                format!("a {} payload was purged", header.kind),
            );
        }
        let until = claim
            .valid_until
            .as_deref()
            .and_then(|d| Date::parse(d).ok());
        let purged_on = i64::try_from(claim.purged_at)
            .ok()
            .and_then(Date::from_unix_seconds);
        match (until, purged_on) {
            (Some(until), Some(on)) if until < on => {}
            (until, on) => self.find(
                Some(index),
                line,
                "purge_before_expiry",
                format!(
                    "payload purged on {} but the denial is valid until {}",
                    on.map_or_else(|| "an invalid date".into(), |d| d.to_string()),
                    until.map_or_else(|| "an unknown date".into(), |d| d.to_string())
                ),
            ),
        }
    }

    /// Checks every checkpoint whose size the recomputed tree reached.
    fn check_checkpoints(&mut self) {
        while self
            .checkpoints
            .front()
            .is_some_and(|(c, _)| c.checkpoint.size == self.builder.size())
        {
            let (checkpoint, line) = self.checkpoints.pop_front().expect("front was just seen");
            let size = checkpoint.checkpoint.size;
            if let Err(e) = checkpoint.verify(
                &self.origin,
                &self.roster.checkpoint_verifiers(&self.origin),
            ) {
                self.find(
                    None,
                    line,
                    "checkpoint_signature",
                    format!("checkpoint of size {size}: {e}"),
                );
            }
            if checkpoint.checkpoint.root != self.builder.root() {
                self.find(
                    None,
                    line,
                    "checkpoint_root",
                    format!("checkpoint of size {size} does not match the entries"),
                );
            }
            for witness in self.roster.witnesses(&self.origin) {
                match witness.verify(&checkpoint) {
                    Ok(Some(_)) if !self.cosigners.contains(&witness.name) => {
                        self.cosigners.push(witness.name.clone())
                    }
                    Ok(_) => {}
                    Err(e) => self.find(
                        None,
                        line,
                        "bad_cosignature",
                        format!("checkpoint of size {size}: {e}"),
                    ),
                }
            }
        }
    }
}

/// Entries of one log checked together, ready for [`LogAudit::apply`].
pub struct CheckedChunk {
    start: u64,
    items: Vec<Item>,
    checked: Vec<Checked>,
}

impl CheckedChunk {
    /// The checks of entries `start..` of `origin`'s log that need nothing
    /// but the entries and the roster, on the calling thread: pure, so that
    /// chunks can be checked side by side while the one before them is
    /// applied. With `records`, payloads are also validated as records.
    pub fn new(
        origin: &Origin,
        roster: &Roster,
        start: u64,
        mut items: Vec<Item>,
        records: bool,
    ) -> Self {
        let checked = check_items(origin, roster, start, &mut items, records);
        Self {
            start,
            items,
            checked,
        }
    }

    /// How many entries the chunk holds.
    pub fn entries(&self) -> u64 {
        self.items.len() as u64
    }

    /// The entries with their index, for what the source adds before
    /// [`LogAudit::apply`] (a bundle's purge records).
    pub fn items_mut(&mut self) -> impl Iterator<Item = (u64, &mut Item)> {
        (self.start..).zip(self.items.iter_mut())
    }
}

/// [`check_one`] of each of `items` (index `start` onwards), then their
/// signatures by the roster's keys in one batch; a failed batch is checked
/// entry by entry so that every bad one is named.
fn check_items(
    origin: &Origin,
    roster: &Roster,
    start: u64,
    items: &mut [Item],
    records: bool,
) -> Vec<Checked> {
    // An origin that is no member's log is found by the key lookups below.
    let country = ledger::publisher_country(roster, origin).ok();
    let mut checked: Vec<Checked> = (start..)
        .zip(items.iter_mut())
        .map(|(index, item)| check_one(origin, (roster, country.as_ref()), index, item, records))
        .collect();
    // (position in the chunk, problem) found by the key lookups and the batch.
    let mut found: Vec<(usize, &'static str, String)> = Vec::new();
    let mut batch = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (position, (item, c)) in items.iter().zip(&checked).enumerate() {
        let Some(header) = &c.header else {
            continue;
        };
        match ledger::authorised_key(roster, header) {
            Ok(key) => {
                batch.push((&item.entry, header, key));
                positions.push(position);
            }
            Err(refusal) => found.push((position, refusal.code(), refusal.to_string())),
        }
    }
    if entry::verify_batch(&batch).is_err() {
        for ((signed, header, key), &position) in batch.iter().zip(&positions) {
            if let Err(e) = signed.check_signature(header, key) {
                found.push((position, "bad_signature", e.to_string()));
            }
        }
    }
    for (position, what, why) in found {
        checked[position].problems.push((what, why));
    }
    checked
}

/// The checks of one entry that need nothing but the entry, the roster and
/// the country of its log's member (when the roster has one).
fn check_one(
    origin: &Origin,
    (roster, country): (&Roster, Option<&Country>),
    index: u64,
    item: &mut Item,
    records: bool,
) -> Checked {
    let leaf = item.entry.leaf_hash();
    let mut problems = Vec::new();
    let decoded = item
        .header
        .take()
        .map_or_else(|| item.entry.decode_header(), Ok);
    let header = match decoded {
        Ok(h) => match ledger::check_position(origin, index, &h) {
            Ok(()) => Some(h),
            Err(misplaced) => {
                problems.push((misplaced.code(), misplaced.to_string()));
                None
            }
        },
        Err(e) => {
            problems.push(("header_malformed", e.to_string()));
            None
        }
    };
    let mut record = None;
    if let (Some(header), Some(payload)) = (&header, &item.payload) {
        if let Err(e) = header.check_payload(payload) {
            problems.push(("payload_digest", e.to_string()));
        } else if records && header.kind != Kind::EquivocationProof {
            match Record::parse(header.kind, payload) {
                Ok(parsed) => record = Some(parsed),
                Err(e) => problems.push(("record_invalid", e.to_string())),
            }
        }
    }
    // The header's visibility is judged always, the record's states only
    // when records are validated.
    if let (Some(header), Some(country)) = (&header, country)
        && let Err(foreign) = ledger::check_names(country, header, record.as_ref())
    {
        problems.push((foreign.code(), foreign.to_string()));
    }
    // A request's denying state needs the roster only; the reply rules need
    // other logs, which an audit of one log at a time does not hold.
    if let Some(record) = &record
        && let Err(refused) = ledger::check_denying_state(roster, record)
    {
        problems.push((refused.code(), refused.to_string()));
    }
    Checked {
        header,
        leaf,
        problems,
    }
}
