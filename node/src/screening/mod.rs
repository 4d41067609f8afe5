//! Screening an application against the denials the store holds, as the
//! logs stood at their latest signed checkpoints, with what proves it
//! afterwards (PROTOCOL.md §11).
//!
//! Candidates come from the store's screening index
//! ([`Store::screen_postings`]), selected by `concord_screening`'s rules
//! ([`concord_screening::candidates`]), and each is scored in the version
//! in force on the screened date ([`Store::screen_version`]): the latest
//! amendment published by then, unless a revocation was, and only while
//! that version's validity runs.
//! Every log is screened up to its latest stored checkpoint, so that each
//! hit's entries come with inclusion proofs in a tree its member signed;
//! entries past that checkpoint are named in the result, not screened.
//!
//! A denial whose payload this node may not read has no terms here: the
//! result says that it exists and that its state must be consulted,
//! and nothing more ([`Restricted`]).

pub mod verify;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::entry::{Digest256, EntryHeader, SignedEntry, WireEntry};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Date, Denial};
use concord_screening::{
    Adjustment, Application, PartyMatch, Postings, PreparedApplication, PreparedDenial, Term,
};
use serde::{Deserialize, Serialize};

use crate::consultation::ConsultationView;
use crate::query::{Queries, QueryError, iso_utc};
use crate::store::{Store, StoreError};

/// The format of a saved result, in its `format` field.
pub const RESULT_FORMAT: &str = "concord-screening/v1";
/// Most applications in one batch request.
pub const MAX_BATCH: usize = 1000;

/// What an officer asks.
#[derive(Debug, Clone)]
pub struct Request {
    pub application: Application,
    /// The day whose denials in force are screened against (default: today).
    pub at: Option<Date>,
    /// Default [`concord_screening::DEFAULT_THRESHOLD`].
    pub threshold: Option<f64>,
}

/// A denial's entry.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EntryKey {
    #[schema(value_type = String)]
    pub origin: Origin,
    pub index: u64,
}

/// A screening result, saved and verified later by `concord
/// verify-screening`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningResult {
    pub format: String,
    /// When it was computed (UTC, ISO 8601).
    pub computed_at: String,
    /// The participant whose node computed it.
    pub node: String,
    /// The day whose denials in force were screened against.
    #[schema(value_type = String, format = Date)]
    pub at: Date,
    pub threshold: f64,
    #[schema(schema_with = crate::api::schema_ref::application)]
    pub application: Application,
    /// The roster files of the federation, oldest first, as bundles carry
    /// them (base64), so the result verifies without the node.
    pub rosters: Vec<String>,
    /// Every log screened, with the checkpoint it was screened at.
    pub logs: Vec<ScreenedLog>,
    /// Best first.
    pub hits: Vec<HitView>,
    /// Denials this node may not read, by state.
    pub restricted: Vec<Restricted>,
}

/// A log as screened.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenedLog {
    #[schema(value_type = String)]
    pub origin: Origin,
    /// The entries screened: the checkpoint's tree size (0 without one).
    pub size: u64,
    /// The signed checkpoint note of `size`, cosignatures included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Entries the store held past the checkpoint, not screened.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unscreened: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A denial the application met.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HitView {
    /// The denial's own entry.
    pub entry: EntryKey,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub denying_state: Country,
    pub score: f64,
    /// Which parties met and how, and what moved the score.
    #[schema(value_type = Object)]
    pub explanation: Explanation,
    /// The version scored: the entry holding it (the denial or its latest
    /// amendment by the screened date) and its record.
    pub current: Current,
    /// The denial and each amendment by the screened date, each with its
    /// inclusion proof in the log's screened checkpoint.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<ProvenEntry>,
    /// The consultations about the denial this node can read (its own
    /// state's, with the denying state), as they stood when screened; not
    /// part of what the result proves.
    #[serde(default)]
    pub consultations: Vec<ConsultationView>,
}

/// Why a denial was a hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// The best party match first.
    pub parties: Vec<PartyMatch>,
    /// Country, destination, items and further parties.
    pub adjustments: Vec<Adjustment>,
}

/// The version of a denial that was scored.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Current {
    pub index: u64,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    #[schema(schema_with = crate::api::schema_ref::denial)]
    pub denial: Denial,
}

/// One entry, verbatim, with its payload and its inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    pub index: u64,
    pub entry: WireEntry,
    /// The audit path to the screened checkpoint's root (hex).
    pub proof: Vec<Digest256>,
}

/// Denials of one state this node may not read.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Restricted {
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub state: Country,
    #[schema(value_type = String)]
    pub origin: Origin,
    /// Their entries, none revoked by the screened date.
    pub entries: Vec<u64>,
}

/// A denial in the version in force on the screened date.
pub(crate) struct Version {
    /// The entry holding it: the denial or its latest amendment.
    pub index: u64,
    /// The denial and its amendments by the screened date.
    pub chain: Vec<u64>,
    pub prepared: Arc<PreparedDenial>,
}

/// The denial of `key` in its version in force on `at`, over all the store
/// holds of its log (no checkpoint needed: nothing is proven here).
///
/// # Errors
/// [`StoreError`] on a read failure.
pub(crate) fn in_force(
    store: &Store,
    key: &EntryKey,
    at: Date,
) -> Result<Option<Rc<Version>>, StoreError> {
    let sizes = HashMap::from([(key.origin.clone(), store.head(&key.origin)?.size)]);
    let source = Source::new(store, &sizes, at);
    match source
        .logs
        .binary_search_by(|log| log.origin.cmp(&key.origin))
    {
        Ok(log) => source.version((log, key.index)),
        Err(_) => Ok(None),
    }
}

/// A candidate denial: its log's position in [`Source::logs`] and its
/// index. A query gathers thousands of postings; this is cheaper to gather
/// and rank than an [`EntryKey`], and ordered alike.
type Candidate = (usize, u64);

/// A log as screened.
struct Log {
    origin: Origin,
    /// The store's number of it.
    number: u32,
    /// The entries screened.
    size: u64,
}

/// The store's screening index, as the logs stood at the screened
/// checkpoints, admitting the denials in force on the screened date.
struct Source<'a> {
    store: &'a Store,
    /// The logs screened, by origin.
    logs: Vec<Log>,
    /// Positions in `logs` by the store's number of the log, if screened.
    positions: Vec<Option<usize>>,
    at: Date,
    /// Looked up once per query: admitted, then scored.
    versions: RefCell<HashMap<Candidate, Option<Rc<Version>>>>,
}

impl<'a> Source<'a> {
    fn new(store: &'a Store, sizes: &HashMap<Origin, u64>, at: Date) -> Self {
        let logs: Vec<Log> = store
            .screen_log_numbers()
            .into_iter()
            .filter_map(|(origin, number)| {
                let size = *sizes.get(&origin)?;
                Some(Log {
                    origin,
                    number,
                    size,
                })
            })
            .collect();
        let mut positions = Vec::new();
        for (position, log) in logs.iter().enumerate() {
            let number = log.number as usize;
            if positions.len() <= number {
                positions.resize(number + 1, None);
            }
            positions[number] = Some(position);
        }
        Source {
            store,
            logs,
            positions,
            at,
            versions: RefCell::default(),
        }
    }

    fn entry_key(&self, (log, index): Candidate) -> EntryKey {
        EntryKey {
            origin: self.logs[log].origin.clone(),
            index,
        }
    }

    /// The last second of the screened day: an entry published then or
    /// before counts.
    fn day_end(&self) -> u64 {
        u64::try_from(self.at.unix_days() * 86_400 + 86_399).unwrap_or(0)
    }

    /// The candidates of the store's postings, in the logs screened.
    fn candidates(&self, posted: Vec<(u32, u64)>) -> Vec<Candidate> {
        // A log not screened (created since the query began) has no
        // position, and its denials none to be admitted by.
        posted
            .into_iter()
            .filter_map(|(number, index)| {
                Some((self.positions.get(number as usize).copied()??, index))
            })
            .collect()
    }

    fn version(&self, candidate: Candidate) -> Result<Option<Rc<Version>>, StoreError> {
        if let Some(known) = self.versions.borrow().get(&candidate) {
            return Ok(known.clone());
        }
        let log = &self.logs[candidate.0];
        let version = self
            .store
            .screen_version(log.number, candidate.1, log.size, self.day_end(), self.at)?
            .map(|(chain, prepared)| {
                Rc::new(Version {
                    index: chain.current(),
                    chain: chain.entries,
                    prepared,
                })
            });
        self.versions
            .borrow_mut()
            .insert(candidate, version.clone());
        Ok(version)
    }
}

impl Postings for Source<'_> {
    type Key = Candidate;
    type Error = StoreError;

    fn postings(&self, term: &Term, limit: usize) -> Result<Option<Vec<Candidate>>, StoreError> {
        Ok(self
            .store
            .screen_postings(term, limit)?
            .map(|posted| self.candidates(posted)))
    }

    fn admits(&self, candidate: &Candidate) -> Result<bool, StoreError> {
        Ok(self.version(*candidate)?.is_some())
    }
}

/// The denial held by entry `index` of `origin`: a denial's or an
/// amendment's.
pub(crate) fn denial_of(store: &Store, origin: &Origin, index: u64) -> Result<Denial, QueryError> {
    store.held_denial(origin, index)?.ok_or_else(|| {
        QueryError::NotFound(format!(
            "the payload of entry {index} of {origin} is not held"
        ))
    })
}

/// Entry `index` of `origin`, with its header decoded.
fn entry_of(
    store: &Store,
    origin: &Origin,
    index: u64,
) -> Result<(SignedEntry, EntryHeader), QueryError> {
    let entry = store
        .entry(origin, index)?
        .ok_or_else(|| QueryError::NotFound(format!("{origin} has no entry {index}")))?;
    let header = entry
        .decode_header()
        .map_err(|e| StoreError::Corrupt(format!("entry {index} of {origin}: {e}")))?;
    Ok((entry, header))
}

/// Screens `request` against the store of `queries`, as of `now` (seconds
/// since the Unix epoch). A screening of today's denials is kept for the
/// alerts ([`crate::alerts`]).
///
/// # Errors
/// [`QueryError::BadRequest`] for a threshold outside 0–1, or a store error.
pub fn screen(
    queries: &Queries,
    request: &Request,
    now: u64,
) -> Result<ScreeningResult, QueryError> {
    let threshold = request
        .threshold
        .unwrap_or(concord_screening::DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(QueryError::BadRequest(format!(
            "threshold {threshold} is not between 0 and 1"
        )));
    }
    let at = match request.at {
        Some(at) => at,
        None => crate::query::today(now)?,
    };
    let store = &queries.store;
    let mut logs = Vec::new();
    let mut sizes = HashMap::new();
    for (origin, head) in store.logs()? {
        let checkpoint = store.checkpoint(&origin)?;
        let size = checkpoint.as_ref().map_or(0, |c| c.checkpoint.size);
        sizes.insert(origin.clone(), size);
        logs.push(ScreenedLog {
            checkpoint: checkpoint.map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned()),
            unscreened: head.size.saturating_sub(size),
            origin,
            size,
        });
    }
    let mut hits = hits_of(store, &sizes, at, &request.application, threshold)?;
    for hit in &mut hits {
        hit.consultations = queries.consultations_about(&hit.entry.origin, hit.entry.index)?;
    }
    let restricted = restricted(queries, &sizes, at)?;
    let result = ScreeningResult {
        format: RESULT_FORMAT.to_owned(),
        computed_at: iso_utc(now),
        node: queries.me.id.clone(),
        at,
        threshold,
        application: request.application.clone(),
        rosters: queries.rosters.iter().map(|f| BASE64.encode(f)).collect(),
        logs,
        hits,
        restricted,
    };
    // Today's screenings are screened again as denials arrive.
    if request.at.is_none() {
        crate::alerts::keep(store, &result, now)?;
    }
    Ok(result)
}

/// The hits of `application` in the logs cut at `sizes`, in force on `at`,
/// each with its proofs.
pub(crate) fn hits_of(
    store: &Store,
    sizes: &HashMap<Origin, u64>,
    at: Date,
    application: &Application,
    threshold: f64,
) -> Result<Vec<HitView>, QueryError> {
    let source = Source::new(store, sizes, at);
    let prepared = PreparedApplication::new(application);
    let mut hits = Vec::new();
    for candidate in concord_screening::candidates(&source, &prepared)? {
        let key = source.entry_key(candidate);
        let Some(version) = source.version(candidate)? else {
            continue;
        };
        if let Some(hit) = concord_screening::score_denial(&prepared, key, &version.prepared)
            && hit.score >= threshold
        {
            hits.push((hit, version));
        }
    }
    hits.sort_by(|x, y| {
        y.0.score
            .total_cmp(&x.0.score)
            .then_with(|| x.0.denial.cmp(&y.0.denial))
    });
    hits.into_iter()
        .map(|(hit, version)| {
            let size = sizes[&hit.denial.origin];
            let denial = denial_of(store, &hit.denial.origin, version.index)?;
            Ok(HitView {
                denying_state: denial.denying_state,
                score: hit.score,
                explanation: Explanation {
                    parties: hit.parties,
                    adjustments: hit.adjustments,
                },
                current: Current {
                    index: version.index,
                    valid_until: denial.expires(),
                    denial,
                },
                entries: version
                    .chain
                    .iter()
                    .map(|&index| proven(store, &hit.denial.origin, index, size))
                    .collect::<Result<_, _>>()?,
                entry: hit.denial,
                consultations: Vec::new(),
            })
        })
        .collect()
}

fn proven(
    store: &Store,
    origin: &Origin,
    index: u64,
    size: u64,
) -> Result<ProvenEntry, QueryError> {
    let (entry, header) = entry_of(store, origin, index)?;
    let payload = store.payload(&header.payload.sha256.0)?;
    Ok(ProvenEntry {
        index,
        entry: entry.to_wire(payload.as_deref()),
        proof: store
            .inclusion_proof(origin, index, size)?
            .into_iter()
            .map(Digest256)
            .collect(),
    })
}

/// The denials of `members` or `bilateral` visibility this node may not
/// read, not revoked by `at`, by log.
fn restricted(
    queries: &Queries,
    sizes: &HashMap<Origin, u64>,
    at: Date,
) -> Result<Vec<Restricted>, QueryError> {
    let store = &queries.store;
    let source = Source::new(store, sizes, at);
    let mut by_log: BTreeMap<Origin, Vec<u64>> = BTreeMap::new();
    for (log, index) in source.candidates(store.screen_restricted()?) {
        let Log {
            origin,
            number,
            size,
        } = &source.logs[log];
        if store
            .screen_chain(*number, index, *size, source.day_end())?
            .is_none()
        {
            continue;
        }
        let readable = entry_of(store, origin, index)?
            .1
            .payload
            .visibility
            .may_read(queries.me.role, &queries.me.country);
        if !readable {
            by_log.entry(origin.clone()).or_default().push(index);
        }
    }
    by_log
        .into_iter()
        .map(|(origin, mut entries)| {
            entries.sort_unstable();
            let state = concord_protocol::ledger::publisher_country(&*queries.roster, &origin)
                .map_err(|e| QueryError::NotFound(e.to_string()))?;
            Ok(Restricted {
                state,
                origin,
                entries,
            })
        })
        .collect()
}
