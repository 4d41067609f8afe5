//! The screening index: every denial posted under its screening terms
//! (`concord_screening::terms`), by the store, in the batch that stores the
//! entry or the payload the terms come from.
//!
//! A denial and each of its amendments post their terms under the denial's
//! own entry (log id, index): candidates are denials, and whichever version
//! is in force on the screened date is what gets scored, so terms an
//! amendment took away only add candidates. Postings are never removed;
//! the screener admits only the denials in force ([`Store::screen_postings`]
//! serves the lists, `crate::screening` decides).
//!
//! A denial whose payload only some members may read (visibility `members`
//! or `bilateral`) is also posted under [`RESTRICTED_MEMBERS`] or
//! [`RESTRICTED_BILATERAL`] from its header alone, so that a node that may
//! not read it can say that it exists without a scan of every denial.
//!
//! A store written before these terms existed, or under another
//! [`TERMS_VERSION`], is indexed again when it opens: the old postings are
//! removed, then each log is indexed from a cursor kept in the same batch
//! as its postings, so an interrupted run resumes where it stopped.

use std::collections::BTreeMap;

use concord_protocol::entry::{EntryHeader, Visibility};
use concord_protocol::origin::Origin;
use concord_protocol::record::{IndexTerms, Kind, Record};
use concord_screening::{TERMS_VERSION, Term};

use super::keys::{self, IndexKind};
use super::{Store, StoreError, decode_entry};

/// The term every `members` denial is posted under.
pub const RESTRICTED_MEMBERS: &str = "r:members";
/// The term every `bilateral` denial is posted under.
pub const RESTRICTED_BILATERAL: &str = "r:bilateral";

/// `meta` key of the index's state: terms version (u32) ‖ phase (u8).
const STATE: &str = "screen-index";
const BUILDING: u8 = 0;
const DONE: u8 = 1;
/// Entries indexed per batch when a store is indexed again.
const CHUNK: u64 = 1024;

/// What an entry's record adds to the store's indexes: the search terms
/// of the ledger and, for a denial or an amendment, its screening terms.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    pub terms: IndexTerms,
    pub screening: Vec<Term>,
}

/// Whether records' screening terms are computed and posted: always, but
/// in a benchmark's baseline ([`Store::skip_screening_index`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreeningIndex {
    Kept,
    Skipped,
}

impl Indexed {
    pub fn of(record: &Record, index: ScreeningIndex) -> Indexed {
        let screening = match (record, index) {
            (_, ScreeningIndex::Skipped) => Vec::new(),
            (Record::Denial(denial), ScreeningIndex::Kept) => concord_screening::terms(denial),
            (Record::DenialAmend(amend), ScreeningIndex::Kept) => {
                concord_screening::terms(&amend.denial)
            }
            _ => Vec::new(),
        };
        Indexed {
            terms: record.index_terms(),
            screening,
        }
    }
}

/// The denials posted under one screening term, by log: each log once,
/// with its indexes ascending.
pub type PostingsByLog = Vec<(Origin, Vec<u64>)>;

/// The postings of one group: per index kind, per term, the indexes.
pub(super) type GroupPostings = BTreeMap<u8, BTreeMap<String, Vec<u64>>>;

/// Adds `index` to the postings of `term`. A term the group has already is
/// looked up, not copied. An index may repeat when amendments interleave
/// (readers take each once); consecutive repeats are dropped here.
pub(super) fn post(postings: &mut GroupPostings, kind: IndexKind, text: &str, index: u64) {
    let terms = postings.entry(kind as u8).or_default();
    let list = match terms.get_mut(text) {
        Some(list) => list,
        None => terms.entry(text.to_owned()).or_default(),
    };
    if list.last() != Some(&index) {
        list.push(index);
    }
}

/// The denial an entry's screening terms are posted under: the denial
/// itself, or the one an amendment changes.
fn screened_denial(header: &EntryHeader) -> Option<u64> {
    match header.kind {
        Kind::Denial => Some(header.index),
        Kind::DenialAmend => header.refers_to.map(|r| r.index),
        _ => None,
    }
}

/// Posts what the header alone says: a restricted denial.
pub(super) fn post_header(postings: &mut GroupPostings, header: &EntryHeader) {
    if header.kind != Kind::Denial {
        return;
    }
    let term = match header.payload.visibility {
        Visibility::Members => RESTRICTED_MEMBERS,
        Visibility::Bilateral { .. } => RESTRICTED_BILATERAL,
        Visibility::Public | Visibility::Federation => return,
    };
    post(postings, IndexKind::Screen, term, header.index);
}

/// Posts the screening terms of the record of `header`'s entry.
pub(super) fn post_terms(postings: &mut GroupPostings, header: &EntryHeader, terms: &[Term]) {
    if let Some(denial) = screened_denial(header) {
        for term in terms {
            post(postings, IndexKind::Screen, term.as_str(), denial);
        }
    }
}

/// Writes a group's postings into its batch: one key per term.
pub(super) fn write_postings(batch: &mut sled::Batch, postings: GroupPostings, log_id: u32) {
    for (kind, terms) in postings {
        for (term, indexes) in terms {
            let first = indexes[0];
            let value: Vec<u8> = indexes.iter().flat_map(|i| i.to_be_bytes()).collect();
            batch.insert(keys::index_key(kind, &term, log_id, first), value);
        }
    }
}

impl Store {
    /// From now on the store (every handle on it) computes and posts no
    /// screening terms of records: the same ingest code without the
    /// screening index, the baseline that `node/benches/screening.rs`
    /// measures the index's cost against. The index is marked unbuilt, so
    /// the next [`Store::open`] builds it whole again; postings of
    /// restricted denials, from their headers alone, are still written.
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

    /// Whether records' screening terms are posted.
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

    /// The denials (log, index) posted under screening `term`, each once,
    /// or `None` when more than `limit` are.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn screen_postings(
        &self,
        term: &str,
        limit: usize,
    ) -> Result<Option<Vec<(Origin, u64)>>, StoreError> {
        Ok(self.screen_postings_by_log(term, limit)?.map(|by_log| {
            by_log
                .into_iter()
                .flat_map(|(origin, indexes)| indexes.into_iter().map(move |i| (origin.clone(), i)))
                .collect()
        }))
    }

    /// [`Store::screen_postings`] by log, in the logs' id order, each log's
    /// indexes ascending: a screening query gathers thousands of postings,
    /// and naming the log once per log rather than once per posting keeps
    /// that cheap.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn screen_postings_by_log(
        &self,
        term: &str,
        limit: usize,
    ) -> Result<Option<PostingsByLog>, StoreError> {
        let mut found = std::collections::BTreeSet::new();
        for item in self
            .inner
            .data
            .scan_prefix(keys::index_prefix(IndexKind::Screen, term))
        {
            let (key, postings) = item?;
            let Some(log_id) = keys::index_log(&key) else {
                continue;
            };
            for index in postings.chunks_exact(8) {
                let index = u64::from_be_bytes(index.try_into().expect("chunks of eight bytes"));
                found.insert((log_id, index));
            }
            if found.len() > limit {
                return Ok(None);
            }
        }
        let mut by_log: Vec<(u32, Vec<u64>)> = Vec::new();
        for (log_id, index) in found {
            match by_log.last_mut() {
                Some((last, indexes)) if *last == log_id => indexes.push(index),
                _ => by_log.push((log_id, vec![index])),
            }
        }
        Ok(Some(
            by_log
                .into_iter()
                .filter_map(|(log_id, indexes)| Some((self.origin_of(log_id)?, indexes)))
                .collect(),
        ))
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
                    "indexing the store for screening (about a minute per 100,000 denials)"
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
                let mut postings = GroupPostings::new();
                self.scan_entries(log_id, next, end - 1, |index, raw| {
                    let entry = decode_entry(raw).ok_or_else(|| {
                        StoreError::Corrupt(format!("entry {index} of {origin} is malformed"))
                    })?;
                    let header = entry.decode_header().map_err(|e| {
                        StoreError::Corrupt(format!("entry {index} of {origin}: {e}"))
                    })?;
                    post_header(&mut postings, &header);
                    if screened_denial(&header).is_some()
                        && let Some(payload) = self.payload(&header.payload.sha256.0)?
                        && let Ok(record) = Record::parse(header.kind, &payload)
                    {
                        post_terms(
                            &mut postings,
                            &header,
                            &Indexed::of(&record, ScreeningIndex::Kept).screening,
                        );
                    }
                    Ok(true)
                })?;
                let mut batch = sled::Batch::default();
                write_postings(&mut batch, postings, log_id);
                batch.insert(&cursor_key[..], &end.to_be_bytes()[..]);
                self.inner.data.apply_batch(batch)?;
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

    /// Removes every screening posting and cursor, a batch at a time.
    fn clear_screen_index(&self) -> Result<(), StoreError> {
        let postings = vec![keys::INDEX, IndexKind::Screen as u8];
        for prefix in [postings, vec![keys::SCREEN_CURSOR]] {
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
