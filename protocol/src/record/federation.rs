//! Federation records: roster updates and key rotation and revocation
//! (kinds `roster.update`, `key.rotate`, `key.revoke`).
//!
//! - `roster.update`: `{"version": u64, "signed_roster": base64}`; the
//!   signed roster is canonical base64 (with padding) of at most
//!   [`MAX_SIGNED_ROSTER`] characters, opaque here and verified by the keys
//!   crate.
//! - `key.rotate`: `{"new_key": vkey, "reason": text}`; `new_key` is a C2SP
//!   signed-note verifier key string `<name>+<hex8>+<base64>` whose three
//!   parts are checked for shape only.
//! - `key.revoke`: `{"key_id": hex8, "from_index": u64, "reason": text}`:
//!   signatures by the key on entries at or after `from_index` are void.
//!
//! Integers are at most 2^53 − 1 so that RFC 8785 (whose numbers are IEEE 754
//! doubles) writes them exactly.

use serde::{Deserialize, Serialize};

use super::text::{Text, shown, string_newtype};
use super::validate::{Path, check_safe_integer};
use super::{RecordError, ValueError};

/// Longest `signed_roster`, in base64 characters.
pub const MAX_SIGNED_ROSTER: usize = 256 * 1024;
/// Longest verifier key string.
pub const MAX_VERIFIER_KEY: usize = 512;

/// A new federation roster (kind `roster.update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct RosterUpdate {
    pub version: u64,
    pub signed_roster: SignedRoster,
}

/// A rotation to a new signing key (kind `key.rotate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct KeyRotate {
    pub new_key: VerifierKey,
    pub reason: Text,
}

/// A revocation of a signing key (kind `key.revoke`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct KeyRevoke {
    pub key_id: KeyId,
    pub from_index: u64,
    pub reason: Text,
}

/// A signed roster as canonical base64, opaque to this crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignedRoster(String);

impl SignedRoster {
    fn check(s: &str) -> Result<(), ValueError> {
        if s.is_empty() || s.len() > MAX_SIGNED_ROSTER {
            return Err(ValueError::new(format!(
                "must be 1 to {MAX_SIGNED_ROSTER} base64 characters, not {}",
                s.len()
            )));
        }
        crate::base64::decode(s)
            .map(|_| ())
            .map_err(|e| ValueError::new(format!("is {e}")))
    }

    /// The decoded bytes.
    pub fn decode(&self) -> Vec<u8> {
        crate::base64::decode(&self.0)
            .expect("a SignedRoster was checked to be base64 when it was built")
    }
}
string_newtype!(SignedRoster);

/// A key id: eight lowercase hex digits (the C2SP key hash prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

fn is_hex8(s: &str) -> bool {
    s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl KeyId {
    fn check(s: &str) -> Result<(), ValueError> {
        if is_hex8(s) {
            Ok(())
        } else {
            Err(ValueError::new(format!(
                "{} is not a key id (eight lowercase hex digits)",
                shown(s)
            )))
        }
    }
}
string_newtype!(KeyId);

/// A C2SP verifier key string, `<name>+<hex8>+<base64>`, checked for shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VerifierKey(String);

impl VerifierKey {
    fn check(s: &str) -> Result<(), ValueError> {
        let bad = |why: &str| {
            ValueError::new(format!(
                "{} is not a verifier key <name>+<hex8>+<base64>: {why}",
                shown(s)
            ))
        };
        if s.len() > MAX_VERIFIER_KEY {
            return Err(bad(&format!("longer than {MAX_VERIFIER_KEY} bytes")));
        }
        let mut parts = s.splitn(3, '+');
        // The key is base64, whose alphabet includes '+': only the first
        // two '+' separate parts.
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("it must have three '+'-separated parts"));
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "the name must be non-empty printable ASCII without spaces",
            ));
        }
        if !is_hex8(hash) {
            return Err(bad("the key hash must be eight lowercase hex digits"));
        }
        match crate::base64::decode(key) {
            Ok(bytes) if !bytes.is_empty() => Ok(()),
            _ => Err(bad("the key must be non-empty canonical base64")),
        }
    }

    /// The key name (first part).
    pub fn name(&self) -> &str {
        self.0.split('+').next().unwrap_or_default()
    }

    /// The key id (second part).
    pub fn key_id(&self) -> KeyId {
        let hash = self.0.split('+').nth(1).unwrap_or_default();
        KeyId(hash.to_owned())
    }
}
string_newtype!(VerifierKey);

impl RosterUpdate {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        check_safe_integer(self.version, &path.field("version"))
    }
}

impl KeyRevoke {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        check_safe_integer(self.from_index, &path.field("from_index"))
    }
}
