//! The screening index: which denials an application may meet, and each
//! denial's versions, kept in memory beside sled, with sled as its durable
//! source.
//!
//! Each denial, amendment and revocation writes one row (`Q`, log id,
//! index; see [`keys`]) in the batch that stores its entry or its late
//! payload: the denial it belongs to, its time, and once the payload is
//! held the validity of the version and the keys
//! ([`Term::key`](concord_screening::Term::key)) of its screening terms
//! (`concord_screening::terms`). One sequential key per entry is what
//! keeps ingest cheap: a key per term, at random places in sled's tree,
//! cost twenty times the entries' own writes.
//!
//! The rows are read into [`Memory`] the first time a screening needs them
//! (a scan, no payload parsed), and every later batch updates it under the
//! same lock it is applied under, so a query sees a group's entries, its
//! checkpoint and its rows together or not at all. A denial and each of
//! its amendments post their terms under the denial; postings are never
//! removed, so terms an amendment took away only add candidates: the
//! screener scores the version in force ([`Store::screen_version`]). The
//! prepared form of each version (`PreparedDenial`) is kept once computed:
//! by ingest, by [`Store::warm_screening`], or by the first query that
//! scores it.
//!
//! A denial whose payload only some members may read (visibility `members`
//! or `bilateral`) says so in its row from its header alone, so that a node
//! that may not read it names it without a scan of every denial.
//!
//! A store written before these rows existed, or under another
//! [`TERMS_VERSION`], is indexed again when it opens: the old rows (and the
//! per-term postings of earlier stores) are removed, then each log is
//! indexed from a cursor kept in the same batch as its rows, so an
//! interrupted run resumes where it stopped.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use concord_protocol::entry::{EntryHeader, Visibility};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Date, Denial, IndexTerms, Kind, Record};
use concord_screening::{PreparedDenial, TERMS_VERSION, Term};

use super::keys;
use super::{Store, StoreError, decode_entry};

/// `meta` key of the index's state: terms version (u32) ‖ phase (u8).
const STATE: &str = "screen-rows";
/// `meta` key of the state of earlier stores' per-term postings.
const LEGACY_STATE: &str = "screen-index";
/// Index kind of earlier stores' per-term postings (`I`, `s`, term, ...).
const LEGACY_POSTINGS: u8 = b's';
const BUILDING: u8 = 0;
const DONE: u8 = 1;
/// Entries indexed per batch when a store is indexed again.
const CHUNK: u64 = 1024;
/// The format of a row, its first byte.
const ROW_FORMAT: u8 = 1;

/// What an entry's record adds to the store's indexes: the search terms
/// of the ledger and, for a denial or an amendment, what screening needs.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    pub terms: IndexTerms,
    pub screening: Option<Screened>,
}

/// A version of a denial as screening keeps it.
#[derive(Debug, Clone)]
pub struct Screened {
    /// The days (since the Unix epoch) its validity runs from and to,
    /// inclusive; no end: never in force.
    pub from: i64,
    pub until: Option<i64>,
    /// Its terms' keys, sorted, each once.
    pub keys: Vec<u64>,
    pub prepared: Arc<PreparedDenial>,
}

impl Screened {
    fn of(denial: &concord_protocol::record::Denial) -> Screened {
        let prepared = PreparedDenial::new(denial);
        Screened {
            from: denial.decision_date.unix_days(),
            until: denial.expires().map(|d| d.unix_days()),
            keys: concord_screening::prepared_term_keys(&prepared),
            prepared: Arc::new(prepared),
        }
    }
}

/// Whether records are prepared for screening and their rows written:
/// always, but in a benchmark's baseline ([`Store::skip_screening_index`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreeningIndex {
    Kept,
    Skipped,
}

impl Indexed {
    pub fn of(record: &Record, index: ScreeningIndex) -> Indexed {
        let screening = match (record, index) {
            (_, ScreeningIndex::Skipped) => None,
            (Record::Denial(denial), ScreeningIndex::Kept) => Some(Screened::of(denial)),
            (Record::DenialAmend(amend), ScreeningIndex::Kept) => Some(Screened::of(&amend.denial)),
            _ => None,
        };
        Indexed {
            terms: record.index_terms(),
            screening,
        }
    }
}

/// What an entry is to screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    /// A denial, and who may read its payload.
    Denial(Readers),
    Amend,
    Revoke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// `public` or `federation`: every participant.
    All,
    Members,
    Bilateral,
}

impl RowKind {
    fn byte(self) -> u8 {
        match self {
            RowKind::Denial(Readers::All) => b'd',
            RowKind::Denial(Readers::Members) => b'm',
            RowKind::Denial(Readers::Bilateral) => b'b',
            RowKind::Amend => b'a',
            RowKind::Revoke => b'v',
        }
    }

    fn of_byte(byte: u8) -> Option<RowKind> {
        Some(match byte {
            b'd' => RowKind::Denial(Readers::All),
            b'm' => RowKind::Denial(Readers::Members),
            b'b' => RowKind::Denial(Readers::Bilateral),
            b'a' => RowKind::Amend,
            b'v' => RowKind::Revoke,
            _ => return None,
        })
    }
}

/// One entry's row (see the module documentation). Encoded: format (u8) ‖
/// kind (u8) ‖ denial (u64) ‖ time (u64) ‖ held (u8), and when held: from
/// (i64 days) ‖ until (i64 days, `i64::MIN` for none) ‖ key count (u32) ‖
/// keys (u64 each). Big-endian.
#[derive(Debug, Clone)]
pub(super) struct Row {
    kind: RowKind,
    /// The index of the denial it belongs to (its own, for a denial).
    denial: u64,
    time: u64,
    /// The version's validity and terms, once its payload is held.
    held: Option<(i64, Option<i64>, Vec<u64>)>,
    /// Not stored: the prepared version, when the writer computed it.
    prepared: Option<Arc<PreparedDenial>>,
}

impl Row {
    /// The row of `header`'s entry, with what its record gave when held.
    pub(super) fn of(header: &EntryHeader, screened: Option<&Screened>) -> Option<Row> {
        let (kind, denial) = match header.kind {
            Kind::Denial => {
                let readers = match header.payload.visibility {
                    Visibility::Public | Visibility::Federation => Readers::All,
                    Visibility::Members => Readers::Members,
                    Visibility::Bilateral { .. } => Readers::Bilateral,
                };
                (RowKind::Denial(readers), header.index)
            }
            Kind::DenialAmend => (RowKind::Amend, header.refers_to.as_ref()?.index),
            Kind::DenialRevoke => (RowKind::Revoke, header.refers_to.as_ref()?.index),
            _ => return None,
        };
        Some(Row {
            kind,
            denial,
            time: header.time,
            held: screened.map(|s| (s.from, s.until, s.keys.clone())),
            prepared: screened.map(|s| s.prepared.clone()),
        })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(19 + self.held.as_ref().map_or(0, |h| 20 + 8 * h.2.len()));
        out.push(ROW_FORMAT);
        out.push(self.kind.byte());
        out.extend_from_slice(&self.denial.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        match &self.held {
            None => out.push(0),
            Some((from, until, keys)) => {
                out.push(1);
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&until.unwrap_or(i64::MIN).to_be_bytes());
                let count = u32::try_from(keys.len()).expect("a denial has fewer than 2^32 terms");
                out.extend_from_slice(&count.to_be_bytes());
                for key in keys {
                    out.extend_from_slice(&key.to_be_bytes());
                }
            }
        }
        out
    }

    fn decode(raw: &[u8]) -> Option<Row> {
        let mut at = 0;
        let mut take = |n: usize| {
            let part = raw.get(at..at + n)?;
            at += n;
            Some(part)
        };
        let u64_of = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("eight bytes"));
        if take(1)? != [ROW_FORMAT] {
            return None;
        }
        let kind = RowKind::of_byte(take(1)?[0])?;
        let denial = u64_of(take(8)?);
        let time = u64_of(take(8)?);
        let held = match take(1)? {
            [0] => None,
            [1] => {
                let from = i64::from_be_bytes(take(8)?.try_into().ok()?);
                let until = i64::from_be_bytes(take(8)?.try_into().ok()?);
                let count = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
                let keys = take(count.checked_mul(8)?)?
                    .chunks_exact(8)
                    .map(u64_of)
                    .collect();
                Some((from, (until != i64::MIN).then_some(until), keys))
            }
            _ => return None,
        };
        (at == raw.len()).then_some(Row {
            kind,
            denial,
            time,
            held,
            prepared: None,
        })
    }
}

/// A denial's chain as screened: its entry and its amendments by the
/// screened day within the screened size, the last one in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub entries: Vec<u64>,
}

impl Chain {
    /// The entry holding the version in force.
    pub fn current(&self) -> u64 {
        *self.entries.last().expect("a chain holds its denial")
    }
}

/// One version of a denial: the denial's entry or an amendment's.
#[derive(Debug)]
struct Version {
    index: u64,
    time: u64,
    /// The validity's days, once the payload is held.
    validity: Option<(i64, Option<i64>)>,
    prepared: OnceLock<Arc<PreparedDenial>>,
}

/// A denial in memory.
#[derive(Debug)]
struct Denied {
    log_id: u32,
    index: u64,
    /// By index.
    versions: Vec<Version>,
    /// The earliest revocation: its index and time.
    revoked: Option<(u64, u64)>,
}

/// The denials posted under one term key, by slot, in the order posted.
/// Most terms (a name's one-letter deletions) are posted once: those hold
/// no list of their own.
#[derive(Debug)]
enum Posted {
    One(u32),
    Many(Vec<u32>),
}

/// Hashes a term key, already FNV-1a of the term, by taking it as it is:
/// hashing it again cost a tenth of each screening.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

type ByKey<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// The index in memory (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// By slot; a slot is never reused.
    denials: Vec<Denied>,
    slot_of: HashMap<(u32, u64), u32>,
    postings: ByKey<Posted>,
    restricted: Vec<u32>,
}

impl Memory {
    /// Applies entry `index`'s row; applying one twice changes nothing.
    fn apply(&mut self, log_id: u32, index: u64, row: Row) {
        let slot = match row.kind {
            RowKind::Denial(readers) => {
                let next = u32::try_from(self.denials.len())
                    .expect("fewer than 2^32 denials are held in one process");
                let slot = *self.slot_of.entry((log_id, index)).or_insert(next);
                if slot == next {
                    self.denials.push(Denied {
                        log_id,
                        index,
                        versions: Vec::new(),
                        revoked: None,
                    });
                    if readers != Readers::All {
                        self.restricted.push(slot);
                    }
                }
                slot
            }
            RowKind::Amend | RowKind::Revoke => match self.slot_of.get(&(log_id, row.denial)) {
                Some(&slot) => slot,
                // Not a denial this store indexed: nothing to screen.
                None => return,
            },
        };
        let denied = &mut self.denials[slot as usize];
        if row.kind == RowKind::Revoke {
            if denied.revoked.is_none_or(|(at, _)| index < at) {
                denied.revoked = Some((index, row.time));
            }
            return;
        }
        let at = match denied.versions.binary_search_by_key(&index, |v| v.index) {
            Ok(at) => at,
            Err(at) => {
                denied.versions.insert(
                    at,
                    Version {
                        index,
                        time: row.time,
                        validity: None,
                        prepared: OnceLock::new(),
                    },
                );
                at
            }
        };
        let version = &mut denied.versions[at];
        let Some((from, until, keys)) = row.held else {
            return;
        };
        if let Some(prepared) = row.prepared {
            let _ = version.prepared.set(prepared);
        }
        if version.validity.is_some() {
            return;
        }
        version.validity = Some((from, until));
        for key in keys {
            match self.postings.entry(key) {
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(Posted::One(slot));
                }
                std::collections::hash_map::Entry::Occupied(mut occupied) => {
                    let posted = occupied.get_mut();
                    match posted {
                        Posted::One(first) => *posted = Posted::Many(vec![*first, slot]),
                        Posted::Many(slots) => slots.push(slot),
                    }
                }
            }
        }
    }

    /// The payload of entry `index` was purged: its version is no longer
    /// scored.
    fn forget(&mut self, log_id: u32, index: u64, row: &Row) {
        if let Some(version) = self.version_mut(log_id, row.denial, index) {
            version.validity = None;
            version.prepared = OnceLock::new();
        }
    }

    /// Version `index` of denial `denial` of log `log_id`.
    fn version(&self, log_id: u32, denial: u64, index: u64) -> Option<&Version> {
        let versions = &self.denials[*self.slot_of.get(&(log_id, denial))? as usize].versions;
        let at = versions.binary_search_by_key(&index, |v| v.index).ok()?;
        Some(&versions[at])
    }

    fn version_mut(&mut self, log_id: u32, denial: u64, index: u64) -> Option<&mut Version> {
        let slot = *self.slot_of.get(&(log_id, denial))?;
        let versions = &mut self.denials[slot as usize].versions;
        let at = versions.binary_search_by_key(&index, |v| v.index).ok()?;
        Some(&mut versions[at])
    }

    /// The denials posted under `key`, each once, or `None` when more than
    /// `limit` are.
    fn postings(&self, key: u64, limit: usize) -> Option<Vec<(u32, u64)>> {
        let slots: &[u32] = match self.postings.get(&key) {
            None => &[],
            Some(Posted::One(slot)) => std::slice::from_ref(slot),
            Some(Posted::Many(slots)) => slots,
        };
        // A denial's amendments may post it again; a list longer than the
        // limit is looked at more closely only then.
        if slots.len() > limit {
            let mut distinct = slots.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > limit {
                return None;
            }
        }
        let mut posted: Vec<(u32, u64)> = slots
            .iter()
            .map(|&slot| {
                let denied = &self.denials[slot as usize];
                (denied.log_id, denied.index)
            })
            .collect();
        posted.sort_unstable();
        posted.dedup();
        Some(posted)
    }

    /// The chain of denial (`log_id`, `index`) as it stood with `size`
    /// entries at the end of the day `day_end` (seconds), unless revoked
    /// by then, with its last version.
    fn chain(&self, log_id: u32, index: u64, size: u64, day_end: u64) -> Option<(Chain, &Version)> {
        let denied = &self.denials[*self.slot_of.get(&(log_id, index))? as usize];
        if denied
            .revoked
            .is_some_and(|(at, time)| at < size && time <= day_end)
        {
            return None;
        }
        let counted: Vec<&Version> = denied
            .versions
            .iter()
            .take_while(|v| v.index < size && v.time <= day_end)
            .collect();
        // The denial's own entry is its first version.
        if counted.first()?.index != index {
            return None;
        }
        let last = *counted.last()?;
        Some((
            Chain {
                entries: counted.iter().map(|v| v.index).collect(),
            },
            last,
        ))
    }

    /// An estimate of the memory held, in bytes: lists and map entries
    /// counted, prepared denials not (see `concord_screening::Index`).
    fn approximate_bytes(&self) -> usize {
        use std::mem::size_of;
        let versions: usize = self
            .denials
            .iter()
            .map(|d| d.versions.capacity() * size_of::<Version>())
            .sum();
        self.denials.capacity() * size_of::<Denied>()
            + versions
            + self.slot_of.capacity() * (size_of::<(u32, u64)>() + 4 + 1)
            + self.postings.capacity() * (8 + size_of::<Posted>() + 1)
            + self
                .postings
                .values()
                .map(|posted| match posted {
                    Posted::One(_) => 0,
                    Posted::Many(slots) => slots.capacity() * 4,
                })
                .sum::<usize>()
            + self.restricted.capacity() * 4
    }
}

/// The index's lock and contents: `None` until a screening first needs it.
pub(super) type Shared = RwLock<Option<Memory>>;

/// A group's rows, written into its batch and applied to memory with it.
pub(super) type Rows = Vec<(u64, Row)>;

/// Writes a group's rows into its batch.
pub(super) fn write_rows(batch: &mut sled::Batch, rows: &Rows, log_id: u32) {
    for (index, row) in rows {
        batch.insert(
            &keys::log_item_key(keys::SCREEN_ROW, log_id, *index)[..],
            row.encode(),
        );
    }
}

impl Store {
    /// Applies `batch`, which holds `rows` of log `log_id`, and the rows to
    /// the index in memory, under the index's lock: a screening sees both
    /// or neither.
    pub(super) fn apply_with_rows(
        &self,
        batch: sled::Batch,
        log_id: u32,
        rows: Rows,
    ) -> Result<(), StoreError> {
        let mut memory = self.write_memory();
        self.inner.data.apply_batch(batch)?;
        if let Some(memory) = memory.as_mut() {
            for (index, row) in rows {
                memory.apply(log_id, index, row);
            }
        }
        Ok(())
    }

    /// Stages the removal of entry `index`'s payload from the index: its
    /// row loses what the payload gave. Applied by [`Store::apply_forgetting`].
    pub(super) fn forget_row(
        &self,
        batch: &mut sled::Batch,
        log_id: u32,
        index: u64,
    ) -> Result<Option<Row>, StoreError> {
        let key = keys::log_item_key(keys::SCREEN_ROW, log_id, index);
        let Some(row) = self.inner.data.get(key)?.as_deref().and_then(Row::decode) else {
            return Ok(None);
        };
        let row = Row { held: None, ..row };
        batch.insert(&key[..], row.encode());
        Ok(Some(row))
    }

    /// Applies `batch`, in which entry `index`'s row was forgotten.
    pub(super) fn apply_forgetting(
        &self,
        batch: sled::Batch,
        log_id: u32,
        index: u64,
        row: Option<Row>,
    ) -> Result<(), StoreError> {
        let mut memory = self.write_memory();
        self.inner.data.apply_batch(batch)?;
        if let (Some(memory), Some(row)) = (memory.as_mut(), row) {
            memory.forget(log_id, index, &row);
        }
        Ok(())
    }

    fn write_memory(&self) -> std::sync::RwLockWriteGuard<'_, Option<Memory>> {
        self.inner
            .screen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the index in memory, reading it from the rows first if
    /// no screening has yet.
    fn with_memory<T>(&self, f: impl FnOnce(&Memory) -> T) -> Result<T, StoreError> {
        {
            let memory = self
                .inner
                .screen
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(memory) = memory.as_ref() {
                return Ok(f(memory));
            }
        }
        let mut memory = self.write_memory();
        if memory.is_none() {
            *memory = Some(self.read_rows()?);
        }
        Ok(f(memory.as_ref().expect("just read")))
    }

    /// The index in memory, from the stored rows.
    fn read_rows(&self) -> Result<Memory, StoreError> {
        let started = std::time::Instant::now();
        let mut memory = Memory::default();
        for item in self.inner.data.scan_prefix([keys::SCREEN_ROW]) {
            let (key, raw) = item?;
            let (log_id, index) = keys::log_item_of(&key)
                .ok_or_else(|| StoreError::Corrupt("a screening row's key is malformed".into()))?;
            let row = Row::decode(&raw).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the screening row of entry {index} of log {log_id} is malformed"
                ))
            })?;
            memory.apply(log_id, index, row);
        }
        if !memory.denials.is_empty() {
            tracing::debug!(
                denials = memory.denials.len(),
                seconds = started.elapsed().as_secs_f64(),
                "screening index read"
            );
        }
        Ok(memory)
    }

    /// From now on the store (every handle on it) prepares no records for
    /// screening and writes no screening rows: the same ingest code without
    /// the screening index, the baseline that `node/benches/screening.rs`
    /// measures the index's cost against. The index is marked unbuilt, so
    /// the next [`Store::open`] builds it whole again.
    ///
    /// # Errors
    /// [`StoreError`] when the index's state cannot be written.
    pub fn skip_screening_index(&self) -> Result<(), StoreError> {
        self.inner.meta.remove(STATE)?;
        self.inner
            .screening_skipped
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether records are prepared for screening.
    pub(super) fn screening_index(&self) -> ScreeningIndex {
        if self
            .inner
            .screening_skipped
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            ScreeningIndex::Skipped
        } else {
            ScreeningIndex::Kept
        }
    }

    /// The store's number of each log, for [`Store::screen_postings`].
    pub fn screen_log_numbers(&self) -> Vec<(Origin, u32)> {
        self.log_ids()
    }

    /// The denials posted under screening `term`, each once, as (the log's
    /// number, [`Store::screen_log_numbers`], and the denial's index), or
    /// `None` when more than `limit` are.
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be read.
    pub fn screen_postings(
        &self,
        term: &Term,
        limit: usize,
    ) -> Result<Option<Vec<(u32, u64)>>, StoreError> {
        self.with_memory(|memory| memory.postings(term.key(), limit))
    }

    /// The denials of `members` or `bilateral` visibility, as
    /// [`Store::screen_postings`] names them.
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be read.
    pub fn screen_restricted(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        self.with_memory(|memory| {
            memory
                .restricted
                .iter()
                .map(|&slot| {
                    let denied = &memory.denials[slot as usize];
                    (denied.log_id, denied.index)
                })
                .collect()
        })
    }

    /// The chain of denial `index` of log number `log_id` cut at `size`
    /// entries and at `day_end` (seconds), unless it is no denial or was
    /// revoked by then.
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be read.
    pub fn screen_chain(
        &self,
        log_id: u32,
        index: u64,
        size: u64,
        day_end: u64,
    ) -> Result<Option<Chain>, StoreError> {
        self.with_memory(|memory| {
            memory
                .chain(log_id, index, size, day_end)
                .map(|(chain, _)| chain)
        })
    }

    /// [`Store::screen_chain`] when its current version is in force on
    /// `at` and its payload is held, with the version prepared for
    /// scoring.
    ///
    /// # Errors
    /// [`StoreError`] when the index or the version's entry cannot be read.
    pub fn screen_version(
        &self,
        log_id: u32,
        index: u64,
        size: u64,
        day_end: u64,
        at: Date,
    ) -> Result<Option<(Chain, Arc<PreparedDenial>)>, StoreError> {
        let day = at.unix_days();
        let found = self.with_memory(|memory| {
            let (chain, version) = memory.chain(log_id, index, size, day_end)?;
            let (from, until) = version.validity?;
            let in_force = day >= from && until.is_some_and(|until| day <= until);
            in_force.then(|| (chain, version.prepared.get().cloned()))
        })?;
        let Some((chain, prepared)) = found else {
            return Ok(None);
        };
        let prepared = match prepared {
            Some(prepared) => prepared,
            None => match self.prepare(log_id, index, chain.current())? {
                Some(prepared) => prepared,
                None => return Ok(None),
            },
        };
        Ok(Some((chain, prepared)))
    }

    /// The denial held by entry `index` of `origin` (a denial's or an
    /// amendment's), unless its payload is not held.
    ///
    /// # Errors
    /// [`StoreError`] when the entry cannot be read, or holds no denial.
    pub fn held_denial(&self, origin: &Origin, index: u64) -> Result<Option<Denial>, StoreError> {
        let log_id = self
            .log_id(origin)
            .ok_or_else(|| StoreError::UnknownLog(origin.clone()))?;
        self.held_denial_by_id(log_id, index)
    }

    fn held_denial_by_id(&self, log_id: u32, index: u64) -> Result<Option<Denial>, StoreError> {
        let corrupt =
            |why: String| StoreError::Corrupt(format!("entry {index} of log {log_id}: {why}"));
        let Some(entry) = self.entry_by_id(log_id, index)? else {
            return Ok(None);
        };
        let header = entry.decode_header().map_err(|e| corrupt(e.to_string()))?;
        let Some(payload) = self.payload(&header.payload.sha256.0)? else {
            return Ok(None);
        };
        match Record::parse(header.kind, &payload) {
            Ok(Record::Denial(denial)) => Ok(Some(denial)),
            Ok(Record::DenialAmend(amend)) => Ok(Some(amend.denial)),
            _ => Err(corrupt("it holds no denial".into())),
        }
    }

    /// Prepares version `index` of denial `denial` of log `log_id` from its
    /// payload, and keeps it in memory.
    fn prepare(
        &self,
        log_id: u32,
        denial: u64,
        index: u64,
    ) -> Result<Option<Arc<PreparedDenial>>, StoreError> {
        let Some(held) = self.held_denial_by_id(log_id, index)? else {
            return Ok(None);
        };
        let prepared = Arc::new(PreparedDenial::new(&held));
        let kept = self.with_memory(|memory| {
            let version = memory.version(log_id, denial, index)?;
            Some(version.prepared.get_or_init(|| prepared.clone()).clone())
        })?;
        Ok(Some(kept.unwrap_or(prepared)))
    }

    /// Prepares every held version not prepared yet, so that no screening
    /// waits for one: what a running node does once it started. Returns
    /// how many were prepared.
    ///
    /// # Errors
    /// [`StoreError`] when the index or an entry cannot be read.
    pub fn warm_screening(&self) -> Result<usize, StoreError> {
        let cold: Vec<(u32, u64, u64)> = self.with_memory(|memory| {
            memory
                .denials
                .iter()
                .flat_map(|d| {
                    d.versions
                        .iter()
                        .filter(|v| v.validity.is_some() && v.prepared.get().is_none())
                        .map(|v| (d.log_id, d.index, v.index))
                })
                .collect()
        })?;
        for &(log_id, denial, index) in &cold {
            self.prepare(log_id, denial, index)?;
        }
        Ok(cold.len())
    }

    /// The index's memory, approximately (see `Memory`), and how many
    /// denials it holds.
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be read.
    pub fn screening_memory(&self) -> Result<(usize, usize), StoreError> {
        self.with_memory(|memory| (memory.approximate_bytes(), memory.denials.len()))
    }

    /// Indexes the store for screening if it was not, or was under other
    /// terms (see the module documentation). Logged; resumable.
    pub(super) fn index_for_screening(&self) -> Result<(), StoreError> {
        let state = self.inner.meta.get(STATE)?;
        let state = state.as_deref().and_then(|raw| {
            let version = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?);
            Some((version, *raw.get(4)?))
        });
        match state {
            Some((TERMS_VERSION, DONE)) => return Ok(()),
            Some((TERMS_VERSION, BUILDING)) => {
                tracing::info!("resuming the screening index where it stopped");
            }
            _ => {
                tracing::info!(
                    version = TERMS_VERSION,
                    "indexing the store for screening (about 15 s per 100,000 denials)"
                );
                self.clear_screen_index()?;
                let mut value = TERMS_VERSION.to_be_bytes().to_vec();
                value.push(BUILDING);
                self.inner.meta.insert(STATE, value)?;
            }
        }
        let started = std::time::Instant::now();
        let mut indexed = 0u64;
        let progress = crate::progress::Progress::new(true);
        for (origin, head) in self.logs()? {
            let log_id = self.log_id(&origin).expect("a listed log has an id");
            let cursor_key = keys::log_key(keys::SCREEN_CURSOR, log_id);
            let mut next = match self.inner.data.get(cursor_key)? {
                Some(raw) => keys::item_of(&raw).unwrap_or(0),
                None => 0,
            };
            progress.start(
                &format!("indexing {origin} for screening"),
                head.size.saturating_sub(next),
            );
            while next < head.size {
                let end = (next + CHUNK).min(head.size);
                let mut rows = Rows::new();
                self.scan_entries(log_id, next, end - 1, |index, raw| {
                    let entry = decode_entry(raw).ok_or_else(|| {
                        StoreError::Corrupt(format!("entry {index} of {origin} is malformed"))
                    })?;
                    let header = entry.decode_header().map_err(|e| {
                        StoreError::Corrupt(format!("entry {index} of {origin}: {e}"))
                    })?;
                    // Only the kinds that have a row are worth a payload read.
                    if Row::of(&header, None).is_none() {
                        return Ok(true);
                    }
                    let record = match self.payload(&header.payload.sha256.0)? {
                        Some(payload) => Record::parse(header.kind, &payload).ok(),
                        None => None,
                    };
                    let indexed = record.map(|r| Indexed::of(&r, ScreeningIndex::Kept));
                    if let Some(row) =
                        Row::of(&header, indexed.as_ref().and_then(|i| i.screening.as_ref()))
                    {
                        rows.push((index, row));
                    }
                    Ok(true)
                })?;
                let mut batch = sled::Batch::default();
                write_rows(&mut batch, &rows, log_id);
                batch.insert(&cursor_key[..], &end.to_be_bytes()[..]);
                self.apply_with_rows(batch, log_id, rows)?;
                indexed += end - next;
                progress.advance(end - next);
                next = end;
                if indexed.is_multiple_of(CHUNK * 64) {
                    tracing::info!(entries = indexed, "screening index: entries read");
                }
            }
        }
        progress.finish();
        let mut batch = sled::Batch::default();
        for item in self.inner.data.scan_prefix([keys::SCREEN_CURSOR]) {
            batch.remove(item?.0);
        }
        self.inner.data.apply_batch(batch)?;
        let mut value = TERMS_VERSION.to_be_bytes().to_vec();
        value.push(DONE);
        self.inner.meta.insert(STATE, value)?;
        self.flush_blocking()?;
        if indexed > 0 {
            tracing::info!(
                entries = indexed,
                seconds = started.elapsed().as_secs_f64(),
                "screening index built"
            );
        }
        Ok(())
    }

    /// Removes every screening row and cursor, and earlier stores'
    /// per-term postings, a batch at a time.
    fn clear_screen_index(&self) -> Result<(), StoreError> {
        *self.write_memory() = None;
        self.inner.meta.remove(LEGACY_STATE)?;
        let prefixes = [
            vec![keys::INDEX, LEGACY_POSTINGS],
            vec![keys::SCREEN_ROW],
            vec![keys::SCREEN_CURSOR],
        ];
        for prefix in prefixes {
            loop {
                let mut batch = sled::Batch::default();
                let mut n = 0;
                for item in self.inner.data.scan_prefix(&prefix).take(10_000) {
                    batch.remove(item?.0);
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                self.inner.data.apply_batch(batch)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: RowKind, held: Option<(i64, Option<i64>, Vec<u64>)>) -> Row {
        Row {
            kind,
            denial: 7,
            time: 1_764_633_600,
            held,
            prepared: None,
        }
    }

    #[test]
    fn rows_round_trip_and_refuse_damage() {
        for original in [
            row(RowKind::Denial(Readers::Bilateral), None),
            row(RowKind::Amend, Some((20_000, None, vec![]))),
            row(
                RowKind::Denial(Readers::All),
                Some((20_000, Some(21_000), vec![1, u64::MAX])),
            ),
            row(RowKind::Revoke, None),
        ] {
            let encoded = original.encode();
            let decoded = Row::decode(&encoded).expect("decodes");
            assert_eq!(decoded.encode(), encoded);
            assert_eq!(decoded.kind, original.kind);
            assert_eq!(decoded.held, original.held);
            assert!(Row::decode(&encoded[..encoded.len() - 1]).is_none());
            let mut longer = encoded.clone();
            longer.push(0);
            assert!(Row::decode(&longer).is_none());
        }
        let mut unknown = row(RowKind::Amend, None).encode();
        unknown[1] = b'?';
        assert!(Row::decode(&unknown).is_none());
    }

    #[test]
    fn memory_applies_a_row_twice_as_once_and_cuts_chains() {
        let mut memory = Memory::default();
        let denial = Row {
            denial: 3,
            time: 100,
            ..row(
                RowKind::Denial(Readers::All),
                Some((0, Some(10), vec![42, 43])),
            )
        };
        let amend = Row {
            denial: 3,
            time: 200,
            ..row(RowKind::Amend, Some((0, Some(10), vec![42, 44])))
        };
        let revoke = Row {
            denial: 3,
            time: 300,
            ..row(RowKind::Revoke, None)
        };
        for _ in 0..2 {
            memory.apply(0, 3, denial.clone());
            memory.apply(0, 5, amend.clone());
        }
        assert_eq!(memory.postings(42, 10), Some(vec![(0, 3)]));
        assert_eq!(memory.postings(44, 10), Some(vec![(0, 3)]));
        assert_eq!(memory.postings(42, 0), None);
        assert_eq!(memory.postings(45, 0), Some(vec![]));
        let chain =
            |m: &Memory, size, day_end| m.chain(0, 3, size, day_end).map(|(c, _)| c.entries);
        assert_eq!(chain(&memory, 6, 1000), Some(vec![3, 5]));
        assert_eq!(chain(&memory, 5, 1000), Some(vec![3]));
        assert_eq!(chain(&memory, 6, 150), Some(vec![3]));
        assert_eq!(chain(&memory, 3, 1000), None);
        memory.apply(0, 8, revoke);
        assert_eq!(chain(&memory, 9, 1000), None);
        assert_eq!(chain(&memory, 9, 250), Some(vec![3, 5]));
        assert_eq!(chain(&memory, 8, 1000), Some(vec![3, 5]));
        // An amendment of an entry that is no denial is not indexed.
        memory.apply(0, 9, Row { denial: 4, ..amend });
        assert_eq!(memory.denials.len(), 1);
    }
}
