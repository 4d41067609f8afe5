//! C2SP verifier keys (https://c2sp.org/signed-note#verifier-keys).
//!
//! A verifier key is one line of text naming a public key:
//!
//! ```text
//! <key name>+<key id: 8 lowercase hex digits>+<base64(alg (1 byte) || public key)>
//! ```
//!
//! The key name follows the C2SP key-name rules (non-empty, no whitespace, no
//! `+`). The key id is the first four bytes of
//! SHA-256(key name || 0x0A || alg || public key). Concord knows two
//! algorithms, both over a 32-byte Ed25519 public key:
//!
//! - `0x01`: Ed25519 note signatures (a member's checkpoints), and
//! - `0x04`: C2SP `tlog-cosignature` v1 (a witness's cosignatures).
//!
//! Base64 is the standard alphabet with padding. Parsing checks every part and
//! recomputes the key id; a string that names the wrong id is refused, so a
//! parsed [`VerifierKey`] always formats back to the same string.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::checkpoint::CosignatureVerifier;
use concord_protocol::note::{
    ALG_COSIGNATURE_V1, ALG_ED25519, NoteVerifier, check_key_name, key_id,
};
use ed25519_dalek::VerifyingKey;

/// Why a string is not a verifier key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VkeyError {
    #[error("verifier key must have three '+'-separated parts: name, key id and key")]
    Shape,
    #[error("verifier key name {0:?} is invalid: must be non-empty, without whitespace or '+'")]
    BadName(String),
    #[error("verifier key id {0:?} is not 8 lowercase hex digits")]
    BadKeyIdHex(String),
    #[error("verifier key id is {found} but the name and key give {expected}")]
    KeyIdMismatch { found: String, expected: String },
    #[error("verifier key material is not canonical base64")]
    BadBase64,
    #[error(
        "verifier key material is {0} bytes; expected 33 (algorithm byte and 32-byte Ed25519 key)"
    )]
    BadLength(usize),
    #[error(
        "verifier key algorithm 0x{0:02x} is not supported; expected 0x01 (Ed25519) or 0x04 (cosignature/v1)"
    )]
    UnknownAlgorithm(u8),
    #[error("verifier key public key is not a valid Ed25519 point")]
    BadPoint,
    #[error("verifier key public key is a weak (small-order) Ed25519 point")]
    WeakKey,
}

/// A validated C2SP verifier key: a key name, an algorithm and an Ed25519
/// public key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VerifierKey {
    name: String,
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// The Ed25519 note key (algorithm 0x01) `key` under `name`.
    ///
    /// # Errors
    /// [`VkeyError::BadName`] when `name` is not a valid key name, and
    /// [`VkeyError::WeakKey`] for a small-order public key.
    pub fn note(name: &str, key: VerifyingKey) -> Result<Self, VkeyError> {
        Self::with_alg(name, ALG_ED25519, key)
    }

    /// The cosignature/v1 witness key (algorithm 0x04) over the same public
    /// key `key`, under `name`.
    ///
    /// # Errors
    /// As [`VerifierKey::note`].
    pub fn witness(name: &str, key: VerifyingKey) -> Result<Self, VkeyError> {
        Self::with_alg(name, ALG_COSIGNATURE_V1, key)
    }

    fn with_alg(name: &str, alg: u8, key: VerifyingKey) -> Result<Self, VkeyError> {
        check_key_name(name).map_err(|_| VkeyError::BadName(name.to_owned()))?;
        if key.is_weak() {
            return Err(VkeyError::WeakKey);
        }
        Ok(Self {
            name: name.to_owned(),
            alg,
            key,
        })
    }

    /// Parses `<name>+<hex key id>+<base64(alg || key)>`.
    ///
    /// # Errors
    /// A [`VkeyError`] naming the first part that is wrong.
    pub fn parse(s: &str) -> Result<Self, VkeyError> {
        // Base64 may itself hold '+', so only the first two split: the name
        // cannot hold one and the key id is hex.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(material_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(VkeyError::Shape);
        };
        check_key_name(name).map_err(|_| VkeyError::BadName(name.to_owned()))?;
        let found_id =
            parse_key_id(id_hex).ok_or_else(|| VkeyError::BadKeyIdHex(id_hex.to_owned()))?;
        let material =
            concord_protocol::base64::decode(material_b64).map_err(|_| VkeyError::BadBase64)?;
        let (&alg, key_bytes) = material.split_first().ok_or(VkeyError::BadLength(0))?;
        let key_bytes: &[u8; 32] = key_bytes
            .try_into()
            .map_err(|_| VkeyError::BadLength(material.len()))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(VkeyError::UnknownAlgorithm(alg));
        }
        let key = VerifyingKey::from_bytes(key_bytes).map_err(|_| VkeyError::BadPoint)?;
        let expected_id = key_id(name, alg, key.as_bytes());
        if found_id != expected_id {
            return Err(VkeyError::KeyIdMismatch {
                found: id_hex.to_owned(),
                expected: format_key_id(&expected_id),
            });
        }
        Self::with_alg(name, alg, key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The algorithm byte: 0x01 (note) or 0x04 (cosignature/v1).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The Ed25519 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The C2SP key id: SHA-256(name || 0x0A || alg || key)[..4].
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.alg, self.key.as_bytes())
    }

    /// Whether this is an Ed25519 note key (algorithm 0x01).
    pub fn is_note_key(&self) -> bool {
        self.alg == ALG_ED25519
    }

    /// The note verifier for this key; `None` unless it is a note key
    /// (algorithm 0x01), since a cosignature key signs a different message.
    pub fn note_verifier(&self) -> Option<NoteVerifier> {
        if self.alg != ALG_ED25519 {
            return None;
        }
        Some(NoteVerifier {
            name: self.name.clone(),
            key: self.key,
        })
    }

    /// The cosignature verifier for this key; `None` unless it is a
    /// cosignature/v1 key (algorithm 0x04).
    pub fn cosignature_verifier(&self) -> Option<CosignatureVerifier> {
        if self.alg != ALG_COSIGNATURE_V1 {
            return None;
        }
        Some(CosignatureVerifier {
            name: self.name.clone(),
            key: self.key,
        })
    }

    /// The witness (cosignature/v1) key over the same public key and name.
    pub fn to_witness(&self) -> Self {
        Self {
            name: self.name.clone(),
            alg: ALG_COSIGNATURE_V1,
            key: self.key,
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = [0u8; 33];
        material[0] = self.alg;
        material[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            format_key_id(&self.key_id()),
            BASE64.encode(material)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = VkeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for VerifierKey {
    type Error = VkeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<VerifierKey> for String {
    fn from(vkey: VerifierKey) -> Self {
        vkey.to_string()
    }
}

/// A key id as 8 lowercase hex digits.
pub fn format_key_id(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses exactly 8 lowercase hex digits; `None` otherwise.
pub fn parse_key_id(s: &str) -> Option<[u8; 4]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() != 8 {
        return None;
    }
    let mut id = [0u8; 4];
    for (byte_idx, pair) in bytes.chunks_exact(2).enumerate() {
        id[byte_idx] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(id)
}
