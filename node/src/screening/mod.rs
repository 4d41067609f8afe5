//! Screening an application against the denials the store holds, as the
//! logs stood at their latest signed checkpoints, with what proves it
//! afterwards (PROTOCOL.md §11).
//!
//! Candidates come from the store's screening postings
//! ([`Store::screen_postings`]), selected by `concord_screening`'s rules
//! ([`concord_screening::candidates`]), and each is scored in the version
//! in force on the screened date: the latest amendment published by then,
//! unless a revocation was, and only while that version's validity runs.
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

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::Role;
use concord_protocol::entry::{Digest256, EntryHeader, WireEntry};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Date, Denial, Kind, Record};
use concord_screening::{
    Adjustment, Application, PartyMatch, Postings, PreparedApplication, PreparedDenial, Term,
};
use serde::{Deserialize, Serialize};

use crate::consultation::ConsultationView;
use crate::query::{Queries, QueryError, iso_utc};
use crate::store::{RESTRICTED_BILATERAL, RESTRICTED_MEMBERS, Store, StoreError};

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
    pub denial: Denial,
    pub prepared: PreparedDenial,
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
) -> Result<Option<Version>, StoreError> {
    let sizes = HashMap::from([(key.origin.clone(), store.head(&key.origin)?.size)]);
    Source::new(store, &sizes, at).load(key)
}

/// A candidate denial: its log's position in [`Source::origins`] and its
/// index. A query gathers thousands of postings; this is cheaper to gather
/// and rank than an [`EntryKey`], and ordered alike.
type Candidate = (usize, u64);

/// The store's postings, as the logs stood at the screened checkpoints,
/// admitting the denials in force on the screened date.
struct Source<'a> {
    store: &'a Store,
    sizes: &'a HashMap<Origin, u64>,
    /// The logs of `sizes`, sorted.
    origins: Vec<Origin>,
    at: Date,
    /// Loaded once per query: admitted, then scored.
    versions: RefCell<HashMap<EntryKey, Option<Rc<Version>>>>,
}

impl<'a> Source<'a> {
    fn new(store: &'a Store, sizes: &'a HashMap<Origin, u64>, at: Date) -> Self {
        let mut origins: Vec<Origin> = sizes.keys().cloned().collect();
        origins.sort_unstable();
        Source {
            store,
            sizes,
            origins,
            at,
            versions: RefCell::default(),
        }
    }

    fn entry_key(&self, (log, index): Candidate) -> EntryKey {
        EntryKey {
            origin: self.origins[log].clone(),
            index,
        }
    }

    /// The last second of the screened day: an entry published then or
    /// before counts.
    fn day_end(&self) -> u64 {
        u64::try_from(self.at.unix_days() * 86_400 + 86_399).unwrap_or(0)
    }

    fn header(&self, origin: &Origin, index: u64) -> Result<Option<EntryHeader>, StoreError> {
        let Some(entry) = self.store.entry(origin, index)? else {
            return Ok(None);
        };
        entry
            .decode_header()
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("entry {index} of {origin}: {e}")))
    }

    /// The denial's chain by the screened date (the denial, then its
    /// amendments) unless it was revoked by then; `None` if it is no
    /// denial in force then or past the screened checkpoint.
    fn chain(&self, key: &EntryKey) -> Result<Option<Vec<(u64, EntryHeader)>>, StoreError> {
        let size = self.sizes.get(&key.origin).copied().unwrap_or(0);
        if key.index >= size {
            return Ok(None);
        }
        let Some(header) = self.header(&key.origin, key.index)? else {
            return Ok(None);
        };
        if header.kind != Kind::Denial || header.time > self.day_end() {
            return Ok(None);
        }
        let mut chain = vec![(key.index, header)];
        let history = self
            .store
            .denial_status(&key.origin, key.index)?
            .map(|status| status.history)
            .unwrap_or_default();
        for index in history.into_iter().filter(|&i| i < size) {
            let Some(header) = self.header(&key.origin, index)? else {
                continue;
            };
            if header.time > self.day_end() {
                break;
            }
            match header.kind {
                Kind::DenialRevoke => return Ok(None),
                Kind::DenialAmend => chain.push((index, header)),
                _ => {}
            }
        }
        Ok(Some(chain))
    }

    fn version(&self, key: &EntryKey) -> Result<Option<Rc<Version>>, StoreError> {
        if let Some(known) = self.versions.borrow().get(key) {
            return Ok(known.clone());
        }
        let version = self.load(key)?.map(Rc::new);
        self.versions
            .borrow_mut()
            .insert(key.clone(), version.clone());
        Ok(version)
    }

    fn load(&self, key: &EntryKey) -> Result<Option<Version>, StoreError> {
        let Some(chain) = self.chain(key)? else {
            return Ok(None);
        };
        let (index, header) = chain.last().expect("a chain holds its denial");
        let Some(payload) = self.store.payload(&header.payload.sha256.0)? else {
            return Ok(None);
        };
        let denial = match Record::parse(header.kind, &payload) {
            Ok(Record::Denial(denial)) => denial,
            Ok(Record::DenialAmend(amend)) => amend.denial,
            _ => return Ok(None),
        };
        if !denial.in_force_on(self.at) {
            return Ok(None);
        }
        Ok(Some(Version {
            index: *index,
            chain: chain.iter().map(|(i, _)| *i).collect(),
            prepared: PreparedDenial::new(&denial),
            denial,
        }))
    }
}

impl Postings for Source<'_> {
    type Key = Candidate;
    type Error = StoreError;

    fn postings(&self, term: &Term, limit: usize) -> Result<Option<Vec<Candidate>>, StoreError> {
        let Some(by_log) = self.store.screen_postings_by_log(term.as_str(), limit)? else {
            return Ok(None);
        };
        // A log not screened (created since the query began) has no
        // position, and its denials none to be admitted by.
        Ok(Some(
            by_log
                .into_iter()
                .filter_map(|(origin, indexes)| {
                    let log = self.origins.binary_search(&origin).ok()?;
                    Some(indexes.into_iter().map(move |index| (log, index)))
                })
                .flatten()
                .collect(),
        ))
    }

    fn admits(&self, candidate: &Candidate) -> Result<bool, StoreError> {
        Ok(self.version(&self.entry_key(*candidate))?.is_some())
    }
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
        let Some(version) = source.version(&key)? else {
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
            Ok(HitView {
                denying_state: version.denial.denying_state,
                score: hit.score,
                explanation: Explanation {
                    parties: hit.parties,
                    adjustments: hit.adjustments,
                },
                current: Current {
                    index: version.index,
                    valid_until: version.denial.expires(),
                    denial: version.denial.clone(),
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
    let entry = store
        .entry(origin, index)?
        .ok_or_else(|| QueryError::NotFound(format!("{origin} has no entry {index}")))?;
    let header = entry
        .decode_header()
        .map_err(|e| StoreError::Corrupt(format!("entry {index} of {origin}: {e}")))?;
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
    let terms: &[&str] = match queries.me.role {
        Role::Member => &[RESTRICTED_BILATERAL],
        Role::Observer => &[RESTRICTED_BILATERAL, RESTRICTED_MEMBERS],
    };
    let mut by_log: BTreeMap<Origin, Vec<u64>> = BTreeMap::new();
    for term in terms {
        for (origin, index) in store.screen_postings(term, usize::MAX)?.unwrap_or_default() {
            let key = EntryKey { origin, index };
            let Some(chain) = source.chain(&key)? else {
                continue;
            };
            let readable = chain[0]
                .1
                .payload
                .visibility
                .may_read(queries.me.role, &queries.me.country);
            if !readable {
                by_log.entry(key.origin).or_default().push(key.index);
            }
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
