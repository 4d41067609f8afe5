//! The replica pipeline: entries of another member's log verified (by the
//! key the roster authorises, in signature batches on every core; records
//! in the member's own state's name; times by the ingesting node's clock),
//! checked against the signed checkpoints held, and staged in groups that a
//! writer thread applies in order.

use std::collections::BTreeMap;

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{self, EntryError, EntryHeader, SignedEntry};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup};
use concord_protocol::ledger::{self, Appender, LedgerError};
use concord_protocol::merkle::{self};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};

use super::keys::{self, log_key};
use super::screen::{Indexed, ScreeningIndex};
use super::staging::{Rejected, Sealed, Staging};
use super::{Store, StoreError};
use crate::parallel::{self, InOrder, par_map};

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

/// An entry as a caller hands it in: signed bytes, payload if carried.
pub(super) type Item = (SignedEntry, Option<Vec<u8>>);

/// An entry decoded: signed bytes, header, payload if carried.
pub(super) type RunItem = (SignedEntry, EntryHeader, Option<Vec<u8>>);

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
    fn check(
        mut self,
        origin: &Origin,
        roster: &impl KeyLookup,
        screening: ScreeningIndex,
    ) -> Checked {
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
            results: check_entries(roster, &self.items, &self.headers, screening),
            run: self,
        }
    }
}

/// A slice of a run, checked: staged next, then dropped by the writer once
/// sled applied it.
struct Checked {
    run: Run,
    /// One result per entry checked, up to and including the first failure.
    results: Vec<Result<Option<Indexed>, Rejected>>,
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
    country: Option<&Country>,
    run_start: u64,
    slice: &Checked,
    target: &mut Option<SignedCheckpoint>,
    now: u64,
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
        if let Err(rejected) = ledger::check_follows(staging, header, now)? {
            outcome.rejected.push((header.index, rejected.into()));
            return Ok(RunEnd::Stopped);
        }
        // A reply is judged only with its payload, which says what it
        // answers; `country` is missing only for a log the roster does not
        // hold, whose entries the check refused already.
        if let (Some(country), Some(request)) = (
            country,
            terms
                .as_ref()
                .and_then(|t| t.terms.answered_request.as_ref()),
        ) && let Err(rejected) = ledger::check_reply(staging, country, request, header.index)?
        {
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
/// signatures in one batch, payload digests and records, the states they
/// name, and the records' index terms. One result per entry, up to and
/// including the first failure.
fn check_entries(
    roster: &impl KeyLookup,
    items: &[Item],
    headers: &[EntryHeader],
    screening: ScreeningIndex,
) -> Vec<Result<Option<Indexed>, Rejected>> {
    let Some(first) = headers.first() else {
        return Vec::new();
    };
    // Every header here is of the run's log, so of one member.
    let country = match ledger::publisher_country(roster, &first.origin) {
        Ok(country) => country,
        Err(refusal) => return vec![Err(refusal.into())],
    };
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
        let result = check_record(roster, &country, header, payload.as_deref())
            .map(|record| record.map(|r| Indexed::of(&r, screening)));
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

impl Store {
    /// Verifies and appends entries of another member's log, in any order and
    /// with duplicates. An entry is stored only after its signature by the key
    /// the roster authorises for its index verified, its payload (if sent)
    /// matched the header and published in the member's state's name only,
    /// its time followed the log's and was not ahead of `now` (this node's
    /// clock) beyond the ledger's tolerance, and the tree it extends matched
    /// any signed checkpoint held for that size. Entries past a gap are held aside until
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
        now: u64,
    ) -> Result<IngestOutcome, StoreError> {
        let mut outcome = IngestOutcome::default();
        if let Err(closed) = ledger::check_open(origin, self.quarantine(origin)?, Appender::Replica)
        {
            outcome.rejected = items.iter().map(|_| (0, closed.clone().into())).collect();
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
        let (end, items) = self.append_run(log_id, origin, in_order, roster, now, &mut outcome)?;
        if matches!(end, RunEnd::Stopped | RunEnd::Mismatch) {
            // What follows a bad entry is dropped until it is sent again.
            return Ok(outcome);
        }

        // Decode, and split by position against the stored head.
        let head = self.head_of(log_id)?;
        let mut fills = Vec::new();
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
                let stored = (signed, header, payload);
                self.check_stored(log_id, stored, roster, &mut fills, &mut outcome)?;
            } else {
                ahead.insert(header.index, (signed, header, payload));
            }
        }
        for stored in self.take_pending(log_id, head.size, &mut ahead)? {
            self.check_stored(log_id, stored, roster, &mut fills, &mut outcome)?;
        }
        let country = ledger::publisher_country(roster, origin).ok();
        self.fill_payloads(log_id, country.as_ref(), fills, &mut outcome)?;
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
        let (end, _) = self.append_run(log_id, origin, sorted, roster, now, &mut outcome)?;
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
        now: u64,
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
        let country = ledger::publisher_country(roster, origin).ok();
        let screening = self.screening_index();
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
                    if let Some(done) = checks.start(move || slice.check(origin, roster, screening))
                    {
                        break Some(done);
                    }
                };
                let Some(mut slice) = checked else {
                    break;
                };
                end = stage_slice(
                    &mut staging,
                    country.as_ref(),
                    start,
                    &slice,
                    &mut target,
                    now,
                    outcome,
                )?;
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

    /// An entry for an index already stored: a replay, or evidence. A
    /// replay that carries a payload this node lacks goes to `fills`.
    fn check_stored(
        &self,
        log_id: u32,
        (signed, header, payload): RunItem,
        roster: &impl KeyLookup,
        fills: &mut Vec<Fill>,
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
            // header alone, or another entry brought the same bytes since);
            // it is kept only if it is the record the header commits to, in
            // the member's state's name, as if it had come with the header.
            if let Some(payload) = payload
                && !fills.iter().any(|fill| fill.header.index == header.index)
                && (!self.holds_payload(&header.payload.sha256.0)?
                    || self.marked_missing(log_id, header.index)?)
                && self.purge_record_by_id(log_id, header.index)?.is_none()
            {
                let checked = ledger::publisher_country(roster, &header.origin)
                    .map_err(Rejected::from)
                    .and_then(|country| check_record(roster, &country, &header, Some(&payload)));
                match checked {
                    Ok(record) => fills.push(Fill {
                        terms: record.map(|r| Indexed::of(&r, self.screening_index())),
                        header,
                        payload,
                    }),
                    Err(rejected) => outcome.rejected.push((header.index, rejected)),
                }
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
}

/// The payload of a stored entry that came after its header, checked
/// against it: kept with what its record indexes.
pub(super) struct Fill {
    header: EntryHeader,
    payload: Vec<u8>,
    terms: Option<Indexed>,
}

impl Store {
    /// Keeps `fills` in one batch, each payload with the terms its record
    /// posts and the validity it gives its denial, so that the log's
    /// statuses and indexes are what they would be had each payload come
    /// with its header. A consultation reply whose payload breaks the
    /// ledger's rules (`ledger::check_reply`, for a log of a member of
    /// `country`) is not kept, as a payload in another state's name is not.
    fn fill_payloads(
        &self,
        log_id: u32,
        country: Option<&Country>,
        fills: Vec<Fill>,
        outcome: &mut IngestOutcome,
    ) -> Result<(), StoreError> {
        if fills.is_empty() {
            return Ok(());
        }
        let mut staging = Staging::new(self, log_id)?;
        for fill in &fills {
            let index = fill.header.index;
            if let (Some(country), Some(request)) = (
                country,
                fill.terms
                    .as_ref()
                    .and_then(|t| t.terms.answered_request.as_ref()),
            ) && let Err(rejected) = ledger::check_reply(&staging, country, request, index)?
            {
                outcome.rejected.push((index, rejected.into()));
                continue;
            }
            staging.fill(&fill.header, &fill.payload, fill.terms.as_ref())?;
            outcome.payloads_filled += 1;
        }
        // No entry was staged: the head and last page go back as they were.
        staging.commit(None)
    }
}

/// Checks what a replica entry publishes, for a log of a member of
/// `country`: its payload (when carried) against its header and its record
/// schema, and the states header and record name (a consultation request's
/// denying state by `roster`). Returns the record.
fn check_record(
    roster: &impl KeyLookup,
    country: &Country,
    header: &EntryHeader,
    payload: Option<&[u8]>,
) -> Result<Option<Record>, Rejected> {
    let record = match payload {
        Some(bytes) => check_payload(header, bytes)?,
        None => None,
    };
    ledger::check_names(country, header, record.as_ref())?;
    if let Some(record) = &record {
        ledger::check_denying_state(roster, record)?;
    }
    Ok(record)
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
