//! Payloads this node may read but does not hold: an entry that came
//! without its payload (its sender may not serve it, or does not hold it)
//! is marked once, and the mark goes in the batch that keeps the payload
//! when it comes for that entry (`Staging::fill`), even if another entry
//! brought the same bytes meanwhile, so that each entry's record is
//! indexed. The marks survive a restart, so anti-entropy still fetches
//! the payload, and `status` counts them.

use concord_protocol::entry::{EntryHeader, Visibility};
use concord_protocol::origin::Origin;

use super::keys::{self, log_item_key, log_key};
use super::{Store, StoreError, decode_entry};

/// Entries looked at under one hold of a log's write lock, so that a long
/// log does not keep its ingest waiting.
const LOOK_CHUNK: u64 = 4096;

impl Store {
    /// Whether the payload with this digest is held.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn holds_payload(&self, digest: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.inner.data.contains_key(keys::payload_key(digest))?)
    }

    /// Marks every entry of `origin` not looked at yet whose payload
    /// `may_read` says this node may read, that it does not hold and never
    /// purged. Each entry is looked at once; the marks and how far they
    /// reach are written together, under the log's write lock, so a
    /// payload that comes meanwhile cannot leave a mark behind it.
    ///
    /// # Errors
    /// [`StoreError`] on a read or write failure, or a malformed entry.
    pub fn mark_missing_payloads(
        &self,
        origin: &Origin,
        may_read: impl Fn(&Visibility) -> bool,
    ) -> Result<(), StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(());
        };
        loop {
            let _write = self.lock_log(log_id);
            let head = self.head_of(log_id)?.size;
            let from = self.looked_at(log_id)?;
            if from >= head {
                return Ok(());
            }
            let to = head.min(from + LOOK_CHUNK);
            let mut batch = sled::Batch::default();
            self.scan_entries(log_id, from, to - 1, |index, raw| {
                let header = decode_entry(raw)
                    .and_then(|signed| signed.decode_header().ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("entry {index} of {origin} is malformed"))
                    })?;
                if may_read(&header.payload.visibility)
                    && !self.holds_payload(&header.payload.sha256.0)?
                    && self.purge_record_by_id(log_id, index)?.is_none()
                {
                    batch.insert(&log_item_key(keys::MISSING, log_id, index)[..], &[][..]);
                }
                Ok(true)
            })?;
            batch.insert(
                &log_key(keys::MISSING_SCANNED, log_id)[..],
                &to.to_be_bytes()[..],
            );
            self.inner.data.apply_batch(batch)?;
        }
    }

    /// How far the entries of a log were looked at for missing payloads.
    fn looked_at(&self, log_id: u32) -> Result<u64, StoreError> {
        match self
            .inner
            .data
            .get(log_key(keys::MISSING_SCANNED, log_id))?
        {
            None => Ok(0),
            Some(raw) => raw
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt(format!("missing-payload mark of log {log_id}"))),
        }
    }

    /// The headers of the first `limit` entries of `origin` marked
    /// missing, in index order.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed entry.
    pub fn missing_payloads(
        &self,
        origin: &Origin,
        limit: usize,
    ) -> Result<Vec<EntryHeader>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(Vec::new());
        };
        let marks = self
            .inner
            .data
            .scan_prefix(log_key(keys::MISSING, log_id))
            .keys()
            .take(limit);
        let mut out = Vec::new();
        for key in marks {
            let index = keys::item_of(&key?).unwrap_or(u64::MAX);
            let header = self
                .entry_by_id(log_id, index)?
                .and_then(|signed| signed.decode_header().ok())
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "entry {index} of {origin}, marked for its payload, is missing or malformed"
                    ))
                })?;
            out.push(header);
        }
        Ok(out)
    }

    /// How many entries of `origin` are marked missing.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn missing_payload_count(&self, origin: &Origin) -> Result<u64, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(0);
        };
        let mut count = 0;
        for key in self
            .inner
            .data
            .scan_prefix(log_key(keys::MISSING, log_id))
            .keys()
        {
            key?;
            count += 1;
        }
        Ok(count)
    }

    /// Whether entry `index` of a log is marked missing its payload.
    pub(super) fn marked_missing(&self, log_id: u32, index: u64) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .data
            .contains_key(log_item_key(keys::MISSING, log_id, index))?)
    }
}
