//! Proof documents: an inclusion or a consistency proof as `concord proof`
//! prints it and the API serves it (PROTOCOL.md §4.1), self-contained with
//! the tree it is for and, when the node holds one, the signed checkpoint
//! of that tree, so an observer can check it offline against the roster.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::entry::Digest256;
use crate::equivocation::KeyLookup;
use crate::merkle::{self, MerkleError};
use crate::origin::Origin;

/// An inclusion or a consistency proof with what it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Proof {
    /// Entry `index`, whose leaf hash is `leaf_hash`, is in the tree of
    /// `tree_size` leaves with root `root`.
    Inclusion {
        origin: Origin,
        index: u64,
        leaf_hash: Digest256,
        tree_size: u64,
        root: Digest256,
        hashes: Vec<Digest256>,
        /// The signed note of a checkpoint of `tree_size` and `root`, or
        /// `None` when the node holds no checkpoint of that size.
        checkpoint: Option<String>,
    },
    /// The tree of `old_size` leaves with root `old_root` is a prefix of
    /// the tree of `tree_size` leaves with root `root`.
    Consistency {
        origin: Origin,
        old_size: u64,
        old_root: Digest256,
        tree_size: u64,
        root: Digest256,
        hashes: Vec<Digest256>,
        checkpoint: Option<String>,
    },
}

/// Why a proof document does not prove what it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof does not verify: {0}")]
    Merkle(#[from] MerkleError),
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint is for {origin} at size {size}, not the proof's tree")]
    OtherTree { origin: Origin, size: u64 },
    #[error("the proof carries no checkpoint, so nothing ties its root to the log")]
    NoCheckpoint,
}

impl Proof {
    /// Checks the hashes against the stated root, and that the checkpoint,
    /// if any, is of the same origin, size and root. Nothing here says the
    /// log signed that root: [`Proof::verify_signed`] does.
    ///
    /// # Errors
    /// [`ProofError::Merkle`], or a checkpoint that does not parse or is of
    /// another tree.
    pub fn verify(&self) -> Result<Option<SignedCheckpoint>, ProofError> {
        let (origin, tree_size, root, checkpoint) = match self {
            Self::Inclusion {
                origin,
                index,
                leaf_hash,
                tree_size,
                root,
                hashes,
                checkpoint,
            } => {
                merkle::verify_inclusion(&raw(hashes), *tree_size, &root.0, *index, &leaf_hash.0)?;
                (origin, *tree_size, root, checkpoint)
            }
            Self::Consistency {
                origin,
                old_size,
                old_root,
                tree_size,
                root,
                hashes,
                checkpoint,
            } => {
                merkle::verify_consistency(
                    &raw(hashes),
                    *tree_size,
                    &root.0,
                    *old_size,
                    &old_root.0,
                )?;
                (origin, *tree_size, root, checkpoint)
            }
        };
        let Some(note) = checkpoint else {
            return Ok(None);
        };
        let signed = SignedCheckpoint::parse(note.as_bytes())?;
        let body = &signed.checkpoint;
        if &body.origin != origin || body.size != tree_size || body.root != root.0 {
            return Err(ProofError::OtherTree {
                origin: body.origin.clone(),
                size: body.size,
            });
        }
        Ok(Some(signed))
    }

    /// [`Proof::verify`], and that the log's key in `keys` (the roster)
    /// signed the checkpoint it carries.
    ///
    /// # Errors
    /// As [`Proof::verify`], [`ProofError::NoCheckpoint`], or the
    /// checkpoint's signature error.
    pub fn verify_signed(&self, keys: &impl KeyLookup) -> Result<SignedCheckpoint, ProofError> {
        let signed = self.verify()?.ok_or(ProofError::NoCheckpoint)?;
        let origin = signed.checkpoint.origin.clone();
        signed.verify(&origin, &keys.checkpoint_verifiers(&origin))?;
        Ok(signed)
    }
}

fn raw(hashes: &[Digest256]) -> Vec<merkle::Hash> {
    hashes.iter().map(|h| h.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::note::NoteVerifier;
    use ed25519_dalek::SigningKey;

    fn leaf(i: u8) -> merkle::Hash {
        merkle::leaf_hash(&[i])
    }

    fn tree(n: u8) -> Vec<merkle::Hash> {
        let mut stored = Vec::new();
        for i in 0..n {
            let new =
                merkle::stored_hashes_for_record(u64::from(i), leaf(i), &stored).expect("hashes");
            stored.extend(new);
        }
        stored
    }

    #[test]
    fn a_proof_document_verifies_and_refuses_what_it_should() {
        let origin = Origin::new("pacific-alliance.concord/co").expect("origin");
        let stored = tree(7);
        let root = merkle::tree_hash(7, &stored).expect("root");
        let key = SigningKey::from_bytes(&[4; 32]);
        let note = SignedCheckpoint::sign(Checkpoint::new(origin.clone(), 7, root), &key);
        let proof = Proof::Inclusion {
            origin: origin.clone(),
            index: 3,
            leaf_hash: Digest256(leaf(3)),
            tree_size: 7,
            root: Digest256(root),
            hashes: merkle::inclusion_proof(7, 3, &stored)
                .expect("proof")
                .into_iter()
                .map(Digest256)
                .collect(),
            checkpoint: Some(String::from_utf8(note.to_bytes()).expect("UTF-8")),
        };
        assert_eq!(proof.verify(), Ok(Some(note.clone())));

        // Its JSON: hashes in lowercase hex, unknown fields refused.
        let json = serde_json::to_value(&proof).expect("serialises");
        assert_eq!(json["type"], "inclusion");
        assert_eq!(json["root"], hex::encode(root));
        let back: Proof = serde_json::from_value(json.clone()).expect("parses");
        assert_eq!(back, proof);
        let mut extra = json.clone();
        extra["size"] = 7.into();
        assert!(serde_json::from_value::<Proof>(extra).is_err());
        let mut upper = json;
        upper["root"] = hex::encode_upper(root).into();
        assert!(serde_json::from_value::<Proof>(upper).is_err());

        // Another leaf, or a checkpoint of another size, does not verify.
        let mut other_leaf = proof.clone();
        if let Proof::Inclusion { leaf_hash, .. } = &mut other_leaf {
            *leaf_hash = Digest256(leaf(4));
        }
        assert!(matches!(other_leaf.verify(), Err(ProofError::Merkle(_))));
        let mut other_tree = proof.clone();
        let six = SignedCheckpoint::sign(
            Checkpoint::new(
                origin.clone(),
                6,
                merkle::tree_hash(6, &stored).expect("root"),
            ),
            &key,
        );
        if let Proof::Inclusion { checkpoint, .. } = &mut other_tree {
            *checkpoint = Some(String::from_utf8(six.to_bytes()).expect("UTF-8"));
        }
        assert!(matches!(
            other_tree.verify(),
            Err(ProofError::OtherTree { size: 6, .. })
        ));

        // Consistency from 4 to 7.
        let consistency = Proof::Consistency {
            origin: origin.clone(),
            old_size: 4,
            old_root: Digest256(merkle::tree_hash(4, &stored).expect("root")),
            tree_size: 7,
            root: Digest256(root),
            hashes: merkle::consistency_proof(7, 4, &stored)
                .expect("proof")
                .into_iter()
                .map(Digest256)
                .collect(),
            checkpoint: None,
        };
        assert_eq!(consistency.verify(), Ok(None));
        let verifier = NoteVerifier::new(origin.as_str(), key.verifying_key()).expect("valid");
        assert!(note.verify(&origin, &[verifier]).is_ok());
    }
}
