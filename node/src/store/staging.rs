//! Staging a group of entries into one sled batch: entries, Merkle hashes,
//! head, statuses, index postings, payloads and, for the own log, the
//! checkpoint, applied atomically. What an entry may follow is
//! `concord_protocol::ledger`'s decision; [`Staging`] is the log's state it
//! reads ([`LogState`]). Durability is the caller's flush, which must return
//! before any publish is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{EntryError, EntryHeader, SignedEntry};
use concord_protocol::ledger::{
    self, Consultations, DenialState, DenialStatus, HeldRequest, LedgerError, LogState, Term,
};
use concord_protocol::merkle::{self, Hash, HashReader, MerkleError};
use concord_protocol::origin::Origin;
use concord_protocol::record::{EntryRef as RecordRef, Kind, Record};

use super::keys::{self, IndexKind, log_item_key, log_key};
use super::query::{malformed_status_page, status_in_page};
use super::screen::{self, Indexed, Row, Rows, ScreeningIndex};
use super::{LogHead, Store, StoreError, TreeReader, encode_entry, page};

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
    #[error("entries {start}..{end} do not give the root of the signed checkpoint of size {size}")]
    CheckpointMismatch { start: u64, end: u64, size: u64 },
    #[error("entry {index} conflicts with the stored entry: equivocation")]
    Equivocation { index: u64 },
    #[error("too many entries are held ahead of a gap in {0}")]
    TooManyPending(Origin),
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
pub(super) struct Staging<'a> {
    store: &'a Store,
    log_id: u32,
    pub(super) size: u64,
    /// The time of the log's last entry, staged or stored.
    last_time: Option<u64>,
    overlay: Overlay<'a>,
    batch: sled::Batch,
    /// Index postings of this group: one key per term, not per entry, so
    /// that terms shared by many entries (kinds, countries) cost one write.
    /// By index kind, then term.
    postings: GroupPostings,
    /// The screening rows of this group's entries and late payloads.
    rows: Rows,
    /// The checkpoint target this group reached, stored with it.
    pub(super) reached: Option<SignedCheckpoint>,
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
pub(super) struct Sealed {
    pub(super) batch: sled::Batch,
    first: u64,
    hashes: Vec<Hash>,
    /// Also in the batch; applied to the screening index with it.
    rows: Rows,
}

impl Sealed {
    pub(super) fn apply(self, store: &Store, log_id: u32) -> Result<(), StoreError> {
        store.apply_with_rows(self.batch, log_id, self.rows)?;
        store.remember_hashes(log_id, self.first, self.hashes);
        Ok(())
    }
}

/// The postings of one group: per index kind, per term, the indexes.
type GroupPostings = BTreeMap<u8, BTreeMap<String, Vec<u64>>>;

/// Adds `index` to the postings of `term`. A term the group has already is
/// looked up, not copied. An index may repeat when amendments interleave
/// (readers take each once); consecutive repeats are dropped here.
fn post(postings: &mut GroupPostings, kind: IndexKind, text: &str, index: u64) {
    let terms = postings.entry(kind as u8).or_default();
    let list = match terms.get_mut(text) {
        Some(list) => list,
        None => terms.entry(text.to_owned()).or_default(),
    };
    if list.last() != Some(&index) {
        list.push(index);
    }
}

/// Writes a group's postings into its batch: one key per term.
fn write_postings(batch: &mut sled::Batch, postings: GroupPostings, log_id: u32) {
    for (kind, terms) in postings {
        for (term, indexes) in terms {
            let first = indexes[0];
            let value: Vec<u8> = indexes.iter().flat_map(|i| i.to_be_bytes()).collect();
            batch.insert(keys::index_key(kind, &term, log_id, first), value);
        }
    }
}

impl<'a> Staging<'a> {
    /// The store the group goes to.
    pub(super) fn store(&self) -> &'a Store {
        self.store
    }

    pub(super) fn new(store: &'a Store, log_id: u32) -> Result<Self, StoreError> {
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
        let last_time = match head.size.checked_sub(1) {
            None => None,
            Some(last) => Some(store.entry_time(log_id, last)?),
        };
        Ok(Self {
            store,
            log_id,
            size: head.size,
            last_time,
            overlay: Overlay {
                base: store.hash_reader(log_id),
                first_new: merkle::stored_hash_count(head.size),
                new: Vec::new(),
            },
            batch: sled::Batch::default(),
            postings: BTreeMap::new(),
            rows: Rows::new(),
            reached: None,
            sealed: 0,
            page,
            status_pages: HashMap::new(),
            changed_pages: BTreeSet::new(),
        })
    }

    pub(super) fn root(&self) -> Result<Hash, StoreError> {
        Ok(merkle::tree_hash(self.size, &self.overlay)?)
    }

    pub(super) fn denial_status(&self, index: u64) -> Result<Option<DenialStatus>, StoreError> {
        let (number, slot) = page::locate(index);
        match self.status_pages.get(&number) {
            Some(page) => status_in_page(page, number, slot, self.log_id),
            None => self.store.status_by_id(self.log_id, index),
        }
    }

    /// Stages entry `self.size`, already verified, with what it indexes.
    pub(super) fn push(
        &mut self,
        entry: &SignedEntry,
        header: &EntryHeader,
        payload: Option<&[u8]>,
        indexed: Option<&Indexed>,
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
        self.index(header, index, indexed)?;
        self.size += 1;
        self.last_time = Some(header.time);
        Ok(leaf)
    }

    pub(super) fn index(
        &mut self,
        header: &EntryHeader,
        index: u64,
        indexed: Option<&Indexed>,
    ) -> Result<(), StoreError> {
        let terms = indexed.map(|i| &i.terms);
        ledger::postings(header.kind, terms, |term, text| {
            self.post(term, text, index)
        });
        self.stage_row(header, index, indexed);
        let update =
            ledger::denial_update(header, index, terms, |denial| self.denial_status(denial))?;
        if let Some((denial, status)) = update {
            self.set_status(denial, status)?;
        }
        Ok(())
    }

    /// Stages the payload of stored entry `header.index`, which came after
    /// the header, with what its record (`terms`, when it has one) adds:
    /// the terms it posts beyond the kind the header posted, and the
    /// validity it gives its denial (`ledger::payload_update`). It is no
    /// longer missing.
    pub(super) fn fill(
        &mut self,
        header: &EntryHeader,
        payload: &[u8],
        indexed: Option<&Indexed>,
    ) -> Result<(), StoreError> {
        let index = header.index;
        self.batch
            .insert(&keys::payload_key(&header.payload.sha256.0)[..], payload);
        self.batch
            .remove(&log_item_key(keys::MISSING, self.log_id, index)[..]);
        self.stage_row(header, index, indexed);
        let Some(Indexed { terms, .. }) = indexed else {
            return Ok(());
        };
        ledger::record_postings(terms, |term, text| self.post(term, text, index));
        let update =
            ledger::payload_update(header, index, terms, |denial| self.denial_status(denial))?;
        if let Some((denial, status)) = update {
            self.set_status(denial, status)?;
        }
        Ok(())
    }

    /// Stages entry `index`'s screening row, unless the index is skipped.
    fn stage_row(&mut self, header: &EntryHeader, index: u64, indexed: Option<&Indexed>) {
        if self.store.screening_index() == ScreeningIndex::Skipped {
            return;
        }
        let screened = indexed.and_then(|i| i.screening.as_ref());
        if let Some(row) = Row::of(header, screened) {
            self.rows.push((index, row));
        }
    }

    /// Adds `index` to the postings of the ledger's `term`; written once per
    /// group.
    fn post(&mut self, term: Term, text: &str, index: u64) {
        let kind = match term {
            Term::Kind => IndexKind::Kind,
            Term::Party => IndexKind::Party,
            Term::Country => IndexKind::Country,
            Term::ControlEntry => IndexKind::ControlEntry,
            Term::HsCode => IndexKind::HsCode,
            Term::ConsultedDenial => IndexKind::ConsultedDenial,
            Term::AnsweredRequest => IndexKind::AnsweredRequest,
        };
        post(&mut self.postings, kind, text, index);
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
    pub(super) fn seal(
        &mut self,
        checkpoint: Option<&SignedCheckpoint>,
    ) -> Result<Sealed, StoreError> {
        let root = self.root()?;
        for number in std::mem::take(&mut self.changed_pages) {
            self.batch.insert(
                &keys::status_page_key(self.log_id, number)[..],
                self.status_pages[&number].clone(),
            );
        }
        write_postings(
            &mut self.batch,
            std::mem::take(&mut self.postings),
            self.log_id,
        );
        screen::write_rows(&mut self.batch, &self.rows, self.log_id);
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
            rows: std::mem::take(&mut self.rows),
        })
    }

    /// Seals the group and applies it atomically.
    pub(super) fn commit(
        mut self,
        checkpoint: Option<&SignedCheckpoint>,
    ) -> Result<(), StoreError> {
        self.seal(checkpoint)?.apply(self.store, self.log_id)
    }
}

/// The log as staged so far, for the ledger's rules.
impl LogState for Staging<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn last_time(&self) -> Option<u64> {
        self.last_time
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

/// Other logs as this store holds them, and the replies of the log as
/// staged so far, for the consultation rules.
impl Consultations for Staging<'_> {
    type Error = StoreError;

    fn request(&self, request: &RecordRef) -> Result<HeldRequest, StoreError> {
        // A request staged in this very group is not read: it is of this
        // log, whose own state could never be its denying state anyway.
        let Some(signed) = self.store.entry(&request.origin, request.index)? else {
            return Ok(HeldRequest::Unknown);
        };
        let header = signed
            .decode_header()
            .map_err(|e| StoreError::Corrupt(format!("entry {request}: {e}")))?;
        if header.kind != Kind::ConsultationRequest {
            return Ok(HeldRequest::NotARequest);
        }
        let record = self
            .store
            .payload(&header.payload.sha256.0)?
            .and_then(|bytes| Record::parse(Kind::ConsultationRequest, &bytes).ok());
        Ok(match record {
            Some(Record::ConsultationRequest(held)) => HeldRequest::Request {
                denying_state: held.denying_state,
            },
            _ => HeldRequest::Withheld,
        })
    }

    fn replied(&self, request: &RecordRef, before: u64) -> Result<Option<u64>, StoreError> {
        let term = request.to_string();
        let staged = self
            .postings
            .get(&(IndexKind::AnsweredRequest as u8))
            .and_then(|terms| terms.get(&term))
            .and_then(|indexes| indexes.iter().min().copied());
        let stored = self
            .store
            .first_posting(IndexKind::AnsweredRequest, &term, self.log_id)?;
        let first = match (staged, stored) {
            (Some(staged), Some(stored)) => Some(staged.min(stored)),
            (first, None) | (None, first) => first,
        };
        Ok(first.filter(|&first| first < before))
    }
}
