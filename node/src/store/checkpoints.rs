//! Signed checkpoints of other logs (and of ours, from witnesses): checked
//! against the stored tree, their cosignatures merged, kept as the sync
//! target when ahead.

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::equivocation::{EquivocationProof, KeyLookup, KeyRefusal};
use concord_protocol::ledger::{self, Appender, LedgerError};
use concord_protocol::merkle::{self};
use concord_protocol::origin::Origin;

use super::keys::{self, log_item_key, log_key};
use super::staging::Rejected;
use super::{Store, StoreError};

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

impl Store {
    pub(super) fn target_by_id(&self, log_id: u32) -> Result<Option<SignedCheckpoint>, StoreError> {
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
        if let Err(closed) =
            ledger::check_open(&origin, self.quarantine(&origin)?, Appender::Replica)
        {
            return Ok(Err(closed.into()));
        }
        let log_id = self.ensure_log_id(&origin)?;
        let _write = self.lock_log(log_id);
        let head = self.head_of(log_id)?;
        let size = signed.checkpoint.size;
        let witnesses = roster.witnesses(&origin);
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
