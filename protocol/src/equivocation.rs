//! Equivocation proofs: two statements a log signed that cannot both be true.
//!
//! Two kinds exist, each self-contained and verifiable offline with the roster
//! alone:
//! - `entries`: two entry headers for the same origin and index with different
//!   bytes, both carrying a valid signature by a key the roster authorises for
//!   that origin and index;
//! - `checkpoints`: two checkpoint notes for the same origin and tree size
//!   with different root hashes, both signed by a key of that origin.
//!
//! Checkpoints of different sizes that disagree are turned into an `entries`
//! proof by the node that notices them, by fetching the signed entries where
//! the two trees part.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, CosignatureVerifier, SignedCheckpoint};
use crate::entry::{EntryError, WireEntry};
use crate::note::NoteVerifier;
use crate::origin::Origin;
use crate::record::Country;

/// The keys a verifier trusts, and whose logs they sign, as the roster
/// states them.
pub trait KeyLookup {
    /// The key authorised to sign entry `index` of `origin`.
    ///
    /// # Errors
    /// A [`KeyRefusal`] saying why no key is authorised there.
    fn entry_key(&self, origin: &Origin, index: u64) -> Result<VerifyingKey, KeyRefusal>;
    /// The state of the member whose log is `origin`: the only state in
    /// whose name that log publishes.
    ///
    /// # Errors
    /// A [`KeyRefusal`] when `origin` is not the log of a member that may
    /// publish.
    fn member_country(&self, origin: &Origin) -> Result<Country, KeyRefusal>;
    /// The keys that may sign checkpoints of `origin`.
    fn checkpoint_verifiers(&self, origin: &Origin) -> Vec<NoteVerifier>;
    /// The witnesses whose cosignatures count on checkpoints of `log`: a
    /// log's own member is not a witness of it.
    fn witnesses(&self, log: &Origin) -> Vec<CosignatureVerifier>;
}

/// Why the roster authorises no key for an origin and index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    #[error("{0} is not the log of any roster member")]
    UnknownOrigin(Origin),
    #[error("{0} belongs to an observer, and observers cannot publish")]
    Observer(Origin),
    #[error("no key of {origin} is authorised at index {index}")]
    NoKeyAtIndex { origin: Origin, index: u64 },
    #[error("the key of {origin} for index {index} was revoked")]
    Revoked { origin: Origin, index: u64 },
}

/// Why an equivocation proof does not prove anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("entry {0}: {1}")]
    Entry(&'static str, EntryError),
    #[error("checkpoint {0}: {1}")]
    Checkpoint(&'static str, CheckpointError),
    #[error("the two statements are about different logs or positions")]
    DifferentPositions,
    #[error("the two statements are identical")]
    Identical,
    #[error("entry {0} carries a payload; a proof holds headers only")]
    Payload(&'static str),
    #[error(transparent)]
    NoKey(#[from] KeyRefusal),
}

/// A self-contained proof that a log equivocated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EquivocationProof {
    Entries { a: WireEntry, b: WireEntry },
    Checkpoints { a: String, b: String },
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivocation {
    pub origin: Origin,
    /// The entry index, or the tree size for checkpoints.
    pub position: u64,
}

impl EquivocationProof {
    /// Verifies the proof against the roster's keys.
    ///
    /// # Errors
    /// A [`ProofError`] saying which part fails.
    pub fn verify(&self, keys: &impl KeyLookup) -> Result<Equivocation, ProofError> {
        match self {
            Self::Entries { a, b } => {
                // A payload would be carried but not proven (the signature
                // covers its digest only), and bytes a verifier ignores
                // could change unseen: the form is headers only.
                for (name, wire) in [("a", a), ("b", b)] {
                    if wire.payload.is_some() {
                        return Err(ProofError::Payload(name));
                    }
                }
                let (entry_a, _) = a.decode().map_err(|e| ProofError::Entry("a", e))?;
                let (entry_b, _) = b.decode().map_err(|e| ProofError::Entry("b", e))?;
                let header_a = entry_a
                    .decode_header()
                    .map_err(|e| ProofError::Entry("a", e))?;
                let header_b = entry_b
                    .decode_header()
                    .map_err(|e| ProofError::Entry("b", e))?;
                if header_a.origin != header_b.origin || header_a.index != header_b.index {
                    return Err(ProofError::DifferentPositions);
                }
                if entry_a.header_bytes == entry_b.header_bytes {
                    return Err(ProofError::Identical);
                }
                let key = keys.entry_key(&header_a.origin, header_a.index)?;
                entry_a
                    .check_signature(&header_a, &key)
                    .map_err(|e| ProofError::Entry("a", e))?;
                entry_b
                    .check_signature(&header_b, &key)
                    .map_err(|e| ProofError::Entry("b", e))?;
                Ok(Equivocation {
                    origin: header_a.origin,
                    position: header_a.index,
                })
            }
            Self::Checkpoints { a, b } => {
                let cp_a = SignedCheckpoint::parse(a.as_bytes())
                    .map_err(|e| ProofError::Checkpoint("a", e))?;
                let cp_b = SignedCheckpoint::parse(b.as_bytes())
                    .map_err(|e| ProofError::Checkpoint("b", e))?;
                let origin = cp_a.checkpoint.origin.clone();
                if cp_b.checkpoint.origin != origin || cp_a.checkpoint.size != cp_b.checkpoint.size
                {
                    return Err(ProofError::DifferentPositions);
                }
                if cp_a.checkpoint.root == cp_b.checkpoint.root {
                    return Err(ProofError::Identical);
                }
                let verifiers = keys.checkpoint_verifiers(&origin);
                cp_a.verify(&origin, &verifiers)
                    .map_err(|e| ProofError::Checkpoint("a", e))?;
                cp_b.verify(&origin, &verifiers)
                    .map_err(|e| ProofError::Checkpoint("b", e))?;
                Ok(Equivocation {
                    origin,
                    position: cp_a.checkpoint.size,
                })
            }
        }
    }
}
