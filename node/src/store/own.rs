//! Appending to the own log: [`OwnGroup`] stages entries its writer
//! (`crate::publish`) signed, and commits them with the checkpoint the
//! writer signed over the staged tree, in one batch.

use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{EntryRef, SignedEntry};
use concord_protocol::ledger::{self, Appender};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};

use super::screen::Indexed;
use super::staging::{AppendOutcome, Rejected, Staging};
use super::{Store, StoreError};

/// A group of entries being appended to the node's own log, which its
/// writer signs: the store checks each against the log's state and its
/// member's country by the ledger's rules, stages it, and gives the root of the new tree for the
/// writer to sign; [`OwnGroup::commit`] stores the group and that
/// checkpoint in one batch. The log stays locked until then.
pub struct OwnGroup<'a> {
    staging: Staging<'a>,
    origin: Origin,
    /// The member's roster country, the only state it publishes in the name of.
    country: Country,
    _write: std::sync::MutexGuard<'a, ()>,
}

impl OwnGroup<'_> {
    /// The index the next entry must have.
    pub fn next_index(&self) -> u64 {
        self.staging.size
    }

    /// Whether the own log may grow: not while it is quarantined, which
    /// the ledger decides.
    ///
    /// # Errors
    /// [`StoreError`] when the quarantine cannot be read.
    pub fn check_open(&self) -> Result<Result<(), Rejected>, StoreError> {
        let quarantine = self.staging.store().quarantine(&self.origin)?;
        Ok(ledger::check_open(&self.origin, quarantine, Appender::Own).map_err(Rejected::from))
    }

    /// The time of the log's last entry, which the next may not go back
    /// from; `None` for an empty log.
    pub fn last_time(&self) -> Option<u64> {
        ledger::LogState::last_time(&self.staging)
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

    /// Stages `entry`, signed by the writer, with its `payload` and its
    /// `record` (whose index terms it posts), if it may follow the log as
    /// staged so far for a writer whose clock reads `now`, in the member's
    /// own state's name; a consultation reply only as `ledger::check_reply`
    /// allows.
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be read.
    pub fn push(
        &mut self,
        entry: SignedEntry,
        payload: Vec<u8>,
        record: &Record,
        now: u64,
    ) -> Result<Result<AppendOutcome, Rejected>, StoreError> {
        let header = match entry.decode_header() {
            Ok(header) => header,
            Err(e) => return Ok(Err(e.into())),
        };
        let index = self.staging.size;
        if let Err(rejected) = ledger::check_position(&self.origin, index, &header) {
            return Ok(Err(rejected.into()));
        }
        if let Err(rejected) = ledger::check_names(&self.country, &header, Some(record)) {
            return Ok(Err(rejected.into()));
        }
        if let Err(rejected) = ledger::check_follows(&self.staging, &header, now)? {
            return Ok(Err(rejected.into()));
        }
        if let Record::ConsultationReply(reply) = record
            && let Err(rejected) =
                ledger::check_reply(&self.staging, &self.country, &reply.request, index)?
        {
            return Ok(Err(rejected.into()));
        }
        let indexed = Indexed::of(record, self.staging.store().screening_index());
        let leaf_hash = self
            .staging
            .push(&entry, &header, Some(&payload), Some(&indexed))?;
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
    /// Opens a group of entries to append to the node's own log, `origin`,
    /// of a member of `country`.
    ///
    /// # Errors
    /// [`StoreError`] when the log's head cannot be read.
    pub fn own_group(&self, origin: &Origin, country: Country) -> Result<OwnGroup<'_>, StoreError> {
        let log_id = self.ensure_log_id(origin)?;
        let write = self.lock_log(log_id);
        Ok(OwnGroup {
            staging: Staging::new(self, log_id)?,
            origin: origin.clone(),
            country,
            _write: write,
        })
    }
}
