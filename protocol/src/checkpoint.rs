//! Checkpoints (C2SP `tlog-checkpoint`) and witness cosignatures (C2SP
//! `tlog-cosignature`, Ed25519 v1).
//!
//! A checkpoint body is a note text of at least three lines:
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <root hash, canonical base64 with padding>\n
//! [extension lines]
//! ```
//!
//! The member signs it as a signed note under the key named by the origin
//! (algorithm 0x01). A witness adds a signature line whose key id is
//! SHA-256(name || 0x0A || 0x04 || public key)[:4] and whose signature bytes are
//! an 8-byte big-endian timestamp followed by an Ed25519 signature over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::merkle::Hash;
use crate::note::{self, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier};
use crate::origin::Origin;

/// Largest number of extension lines accepted.
pub const MAX_EXTENSION_LINES: usize = 8;

/// Why a checkpoint or cosignature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("checkpoint body has fewer than three lines")]
    TooShort,
    #[error("checkpoint has more than {MAX_EXTENSION_LINES} extension lines")]
    TooManyExtensions,
    #[error("checkpoint origin line is invalid: {0}")]
    Origin(String),
    #[error("checkpoint size line {0:?} is not a decimal number without leading zeros")]
    Size(String),
    #[error("checkpoint root line {0:?} is not the base64 of 32 bytes")]
    Root(String),
    #[error("checkpoint is for {found}, expected {expected}")]
    WrongOrigin { expected: Origin, found: Origin },
    #[error("cosignature by {0} is malformed")]
    MalformedCosignature(String),
    #[error("cosignature by {0} does not verify")]
    BadCosignature(String),
}

/// The body of a checkpoint: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: Origin,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: Origin, size: u64, root: Hash) -> Self {
        Self {
            origin,
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text of this checkpoint.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint body (a note text).
    ///
    /// # Errors
    /// The first line that is not as the format requires.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::TooShort)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooShort);
        };
        let origin = Origin::new(origin).map_err(|e| CheckpointError::Origin(e.to_string()))?;
        let size_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size_value: u64 = if size_ok { size.parse().ok() } else { None }
            .ok_or_else(|| CheckpointError::Size(size.to_owned()))?;
        let root_bytes =
            crate::base64::decode(root).map_err(|_| CheckpointError::Root(root.to_owned()))?;
        let root_hash: Hash = root_bytes
            .try_into()
            .map_err(|_| CheckpointError::Root(root.to_owned()))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.len() > MAX_EXTENSION_LINES {
            return Err(CheckpointError::TooManyExtensions);
        }
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::TooShort);
        }
        Ok(Self {
            origin,
            size: size_value,
            root: root_hash,
            extensions,
        })
    }
}

/// A checkpoint together with the signed note that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Note,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log's key; the key name is the origin.
    pub fn sign(checkpoint: Checkpoint, key: &SigningKey) -> Self {
        let mut note =
            Note::new(checkpoint.to_text()).expect("a checkpoint text is always a valid note text");
        let signer = NoteSigner::new(checkpoint.origin.as_str(), key)
            .expect("an origin is always a valid key name");
        let signature = signer.sign(&note);
        note.push_signature(signature)
            .expect("a new note has room for one signature");
        Self { checkpoint, note }
    }

    /// Parses a signed checkpoint note. Nothing is verified here.
    ///
    /// # Errors
    /// A malformed note or checkpoint body.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        Ok(Self { checkpoint, note })
    }

    /// Checks that the log signed this checkpoint and that it is for
    /// `origin`, as C2SP `signed-note` verifies: at least one of
    /// `verifiers` (the log's keys) signed it, and every line by any of
    /// them verifies.
    ///
    /// # Errors
    /// [`CheckpointError::WrongOrigin`], [`NoteError::BadSignature`] for a
    /// line by a log key that does not verify (even when another key's
    /// does), or [`NoteError::NoKnownSignature`].
    pub fn verify(
        &self,
        origin: &Origin,
        verifiers: &[NoteVerifier],
    ) -> Result<(), CheckpointError> {
        if &self.checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.clone(),
                found: self.checkpoint.origin.clone(),
            });
        }
        let mut signed = false;
        for verifier in verifiers.iter().filter(|v| v.name == origin.as_str()) {
            match self.note.verify(verifier) {
                Ok(()) => signed = true,
                Err(NoteError::NoKnownSignature) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if signed {
            Ok(())
        } else {
            Err(NoteError::NoKnownSignature.into())
        }
    }

    /// The exact note bytes, signatures and cosignatures included.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }

    /// Adds a witness cosignature line unless one by the same key is present.
    ///
    /// # Errors
    /// [`NoteError::TooManySignatures`] past the bound.
    pub fn add_cosignature(&mut self, cosignature: NoteSignature) -> Result<(), CheckpointError> {
        let present = self
            .note
            .signatures()
            .iter()
            .any(|s| s.key_name == cosignature.key_name && s.key_id == cosignature.key_id);
        if !present {
            self.note.push_signature(cosignature)?;
        }
        Ok(())
    }
}

/// A witness's Ed25519 cosigning key (C2SP `tlog-cosignature` v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    pub name: String,
    pub key: VerifyingKey,
}

impl CosignatureVerifier {
    /// # Errors
    /// [`NoteError::BadKeyName`] when `name` is not a valid key name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        note::check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub fn key_id(&self) -> [u8; 4] {
        note::key_id(&self.name, note::ALG_COSIGNATURE_V1, self.key.as_bytes())
    }

    /// Finds this witness's cosignature on `signed` and verifies it: every
    /// line by this witness's key must verify, as C2SP `signed-note` asks of
    /// every known key.
    ///
    /// Returns `Ok(None)` when the witness did not cosign, and the
    /// cosignature's timestamp (the earliest, should it have cosigned twice)
    /// when it did.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedCosignature`] or
    /// [`CheckpointError::BadCosignature`] when a line claims to be by this
    /// witness but is not a valid cosignature.
    pub fn verify(&self, signed: &SignedCheckpoint) -> Result<Option<u64>, CheckpointError> {
        let key_id = self.key_id();
        let mut earliest: Option<u64> = None;
        for line in signed
            .note
            .signatures()
            .iter()
            .filter(|s| s.key_name == self.name && s.key_id == key_id)
        {
            let time = self.verify_line(&line.signature, signed.note.text())?;
            earliest = Some(earliest.map_or(time, |t| t.min(time)));
        }
        Ok(earliest)
    }

    fn verify_line(&self, line: &[u8], text: &str) -> Result<u64, CheckpointError> {
        if line.len() != 8 + 64 {
            return Err(CheckpointError::MalformedCosignature(self.name.clone()));
        }
        let timestamp = u64::from_be_bytes(line[..8].try_into().expect("length checked above"));
        if timestamp > i64::MAX as u64 {
            return Err(CheckpointError::MalformedCosignature(self.name.clone()));
        }
        let signature = Signature::from_slice(&line[8..]).expect("length checked above");
        self.key
            .verify_strict(&cosigned_message(timestamp, text), &signature)
            .map_err(|_| CheckpointError::BadCosignature(self.name.clone()))?;
        Ok(timestamp)
    }
}

fn cosigned_message(timestamp: u64, body: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// A witness's cosignature line over `signed`, made at `timestamp` (seconds
/// since the Unix epoch, passed in by the caller).
pub fn cosign(
    signed: &SignedCheckpoint,
    witness_name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> NoteSignature {
    let signature = key.sign(&cosigned_message(timestamp, signed.note.text()));
    let mut bytes = Vec::with_capacity(72);
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.extend_from_slice(&signature.to_bytes());
    NoteSignature {
        key_name: witness_name.to_owned(),
        key_id: note::key_id(
            witness_name,
            note::ALG_COSIGNATURE_V1,
            key.verifying_key().as_bytes(),
        ),
        signature: bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new("pacific-alliance.concord/cl-subrei").expect("valid")
    }

    #[test]
    fn checkpoint_bodies() {
        let good = "o.example/log\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        assert_eq!(Checkpoint::parse_text(good).map(|c| c.size), Ok(12));
        let cases = [
            (
                "o\n012\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                CheckpointError::Size("012".into()),
            ),
            (
                "o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                CheckpointError::Size("-1".into()),
            ),
            ("o\n1\nAAAA\n", CheckpointError::Root("AAAA".into())),
            ("o\n1\n", CheckpointError::TooShort),
            (
                "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                CheckpointError::TooShort,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Checkpoint::parse_text(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn every_changed_byte_of_a_cosigned_checkpoint_is_caught() {
        let log_key = SigningKey::from_bytes(&[1; 32]);
        let witness_key = SigningKey::from_bytes(&[2; 32]);
        let mut signed = SignedCheckpoint::sign(Checkpoint::new(origin(), 41, [5; 32]), &log_key);
        let witness_name = "pacific-alliance.concord/wco";
        signed
            .add_cosignature(cosign(&signed, witness_name, &witness_key, 1_763_935_200))
            .expect("room");
        let verifier =
            NoteVerifier::new(origin().as_str(), log_key.verifying_key()).expect("valid");
        let witness =
            CosignatureVerifier::new(witness_name, witness_key.verifying_key()).expect("valid");
        let bytes = signed.to_bytes();
        let accepted = |b: &[u8]| -> bool {
            let Ok(parsed) = SignedCheckpoint::parse(b) else {
                return false;
            };
            parsed
                .verify(&origin(), std::slice::from_ref(&verifier))
                .is_ok()
                && matches!(witness.verify(&parsed), Ok(Some(_)))
                && parsed.checkpoint == signed.checkpoint
        };
        assert!(accepted(&bytes));
        for byte_idx in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut changed = bytes.clone();
                changed[byte_idx] ^= flip;
                assert!(
                    !accepted(&changed),
                    "byte {byte_idx} flipped by {flip:#x} was accepted"
                );
            }
        }
    }

    #[test]
    fn sign_verify_and_cosign() {
        let log_key = SigningKey::from_bytes(&[1; 32]);
        let witness_key = SigningKey::from_bytes(&[2; 32]);
        let mut signed = SignedCheckpoint::sign(Checkpoint::new(origin(), 3, [9; 32]), &log_key);
        let verifier =
            NoteVerifier::new(origin().as_str(), log_key.verifying_key()).expect("valid");
        assert_eq!(
            signed.verify(&origin(), std::slice::from_ref(&verifier)),
            Ok(())
        );

        let witness = CosignatureVerifier::new(
            "pacific-alliance.concord/un1540",
            witness_key.verifying_key(),
        )
        .expect("valid");
        assert_eq!(witness.verify(&signed), Ok(None));
        let line = cosign(&signed, &witness.name, &witness_key, 1_763_935_200);
        signed.add_cosignature(line.clone()).expect("room");
        signed.add_cosignature(line).expect("duplicate is a no-op");
        assert_eq!(signed.note.signatures().len(), 2);
        let reparsed = SignedCheckpoint::parse(&signed.to_bytes()).expect("parses");
        assert_eq!(witness.verify(&reparsed), Ok(Some(1_763_935_200)));
        assert_eq!(reparsed.verify(&origin(), &[verifier]), Ok(()));

        let mut bytes = reparsed.to_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = SignedCheckpoint::parse(&bytes).expect("still a note");
        assert!(witness.verify(&tampered).is_err());
    }
    /// C2SP `signed-note`: a line by a known key that does not verify
    /// refuses the note, even when another known key's line verifies.
    #[test]
    fn a_bad_line_by_a_known_key_refuses_the_note() {
        let old_key = SigningKey::from_bytes(&[1; 32]);
        let new_key = SigningKey::from_bytes(&[3; 32]);
        let witness_key = SigningKey::from_bytes(&[2; 32]);
        let checkpoint = Checkpoint::new(origin(), 8, [4; 32]);
        let mut signed = SignedCheckpoint::sign(checkpoint.clone(), &new_key);
        let verifiers = [&old_key, &new_key]
            .map(|key| NoteVerifier::new(origin().as_str(), key.verifying_key()).expect("valid"));
        assert_eq!(signed.verify(&origin(), &verifiers), Ok(()));

        // The old key's line, made over another text: known, and bad.
        let other = SignedCheckpoint::sign(Checkpoint::new(origin(), 9, [4; 32]), &old_key);
        signed
            .note
            .push_signature(other.note.signatures()[0].clone())
            .expect("room");
        assert_eq!(
            signed.verify(&origin(), &verifiers),
            Err(NoteError::BadSignature(origin().as_str().to_owned()).into())
        );
        // A verifier that knows only the new key ignores the old key's line.
        assert_eq!(signed.verify(&origin(), &verifiers[1..]), Ok(()));

        // Two lines by one witness: each must verify.
        let mut cosigned = SignedCheckpoint::sign(checkpoint, &new_key);
        let name = "pacific-alliance.concord/wco";
        let witness = CosignatureVerifier::new(name, witness_key.verifying_key()).expect("valid");
        let good = cosign(&cosigned, name, &witness_key, 1_763_935_200);
        let mut bad = cosign(&cosigned, name, &witness_key, 1_763_935_100);
        bad.signature[0] ^= 1;
        cosigned.note.push_signature(good).expect("room");
        assert_eq!(witness.verify(&cosigned), Ok(Some(1_763_935_200)));
        cosigned.note.push_signature(bad).expect("room");
        assert!(matches!(
            witness.verify(&cosigned),
            Err(CheckpointError::BadCosignature(_))
        ));
    }
}
