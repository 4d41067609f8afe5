//! Appending to logs: the own log (signed by its writer, `crate::publish`)
//! and replicas (verified here). Whether an entry may follow a log is
//! `concord_protocol::ledger`'s decision; this module reads the log's state
//! for it and stores what it allowed.
//!
//! Both paths stage every write of a group — entries, Merkle hashes, head,
//! status, indexes, payloads, checkpoint — into one sled batch, applied
//! atomically. Durability is the caller's flush, which must return before any
//! publish is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{self, EntryError, EntryHeader, EntryRef, SignedEntry};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup, KeyRefusal};
use concord_protocol::ledger::{self, DenialState, DenialStatus, LedgerError, LogState, Term};
use concord_protocol::merkle::{self, Hash, HashReader, MerkleError};
use concord_protocol::origin::Origin;
use concord_protocol::record::{IndexTerms, Kind, Record};

use super::keys::{self, IndexKind, log_item_key, log_key};
use super::query::{malformed_status_page, status_in_page};
use super::{LogHead, MAX_PENDING_PER_LOG, Store, StoreError, TreeReader, encode_entry, page};
use crate::parallel::{self, InOrder, par_map};

/// Where an appended entry landed, and what to gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub origin: Origin,
    pub index: u64,
    pub leaf_hash: Hash,
    pub entry: SignedEntry,
    pub header: EntryHeader,
    pub payload: Vec<u8>,
}

/// Why one entry of a group was not appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("payload does not validate: {0}")]
    Record(String),
    #[error(
        "log {0} is quarantined after equivocation; nothing of it is accepted until an operator clears it"
    )]
    Quarantined(Origin),
    #[error("entries {start}..{end} do not give the root of the signed checkpoint of size {size}")]
    CheckpointMismatch { start: u64, end: u64, size: u64 },
    #[error("entry {index} conflicts with the stored entry: equivocation")]
    Equivocation { index: u64 },
    #[error("too many entries are held ahead of a gap in {0}")]
    TooManyPending(Origin),
}

/// What a replica ingest did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub appended: u64,
    pub duplicates: u64,
    pub held: u64,
    pub payloads_filled: u64,
    pub rejected: Vec<(u64, Rejected)>,
    pub equivocations: Vec<EquivocationProof>,
}

/// What accepting a checkpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Matches the stored tree; stored (or merged into the stored one).
    Stored { new_cosignatures: usize },
    /// Already held, nothing new.
    Known,
    /// Ahead of the stored tree: kept as the target that sync must reach.
    Ahead { have: u64, want: u64 },
    /// Older than a stored one but consistent with the tree: nothing to do.
    Older,
    /// Signed, but not the stored tree's root at that size.
    Inconsistent {
        size: u64,
        proof: Option<EquivocationProof>,
    },
}

/// An entry as a caller hands it in: signed bytes, payload if carried.
type Item = (SignedEntry, Option<Vec<u8>>);

/// An entry decoded: signed bytes, header, payload if carried.
type RunItem = (SignedEntry, EntryHeader, Option<Vec<u8>>);

/// Entries to append in order from index `start` on: a whole call, or one
/// slice of it on its way through the pipeline.
struct Run {
    /// The index the first entry must have.
    start: u64,
    items: Vec<Item>,
    /// The items' headers in order, as far as they are known to be the
    /// log's next entries: decoded by the caller, or by the check.
    headers: Vec<EntryHeader>,
}

impl Run {
    /// The run cut into slices as long as [`slice_lengths`] says, in order.
    fn into_slices(self) -> impl Iterator<Item = Run> {
        let lengths = slice_lengths(self.items.len(), parallel::cores());
        let (mut items, mut headers) = (self.items.into_iter(), self.headers.into_iter());
        lengths.into_iter().scan(self.start, move |next, len| {
            let slice = Run {
                start: *next,
                items: items.by_ref().take(len).collect(),
                headers: headers.by_ref().take(len).collect(),
            };
            *next += len as u64;
            Some(slice)
        })
    }

    /// Decodes the headers still missing, up to the first entry that is not
    /// the log's next one (undecodable, of another log, another index),
    /// and checks the entries up to there; on a thread of its own.
    fn check(mut self, origin: &Origin, roster: &impl KeyLookup) -> Checked {
        let mut next = self.start + self.headers.len() as u64;
        for (signed, _) in &self.items[self.headers.len()..] {
            match signed.decode_header() {
                Ok(header) if ledger::check_position(origin, next, &header).is_ok() => {
                    self.headers.push(header);
                    next += 1;
                }
                _ => break,
            }
        }
        Checked {
            results: check_entries(roster, &self.items, &self.headers),
            run: self,
        }
    }
}

/// A slice of a run, checked: staged next, then dropped by the writer once
/// sled applied it.
struct Checked {
    run: Run,
    /// One result per entry checked, up to and including the first failure.
    results: Vec<Result<Option<IndexTerms>, Rejected>>,
}

/// Entries per slice of a run: one slice is one signature batch, which
/// costs less per entry the larger it is (a batch of 2,048 verifies about
/// a fifth faster per signature than one of 512).
const SLICE: usize = 2048;

/// Entries a commit group gathers, from whole slices, before it is sealed;
/// the run's last group may hold fewer. Each group rewrites its postings,
/// payloads, the log's head and last page once (about 2 ms of CPU with the
/// sample records), so the slices of a short run, one per core, go into
/// one group.
const GROUP: usize = SLICE;

/// The fewest entries a slice is cut to so that a short run still has a
/// slice for each core; fewer than this are not worth a thread.
const MIN_SLICE: usize = 64;

/// How long each slice of a run of `len` entries is: one per core at
/// least, at most [`SLICE`], all as long as the first but the last.
fn slice_lengths(len: usize, cores: usize) -> Vec<usize> {
    let full = len.div_ceil(cores).clamp(MIN_SLICE, SLICE);
    let mut lengths = vec![full; len / full];
    if !len.is_multiple_of(full) {
        lengths.push(len % full);
    }
    lengths
}

/// How appending a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
    /// Every entry went in.
    Complete,
    /// A bad entry stopped the run; what came before it went in.
    Stopped,
    /// An entry is not the log's next one; what came before it went in,
    /// and it and what follows are to be sorted.
    Unordered,
    /// The entries do not give the signed checkpoint's root; the groups
    /// sealed before the one that showed it went in, nothing of that one.
    Mismatch,
}

/// Stages one checked slice. Stops at the first bad entry, at the first
/// that is not the log's next one, and at a checkpoint target whose root
/// the entries do not give.
fn stage_slice(
    staging: &mut Staging<'_>,
    run_start: u64,
    slice: &Checked,
    target: &mut Option<SignedCheckpoint>,
    outcome: &mut IngestOutcome,
) -> Result<RunEnd, StoreError> {
    let Run { items, headers, .. } = &slice.run;
    let entries = items.iter().zip(headers).zip(&slice.results);
    for (((signed, payload), header), terms) in entries {
        let terms = match terms {
            Ok(terms) => terms,
            Err(rejected) => {
                outcome.rejected.push((header.index, rejected.clone()));
                return Ok(RunEnd::Stopped);
            }
        };
        if let Err(rejected) = ledger::check_follows(staging, header)? {
            outcome.rejected.push((header.index, rejected.into()));
            return Ok(RunEnd::Stopped);
        }
        staging.push(signed, header, payload.as_deref(), terms.as_ref())?;
        if let Some(cp) = target.take_if(|cp| cp.checkpoint.size == staging.size) {
            if staging.root()? != cp.checkpoint.root {
                outcome.rejected.push((
                    header.index,
                    Rejected::CheckpointMismatch {
                        start: run_start,
                        end: staging.size,
                        size: cp.checkpoint.size,
                    },
                ));
                return Ok(RunEnd::Mismatch);
            }
            staging.reached = Some(cp);
        }
    }
    if headers.len() < items.len() {
        Ok(RunEnd::Unordered)
    } else {
        Ok(RunEnd::Complete)
    }
}

/// Checks the entries of `items` that `headers` has, on the calling
/// thread, without the store: each entry's key in the roster, the
/// signatures in one batch, payload digests and records, and the records'
/// index terms. One result per entry, up to and including the first
/// failure.
fn check_entries(
    roster: &impl KeyLookup,
    items: &[Item],
    headers: &[EntryHeader],
) -> Vec<Result<Option<IndexTerms>, Rejected>> {
    let mut failure: Option<(usize, Rejected)> = None;
    let mut keyed = Vec::with_capacity(headers.len());
    for (offset, ((signed, _), header)) in items.iter().zip(headers).enumerate() {
        match ledger::authorised_key(roster, header) {
            Ok(key) => keyed.push((signed, header, key)),
            Err(refusal) => {
                failure = Some((offset, refusal.into()));
                break;
            }
        }
    }
    if let Err(e) = entry::verify_batch(&keyed) {
        let offset = match &e {
            EntryError::BadSignature { index, .. } | EntryError::WrongKey { index, .. } => {
                usize::try_from(index - headers[0].index).unwrap_or(0)
            }
            _ => 0,
        };
        failure = Some((offset, e.into()));
    }
    let valid = failure
        .as_ref()
        .map_or(headers.len(), |(offset, _)| *offset);
    let mut checked = Vec::with_capacity(valid + 1);
    for ((_, payload), header) in items.iter().zip(&headers[..valid]) {
        let result = match payload {
            Some(bytes) => {
                check_payload(header, bytes).map(|record| record.map(|r| r.index_terms()))
            }
            None => Ok(None),
        };
        let bad = result.is_err();
        checked.push(result);
        if bad {
            return checked;
        }
    }
    if let Some((_, rejected)) = failure {
        checked.push(Err(rejected));
    }
    checked
}

/// Hashes staged in this batch, in front of the stored ones.
struct Overlay<'a> {
    base: TreeReader<'a>,
    first_new: u64,
    new: Vec<Hash>,
}

impl HashReader for Overlay<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|idx| match idx.checked_sub(self.first_new) {
                Some(offset) => self
                    .new
                    .get(offset as usize)
                    .copied()
                    .ok_or(MerkleError::HashNotFound(*idx)),
                None => self.base.read_hashes(&[*idx]).map(|mut v| v.remove(0)),
            })
            .collect()
    }
}

/// One group of writes to one log, built up and then applied at once.
struct Staging<'a> {
    store: &'a Store,
    log_id: u32,
    size: u64,
    overlay: Overlay<'a>,
    batch: sled::Batch,
    /// Index postings of this group: one key per term, not per entry, so
    /// that terms shared by many entries (kinds, countries) cost one write.
    /// By index kind, then term.
    postings: BTreeMap<u8, BTreeMap<String, Vec<u64>>>,
    /// The checkpoint target this group reached, stored with it.
    reached: Option<SignedCheckpoint>,
    /// How many of the overlay's new hashes earlier groups sealed.
    sealed: usize,
    /// The records of the log's last page, which is not yet full.
    page: Vec<u8>,
    /// The status pages this run changed, as it left them: a group still
    /// being applied may hold them, so later groups (and later entries of
    /// this one) read statuses here.
    status_pages: HashMap<u64, Vec<u8>>,
    /// Which of them the group being staged changed.
    changed_pages: BTreeSet<u64>,
}

/// A sealed group: its batch, and the hashes it stores from index `first`
/// on, which the store caches once the batch is applied.
struct Sealed {
    batch: sled::Batch,
    first: u64,
    hashes: Vec<Hash>,
}

impl Sealed {
    fn apply(self, store: &Store, log_id: u32) -> Result<(), StoreError> {
        store.inner.data.apply_batch(self.batch)?;
        store.remember_hashes(log_id, self.first, self.hashes);
        Ok(())
    }
}

impl<'a> Staging<'a> {
    fn new(store: &'a Store, log_id: u32) -> Result<Self, StoreError> {
        let head = store.head_of(log_id)?;
        let (number, slot) = page::locate(head.size);
        let page = if slot == 0 {
            Vec::new()
        } else {
            let raw = store.inner.data.get(keys::entry_page_key(log_id, number))?;
            let raw = raw.filter(|raw| page::count(raw) == Ok(slot as u64));
            raw.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "entry page {number} of log {log_id} does not end at the head ({})",
                    head.size
                ))
            })?
            .to_vec()
        };
        Ok(Self {
            store,
            log_id,
            size: head.size,
            overlay: Overlay {
                base: store.hash_reader(log_id),
                first_new: merkle::stored_hash_count(head.size),
                new: Vec::new(),
            },
            batch: sled::Batch::default(),
            postings: BTreeMap::new(),
            reached: None,
            sealed: 0,
            page,
            status_pages: HashMap::new(),
            changed_pages: BTreeSet::new(),
        })
    }

    fn root(&self) -> Result<Hash, StoreError> {
        Ok(merkle::tree_hash(self.size, &self.overlay)?)
    }

    fn denial_status(&self, index: u64) -> Result<Option<DenialStatus>, StoreError> {
        let (number, slot) = page::locate(index);
        match self.status_pages.get(&number) {
            Some(page) => status_in_page(page, number, slot, self.log_id),
            None => self.store.status_by_id(self.log_id, index),
        }
    }

    /// Stages entry `self.size`, already verified, with what it indexes.
    fn push(
        &mut self,
        entry: &SignedEntry,
        header: &EntryHeader,
        payload: Option<&[u8]>,
        terms: Option<&IndexTerms>,
    ) -> Result<Hash, StoreError> {
        let index = self.size;
        let leaf = entry.leaf_hash();
        let new_hashes = merkle::stored_hashes_for_record(index, leaf, &self.overlay)?;
        page::push(&mut self.page, |record| {
            encode_entry(record, entry, &new_hashes);
        });
        let (number, slot) = page::locate(index);
        if slot as u64 == page::ENTRIES - 1 {
            self.batch.insert(
                &keys::entry_page_key(self.log_id, number)[..],
                std::mem::take(&mut self.page),
            );
        }
        self.overlay.new.extend(new_hashes);
        if let Some(payload) = payload {
            self.batch
                .insert(&keys::payload_key(&header.payload.sha256.0)[..], payload);
        }
        self.index(header, index, terms)?;
        self.size += 1;
        Ok(leaf)
    }

    fn index(
        &mut self,
        header: &EntryHeader,
        index: u64,
        terms: Option<&IndexTerms>,
    ) -> Result<(), StoreError> {
        ledger::postings(header.kind, terms, |term, text| {
            let kind = match term {
                Term::Kind => IndexKind::Kind,
                Term::Party => IndexKind::Party,
                Term::Country => IndexKind::Country,
                Term::ControlEntry => IndexKind::ControlEntry,
                Term::HsCode => IndexKind::HsCode,
            };
            self.post(kind, text, index);
        });
        let update =
            ledger::denial_update(header, index, terms, |denial| self.denial_status(denial))?;
        if let Some((denial, status)) = update {
            self.set_status(denial, status)?;
        }
        Ok(())
    }

    /// Adds `index` to the postings of `term`; written once per group. A
    /// term the group has already is looked up, not copied.
    fn post(&mut self, kind: IndexKind, term: &str, index: u64) {
        let terms = self.postings.entry(kind as u8).or_default();
        let list = match terms.get_mut(term) {
            Some(list) => list,
            None => terms.entry(term.to_owned()).or_default(),
        };
        if list.last() != Some(&index) {
            list.push(index);
        }
    }

    fn set_status(&mut self, index: u64, status: DenialStatus) -> Result<(), StoreError> {
        let json = serde_json::to_vec(&status).expect("a status holds only strings and integers");
        let (number, slot) = page::locate(index);
        let mut page = match self.status_pages.remove(&number) {
            Some(page) => page,
            None => {
                let key = keys::status_page_key(self.log_id, number);
                let stored = self.store.inner.data.get(key)?;
                stored.map(|raw| raw.to_vec()).unwrap_or_default()
            }
        };
        page::set_record(&mut page, slot, &json)
            .map_err(|_| malformed_status_page(number, self.log_id))?;
        self.status_pages.insert(number, page);
        self.changed_pages.insert(number);
        Ok(())
    }

    /// Finishes the group staged so far: its postings, the new head and, if
    /// given, the checkpoint it reaches go into its batch, which is handed
    /// out for applying with the hashes the group stores. Staged hashes and
    /// statuses stay readable, so the next group can be staged before this
    /// one is applied.
    fn seal(&mut self, checkpoint: Option<&SignedCheckpoint>) -> Result<Sealed, StoreError> {
        let root = self.root()?;
        for number in std::mem::take(&mut self.changed_pages) {
            self.batch.insert(
                &keys::status_page_key(self.log_id, number)[..],
                self.status_pages[&number].clone(),
            );
        }
        for (kind, terms) in std::mem::take(&mut self.postings) {
            for (term, indexes) in terms {
                let first = indexes[0];
                let value: Vec<u8> = indexes.iter().flat_map(|i| i.to_be_bytes()).collect();
                self.batch
                    .insert(keys::index_key(kind, &term, self.log_id, first), value);
            }
        }
        if !self.page.is_empty() {
            // Rewritten whole by each group until it is full.
            let (number, _) = page::locate(self.size - 1);
            self.batch.insert(
                &keys::entry_page_key(self.log_id, number)[..],
                self.page.clone(),
            );
        }
        let head = LogHead {
            size: self.size,
            root,
        };
        self.batch
            .insert(&log_key(keys::HEAD, self.log_id)[..], &head.encode()[..]);
        if let Some(checkpoint) = checkpoint {
            self.batch.insert(
                &log_item_key(keys::CHECKPOINT, self.log_id, checkpoint.checkpoint.size),
                checkpoint.to_bytes(),
            );
        }
        let first = self.overlay.first_new + self.sealed as u64;
        let hashes = self.overlay.new[self.sealed..].to_vec();
        self.sealed = self.overlay.new.len();
        Ok(Sealed {
            batch: std::mem::take(&mut self.batch),
            first,
            hashes,
        })
    }

    /// Seals the group and applies it atomically.
    fn commit(mut self, checkpoint: Option<&SignedCheckpoint>) -> Result<(), StoreError> {
        self.seal(checkpoint)?.apply(self.store, self.log_id)
    }
}

/// The log as staged so far, for the ledger's rules.
impl LogState for Staging<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, StoreError> {
        let leaf = self
            .overlay
            .read_hashes(&[merkle::stored_hash_index(0, index)])?;
        Ok(leaf[0])
    }

    fn denial_state(&self, index: u64) -> Result<Option<DenialState>, StoreError> {
        Ok(self.denial_status(index)?.map(|status| status.state))
    }
}

/// A group of entries being appended to the node's own log, which its
/// writer signs: the store checks each against the log's state by the
/// ledger's rules, stages it, and gives the root of the new tree for the
/// writer to sign; [`OwnGroup::commit`] stores the group and that
/// checkpoint in one batch. The log stays locked until then.
pub struct OwnGroup<'a> {
    staging: Staging<'a>,
    origin: Origin,
    _write: std::sync::MutexGuard<'a, ()>,
}

impl OwnGroup<'_> {
    /// The index the next entry must have.
    pub fn next_index(&self) -> u64 {
        self.staging.size
    }

    /// The reference an entry of `kind` appended next makes to entry
    /// `index` of the log, if the ledger allows it.
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be read.
    pub fn refer_to(
        &self,
        kind: Kind,
        index: u64,
    ) -> Result<Result<EntryRef, Rejected>, StoreError> {
        Ok(ledger::refer_to(&self.staging, kind, index)?.map_err(Rejected::from))
    }

    /// Stages `entry`, signed by the writer, with its `payload` and the index
    /// terms of its record, if it may follow the log as staged so far.
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be read.
    pub fn push(
        &mut self,
        entry: SignedEntry,
        payload: Vec<u8>,
        terms: &IndexTerms,
    ) -> Result<Result<AppendOutcome, Rejected>, StoreError> {
        let header = match entry.decode_header() {
            Ok(header) => header,
            Err(e) => return Ok(Err(e.into())),
        };
        let index = self.staging.size;
        if let Err(rejected) = ledger::check_position(&self.origin, index, &header) {
            return Ok(Err(rejected.into()));
        }
        if let Err(rejected) = ledger::check_follows(&self.staging, &header)? {
            return Ok(Err(rejected.into()));
        }
        let leaf_hash = self
            .staging
            .push(&entry, &header, Some(&payload), Some(terms))?;
        Ok(Ok(AppendOutcome {
            origin: self.origin.clone(),
            index,
            leaf_hash,
            entry,
            header,
            payload,
        }))
    }

    /// The checkpoint of the tree staged so far, for the writer to sign.
    ///
    /// # Errors
    /// [`StoreError`] when the stored hashes cannot be read.
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        Ok(Checkpoint::new(
            self.origin.clone(),
            self.staging.size,
            self.staging.root()?,
        ))
    }

    /// Applies the group with `checkpoint`, the writer's signature of
    /// [`OwnGroup::checkpoint`], atomically. The caller must [`Store::flush`]
    /// before acknowledging any entry or announcing the checkpoint.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written, or `checkpoint` is
    /// not of the staged tree; nothing is applied.
    pub fn commit(self, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        let staged = self.checkpoint()?;
        if checkpoint.checkpoint != staged {
            return Err(StoreError::CheckpointNotStaged {
                size: checkpoint.checkpoint.size,
                staged: staged.size,
            });
        }
        self.staging.commit(Some(checkpoint))
    }
}

impl Store {
    /// Opens a group of entries to append to the node's own log, `origin`.
    ///
    /// # Errors
    /// [`StoreError`] when the log's head cannot be read.
    pub fn own_group(&self, origin: &Origin) -> Result<OwnGroup<'_>, StoreError> {
        let log_id = self.ensure_log_id(origin)?;
        let write = self.lock_log(log_id);
        Ok(OwnGroup {
            staging: Staging::new(self, log_id)?,
            origin: origin.clone(),
            _write: write,
        })
    }

    /// Verifies and appends entries of another member's log, in any order and
    /// with duplicates. An entry is stored only after its signature by the key
    /// the roster authorises for its index verified, its payload (if sent)
    /// matched the header, and the tree it extends matched any signed
    /// checkpoint held for that size. Entries past a gap are held aside until
    /// the gap fills; the entries that follow a bad one in order are dropped
    /// until they are sent again.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read or written.
    pub fn ingest(
        &self,
        origin: &Origin,
        items: Vec<(SignedEntry, Option<Vec<u8>>)>,
        roster: &(impl KeyLookup + Sync),
    ) -> Result<IngestOutcome, StoreError> {
        let mut outcome = IngestOutcome::default();
        if self.quarantined(origin)?.is_some() {
            outcome.rejected = items
                .iter()
                .map(|_| (0, Rejected::Quarantined(origin.clone())))
                .collect();
            return Ok(outcome);
        }
        let log_id = self.ensure_log_id(origin)?;
        let _write = self.lock_log(log_id);
        // A sync range or a gossiped entry comes in order from the head: it
        // goes straight into the pipeline, each header decoded on the thread
        // that checks its slice. What follows the first entry that is not
        // the log's next one is sorted first.
        let in_order = Run {
            start: self.head_of(log_id)?.size,
            items,
            headers: Vec::new(),
        };
        let (end, items) = self.append_run(log_id, origin, in_order, roster, &mut outcome)?;
        if matches!(end, RunEnd::Stopped | RunEnd::Mismatch) {
            // What follows a bad entry is dropped until it is sent again.
            return Ok(outcome);
        }

        // Decode, and split by position against the stored head.
        let head = self.head_of(log_id)?;
        let mut ahead: BTreeMap<u64, RunItem> = BTreeMap::new();
        let headers = par_map(&items, |(signed, _)| signed.decode_header());
        for ((signed, payload), header) in items.into_iter().zip(headers) {
            let header = match header {
                Ok(h) => h,
                Err(e) => {
                    outcome.rejected.push((0, e.into()));
                    continue;
                }
            };
            // Only the log matters here: an entry off the head is a replay or
            // held until the gap before it fills.
            if let Err(wrong @ LedgerError::WrongLog { .. }) =
                ledger::check_position(origin, head.size, &header)
            {
                outcome.rejected.push((header.index, wrong.into()));
            } else if header.index < head.size {
                self.check_stored(log_id, signed, header, payload, roster, &mut outcome)?;
            } else {
                ahead.insert(header.index, (signed, header, payload));
            }
        }
        self.take_pending(log_id, head.size, &mut ahead)?;
        let mut sorted = Run {
            start: head.size,
            items: Vec::new(),
            headers: Vec::new(),
        };
        let mut next = head.size;
        while let Some((signed, header, payload)) = ahead.remove(&next) {
            sorted.items.push((signed, payload));
            sorted.headers.push(header);
            next += 1;
        }
        let (end, _) = self.append_run(log_id, origin, sorted, roster, &mut outcome)?;
        if end == RunEnd::Mismatch {
            return Ok(outcome);
        }
        // Keep what is still ahead of a gap, verified later when it fills.
        outcome.held = self.hold_pending(log_id, origin, ahead, &mut outcome.rejected)?;
        Ok(outcome)
    }

    /// Appends `run` up to its first bad entry or the first that is not the
    /// log's next. Returns how the run ended, and for [`RunEnd::Unordered`]
    /// the entries from the one that is not the next on.
    ///
    /// The run goes in slices of at most [`SLICE`] entries, staged in order
    /// into groups of at least [`GROUP`] entries (the last may hold fewer),
    /// each sealed as if the caller had ingested it alone and applied by a
    /// writer thread in order. Three things overlap: checking the slices
    /// ahead, each whole on a thread of its own (one more than there are
    /// cores, so that a core whose check ended early takes the next), staging
    /// this one, and sled applying the last group. A whole slice to a thread
    /// keeps signature batches large and the cores evenly loaded.
    fn append_run(
        &self,
        log_id: u32,
        origin: &Origin,
        run: Run,
        roster: &(impl KeyLookup + Sync),
        outcome: &mut IngestOutcome,
    ) -> Result<(RunEnd, Vec<Item>), StoreError> {
        let start = run.start;
        if run.items.is_empty() {
            return Ok((RunEnd::Complete, run.items));
        }
        let mut target = self.target_by_id(log_id)?;
        // A target at or below the head was reached by an earlier append; it
        // must still be the stored tree's root.
        if let Some(cp) = target.take_if(|cp| cp.checkpoint.size <= start)
            && merkle::tree_hash(cp.checkpoint.size, &self.hash_reader(log_id))?
                != cp.checkpoint.root
        {
            outcome.rejected.push((
                cp.checkpoint.size,
                Rejected::CheckpointMismatch {
                    start,
                    end: start,
                    size: cp.checkpoint.size,
                },
            ));
            return Ok((RunEnd::Mismatch, Vec::new()));
        }
        let mut slices = run.into_slices().peekable();
        std::thread::scope(|scope| {
            let (groups, applied) = std::sync::mpsc::sync_channel::<(Sealed, Vec<Checked>)>(1);
            let writer = scope.spawn(move || -> Result<(), StoreError> {
                // The slices go with their group so that freeing them is
                // the writer's work, not the stager's.
                for (sealed, _slices) in applied {
                    sealed.apply(self, log_id)?;
                }
                Ok(())
            });
            let mut staging = Staging::new(self, log_id)?;
            let mut checks = InOrder::new(scope);
            let mut end = RunEnd::Complete;
            let mut unordered = Vec::new();
            let mut group_start = staging.size;
            let mut in_group = Vec::new();
            loop {
                let checked = loop {
                    let Some(slice) = slices.next() else {
                        break checks.oldest();
                    };
                    if let Some(done) = checks.start(move || slice.check(origin, roster)) {
                        break Some(done);
                    }
                };
                let Some(mut slice) = checked else {
                    break;
                };
                end = stage_slice(&mut staging, start, &slice, &mut target, outcome)?;
                if end == RunEnd::Mismatch {
                    break;
                }
                if end == RunEnd::Unordered {
                    let run = &mut slice.run;
                    unordered = run.items.split_off(run.headers.len());
                }
                in_group.push(slice);
                // Nothing more will be staged: the group is sealed however
                // short it is.
                let last = end != RunEnd::Complete || slices.peek().is_none() && checks.is_idle();
                let staged = staging.size - group_start;
                if staged >= GROUP as u64 || last && staged > 0 {
                    let reached = staging.reached.take();
                    let mut sealed = staging.seal(reached.as_ref())?;
                    if reached.is_some() {
                        sealed.batch.remove(&log_key(keys::TARGET, log_id)[..]);
                    }
                    if groups
                        .send((sealed, std::mem::take(&mut in_group)))
                        .is_err()
                    {
                        // The writer stopped on an error, returned below.
                        break;
                    }
                    outcome.appended += staged;
                    group_start = staging.size;
                }
                if end != RunEnd::Complete {
                    break;
                }
            }
            if end == RunEnd::Unordered {
                while let Some(slice) = checks.oldest() {
                    unordered.extend(slice.run.items);
                }
                unordered.extend(slices.flat_map(|slice| slice.items));
            }
            drop(groups);
            writer.join().expect("the store's writer does not panic")?;
            Ok((end, unordered))
        })
    }

    /// An entry for an index already stored: a replay, or evidence.
    fn check_stored(
        &self,
        log_id: u32,
        signed: SignedEntry,
        header: EntryHeader,
        payload: Option<Vec<u8>>,
        roster: &impl KeyLookup,
        outcome: &mut IngestOutcome,
    ) -> Result<(), StoreError> {
        let stored = self.entry_by_id(log_id, header.index)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "entry {} of {} is missing below the head",
                header.index, header.origin
            ))
        })?;
        if stored.header_bytes == signed.header_bytes {
            outcome.duplicates += 1;
            // A replay may carry a payload this node lacked (it first saw the
            // header alone); the header's digest decides whether it is kept.
            if let Some(payload) = payload
                && header.check_payload(&payload).is_ok()
                && self.payload(&header.payload.sha256.0)?.is_none()
                && self.purge_record_by_id(log_id, header.index)?.is_none()
            {
                self.inner
                    .data
                    .insert(keys::payload_key(&header.payload.sha256.0), payload)?;
                outcome.payloads_filled += 1;
            }
            return Ok(());
        }
        let verdict = ledger::authorised_key(roster, &header)
            .map_err(Rejected::from)
            .and_then(|key| {
                signed
                    .check_signature(&header, &key)
                    .map_err(Rejected::from)
            });
        match verdict {
            Err(rejected) => outcome.rejected.push((header.index, rejected)),
            Ok(()) => {
                let proof = EquivocationProof::Entries {
                    a: stored.to_wire(None),
                    b: signed.to_wire(None),
                };
                outcome.rejected.push((
                    header.index,
                    Rejected::Equivocation {
                        index: header.index,
                    },
                ));
                outcome.equivocations.push(proof);
            }
        }
        Ok(())
    }

    fn take_pending(
        &self,
        log_id: u32,
        from: u64,
        ahead: &mut BTreeMap<u64, RunItem>,
    ) -> Result<(), StoreError> {
        let mut next = from;
        loop {
            if ahead.contains_key(&next) {
                next += 1;
                continue;
            }
            let key = log_item_key(b'p', log_id, next);
            let Some(raw) = self.inner.pending.remove(key)? else {
                break;
            };
            if let Some((signed, payload)) = decode_pending(&raw)
                && let Ok(header) = signed.decode_header()
            {
                ahead.insert(next, (signed, header, payload));
                next += 1;
            } else {
                break;
            }
        }
        // Anything below the head left in pending is stale.
        let stale: Vec<_> = self
            .inner
            .pending
            .range(log_item_key(b'p', log_id, 0)..log_item_key(b'p', log_id, from))
            .keys()
            .collect::<Result<_, _>>()?;
        for key in stale {
            self.inner.pending.remove(key)?;
        }
        Ok(())
    }

    fn hold_pending(
        &self,
        log_id: u32,
        origin: &Origin,
        ahead: BTreeMap<u64, RunItem>,
        rejected: &mut Vec<(u64, Rejected)>,
    ) -> Result<u64, StoreError> {
        let prefix = log_key(b'p', log_id);
        let mut n_pending = self.inner.pending.scan_prefix(prefix).count();
        let mut held = 0;
        for (index, (signed, _, payload)) in ahead {
            if n_pending >= MAX_PENDING_PER_LOG {
                rejected.push((index, Rejected::TooManyPending(origin.clone())));
                continue;
            }
            if self
                .inner
                .pending
                .insert(
                    log_item_key(b'p', log_id, index),
                    encode_pending(&signed, payload.as_deref()),
                )?
                .is_none()
            {
                n_pending += 1;
            }
            held += 1;
        }
        Ok(held)
    }

    fn target_by_id(&self, log_id: u32) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self.inner.data.get(log_key(keys::TARGET, log_id))? {
            None => Ok(None),
            Some(raw) => SignedCheckpoint::parse(&raw)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("sync target of log {log_id}: {e}"))),
        }
    }

    /// The verified checkpoint ahead of the stored tree that sync must reach.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn target(&self, origin: &Origin) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self.log_id(origin) {
            Some(id) => self.target_by_id(id),
            None => Ok(None),
        }
    }

    /// Takes in a signed checkpoint of another log (or of ours, from a
    /// witness): checks its signature and its consistency with the stored tree,
    /// merges cosignatures by known witnesses, and keeps it.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure; a bad signature is
    /// `Ok(Err(..))`-free: it comes back as [`Rejected`].
    pub fn accept_checkpoint(
        &self,
        note: &[u8],
        roster: &impl KeyLookup,
    ) -> Result<Result<CheckpointOutcome, Rejected>, StoreError> {
        let signed = match SignedCheckpoint::parse(note) {
            Ok(s) => s,
            Err(e) => return Ok(Err(Rejected::Record(format!("checkpoint: {e}")))),
        };
        let origin = signed.checkpoint.origin.clone();
        // Only members have logs: an observer's "checkpoint" is refused like
        // its entries are.
        if let Err(refusal @ (KeyRefusal::Observer(_) | KeyRefusal::UnknownOrigin(_))) =
            roster.entry_key(&origin, signed.checkpoint.size.saturating_sub(1))
        {
            return Ok(Err(LedgerError::from(refusal).into()));
        }
        // The same note again (anti-entropy repeats them every round): it
        // was verified when stored.
        if let Some(log_id) = self.log_id(&origin)
            && self
                .inner
                .data
                .get(log_item_key(
                    keys::CHECKPOINT,
                    log_id,
                    signed.checkpoint.size,
                ))?
                .is_some_and(|raw| raw == note)
        {
            return Ok(Ok(CheckpointOutcome::Known));
        }
        let verifiers = roster.checkpoint_verifiers(&origin);
        if let Err(e) = signed.verify(&origin, &verifiers) {
            return Ok(Err(Rejected::Record(format!(
                "checkpoint of {origin}: {e}"
            ))));
        }
        if self.quarantined(&origin)?.is_some() {
            return Ok(Err(Rejected::Quarantined(origin)));
        }
        let log_id = self.ensure_log_id(&origin)?;
        let _write = self.lock_log(log_id);
        let head = self.head_of(log_id)?;
        let size = signed.checkpoint.size;
        let witnesses = roster.witnesses();
        let same_size_key = log_item_key(keys::CHECKPOINT, log_id, size);
        if let Some(raw) = self.inner.data.get(same_size_key)?
            && let Ok(mut stored) = SignedCheckpoint::parse(&raw)
        {
            if stored.checkpoint.root != signed.checkpoint.root {
                let proof = EquivocationProof::Checkpoints {
                    a: String::from_utf8_lossy(&stored.to_bytes()).into_owned(),
                    b: String::from_utf8_lossy(note).into_owned(),
                };
                return Ok(Ok(CheckpointOutcome::Inconsistent {
                    size,
                    proof: Some(proof),
                }));
            }
            let added = merge_cosignatures(&mut stored, &signed, &witnesses);
            if added == 0 {
                return Ok(Ok(CheckpointOutcome::Known));
            }
            self.inner.data.insert(same_size_key, stored.to_bytes())?;
            return Ok(Ok(CheckpointOutcome::Stored {
                new_cosignatures: added,
            }));
        }
        if size <= head.size {
            let root = merkle::tree_hash(size, &self.hash_reader(log_id))?;
            if root != signed.checkpoint.root {
                return Ok(Ok(CheckpointOutcome::Inconsistent { size, proof: None }));
            }
            let latest = self
                .checkpoint_by_id(log_id)?
                .map_or(0, |c| c.checkpoint.size);
            if size < latest {
                return Ok(Ok(CheckpointOutcome::Older));
            }
            let mut clean = SignedCheckpoint {
                checkpoint: signed.checkpoint.clone(),
                note: signed.note.clone(),
            };
            keep_known_signatures(&mut clean, &verifiers, &witnesses);
            self.inner.data.insert(same_size_key, clean.to_bytes())?;
            let cosignatures = clean.note.signatures().len().saturating_sub(1);
            return Ok(Ok(CheckpointOutcome::Stored {
                new_cosignatures: cosignatures,
            }));
        }
        // Ahead of us: remember the largest as the target to sync towards.
        match self.target_by_id(log_id)? {
            Some(target)
                if target.checkpoint.size == size
                    && target.checkpoint.root != signed.checkpoint.root =>
            {
                let proof = EquivocationProof::Checkpoints {
                    a: String::from_utf8_lossy(&target.to_bytes()).into_owned(),
                    b: String::from_utf8_lossy(note).into_owned(),
                };
                Ok(Ok(CheckpointOutcome::Inconsistent {
                    size,
                    proof: Some(proof),
                }))
            }
            Some(target) if target.checkpoint.size >= size => Ok(Ok(CheckpointOutcome::Ahead {
                have: head.size,
                want: target.checkpoint.size,
            })),
            _ => {
                self.inner
                    .data
                    .insert(log_key(keys::TARGET, log_id), note)?;
                Ok(Ok(CheckpointOutcome::Ahead {
                    have: head.size,
                    want: size,
                }))
            }
        }
    }
}

/// Checks a replica payload against its header and its record schema.
fn check_payload(header: &EntryHeader, payload: &[u8]) -> Result<Option<Record>, Rejected> {
    header.check_payload(payload)?;
    if header.kind == Kind::EquivocationProof {
        return Ok(None);
    }
    Record::parse(header.kind, payload)
        .map(Some)
        .map_err(|e| Rejected::Record(e.to_string()))
}

/// Adds to `stored` the cosignatures of `incoming` by known witnesses that
/// verify; returns how many were added.
fn merge_cosignatures(
    stored: &mut SignedCheckpoint,
    incoming: &SignedCheckpoint,
    witnesses: &[concord_protocol::checkpoint::CosignatureVerifier],
) -> usize {
    let mut added = 0;
    for witness in witnesses {
        let already = matches!(witness.verify(stored), Ok(Some(_)));
        if already || !matches!(witness.verify(incoming), Ok(Some(_))) {
            continue;
        }
        let key_id = witness.key_id();
        if let Some(line) = incoming
            .note
            .signatures()
            .iter()
            .find(|s| s.key_name == witness.name && s.key_id == key_id)
            && stored.add_cosignature(line.clone()).is_ok()
        {
            added += 1;
        }
    }
    added
}

/// Drops signature lines that are neither the log's nor a known witness's
/// valid cosignature, so that stored notes carry only what verifies.
fn keep_known_signatures(
    checkpoint: &mut SignedCheckpoint,
    verifiers: &[concord_protocol::note::NoteVerifier],
    witnesses: &[concord_protocol::checkpoint::CosignatureVerifier],
) {
    let text = checkpoint.note.text().to_owned();
    let mut kept = concord_protocol::note::Note::new(text).expect("text of a parsed note is valid");
    for line in checkpoint.note.signatures() {
        let by_log = verifiers
            .iter()
            .any(|v| v.name == line.key_name && v.key_id() == line.key_id);
        let by_witness = witnesses.iter().any(|w| {
            w.name == line.key_name
                && w.key_id() == line.key_id
                && matches!(w.verify(checkpoint), Ok(Some(_)))
        });
        if by_log || by_witness {
            let _ = kept.push_signature(line.clone());
        }
    }
    checkpoint.note = kept;
}

fn encode_pending(signed: &SignedEntry, payload: Option<&[u8]>) -> Vec<u8> {
    serde_json::to_vec(&signed.to_wire(payload)).expect("a wire entry holds only strings")
}

fn decode_pending(raw: &[u8]) -> Option<(SignedEntry, Option<Vec<u8>>)> {
    let wire: entry::WireEntry = serde_json::from_slice(raw).ok()?;
    wire.decode().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_run_one_per_core_at_least() {
        for cores in 1..=4 {
            for len in 1..=10_000 {
                let lengths = slice_lengths(len, cores);
                assert_eq!(lengths.iter().sum::<usize>(), len, "{len} on {cores}");
                assert!(lengths.iter().all(|&l| l > 0 && l <= SLICE), "{lengths:?}");
                assert!(lengths.iter().all(|&l| l <= lengths[0]), "{lengths:?}");
                if len >= cores * MIN_SLICE {
                    assert!(lengths.len() >= cores, "{len} on {cores}: {lengths:?}");
                }
            }
        }
        assert_eq!(slice_lengths(4_096, 2), [2_048; 2]);
        assert_eq!(slice_lengths(1_024, 2), [512; 2]);
        assert_eq!(slice_lengths(5_000, 2), [2_048, 2_048, 904]);
        assert_eq!(slice_lengths(100, 2), [64, 36]);
    }
}
