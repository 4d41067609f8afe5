//! Entries held ahead of a gap in a replica log, until the gap fills.

use std::collections::BTreeMap;
use std::ops::Range;

use concord_protocol::entry::{self, SignedEntry};
use concord_protocol::origin::Origin;

use super::keys::{log_item_key, log_key};
use super::replica::RunItem;
use super::staging::Rejected;
use super::{MAX_PENDING_PER_LOG, Store, StoreError};

impl Store {
    /// The ranges of indexes of `origin` from its stored head up to `limit`
    /// that this store holds neither stored nor aside ahead of a gap, in
    /// order: what sync still has to fetch.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn missing(&self, origin: &Origin, limit: u64) -> Result<Vec<Range<u64>>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok((limit > 0).then_some(0..limit).into_iter().collect());
        };
        let mut next = self.head_of(log_id)?.size;
        let mut missing = Vec::new();
        let held = self
            .inner
            .pending
            .range(log_item_key(b'p', log_id, next)..log_item_key(b'p', log_id, limit.max(next)));
        for key in held.keys() {
            let key = key?;
            let index = key
                .get(5..13)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt(format!("pending key {key:?} is malformed")))?;
            if index > next {
                missing.push(next..index);
            }
            next = index + 1;
        }
        if next < limit {
            missing.push(next..limit);
        }
        Ok(missing)
    }

    /// Moves the entries held from index `from` on, in order up to the
    /// first gap, into `ahead`. Returns those held for an index below
    /// `from`, which the log reached otherwise meanwhile: one may still
    /// carry the payload the stored entry came without (or be evidence).
    pub(super) fn take_pending(
        &self,
        log_id: u32,
        from: u64,
        ahead: &mut BTreeMap<u64, RunItem>,
    ) -> Result<Vec<RunItem>, StoreError> {
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
        let stale: Vec<_> = self
            .inner
            .pending
            .range(log_item_key(b'p', log_id, 0)..log_item_key(b'p', log_id, from))
            .collect::<Result<_, _>>()?;
        let mut below = Vec::new();
        for (key, raw) in stale {
            self.inner.pending.remove(key)?;
            if let Some((signed, payload)) = decode_pending(&raw)
                && let Ok(header) = signed.decode_header()
            {
                below.push((signed, header, payload));
            }
        }
        Ok(below)
    }

    pub(super) fn hold_pending(
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
}

fn encode_pending(signed: &SignedEntry, payload: Option<&[u8]>) -> Vec<u8> {
    serde_json::to_vec(&signed.to_wire(payload)).expect("a wire entry holds only strings")
}

fn decode_pending(raw: &[u8]) -> Option<(SignedEntry, Option<Vec<u8>>)> {
    let wire: entry::WireEntry = serde_json::from_slice(raw).ok()?;
    wire.decode().ok()
}
