//! Log entries: a signed header that commits to a payload.
//!
//! The header is a JSON object, produced in RFC 8785 canonical form:
//!
//! ```json
//! {"index":0,"key_id":"5c1ef3a9","kind":"denial","origin":"pacific-alliance.concord/mx-se",
//!  "payload":{"sha256":"<64 hex>","size":1830,"visibility":{"scope":"federation"}},
//!  "time":1763935200,"v":1}
//! ```
//!
//! plus `"refers_to":{"index":N,"leaf_hash":"<64 hex>"}` on amendments and
//! revocations. Unknown fields are refused. The entry signature is Ed25519 over
//! `concord/entry/v1\n` followed by the header bytes, verbatim; the leaf hash
//! is SHA-256(0x00 || header bytes). Because the header carries the payload's
//! digest, size and visibility, a log verifies from headers alone and a payload
//! can be purged without breaking any proof.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::merkle::{self, Hash};
use crate::note;
use crate::origin::Origin;
use crate::record::{Country, Kind};
use crate::signature;

/// The header format version this code writes and reads.
pub const ENTRY_FORMAT: u32 = 1;
/// Domain separation prefix of entry signatures.
pub const ENTRY_SIGNATURE_DOMAIN: &[u8] = b"concord/entry/v1\n";
/// Largest header accepted.
pub const MAX_HEADER_BYTES: usize = 4 * 1024;
/// Largest payload accepted (the record schemas bound it further).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Largest integer in a header: RFC 8785 writes numbers as IEEE 754 doubles,
/// so integers above 2^53 - 1 would not survive a round trip.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("header is {0} bytes, more than the {MAX_HEADER_BYTES} allowed")]
    HeaderTooLarge(usize),
    #[error("header is not valid: {0}")]
    MalformedHeader(String),
    #[error("header is not in RFC 8785 canonical form")]
    NonCanonicalHeader,
    #[error("header format version {0} is not supported (this node reads version {ENTRY_FORMAT})")]
    UnsupportedVersion(u32),
    #[error("signature must be 64 bytes, got {0}")]
    SignatureLength(usize),
    #[error(
        "entry signature does not verify under the key authorised for {origin} at index {index}"
    )]
    BadSignature { origin: Origin, index: u64 },
    #[error(
        "header names key id {claimed} but the key authorised for {origin} at index {index} has id {expected}"
    )]
    WrongKey {
        origin: Origin,
        index: u64,
        claimed: String,
        expected: String,
    },
    #[error("payload is {0} bytes, more than the {MAX_PAYLOAD_BYTES} allowed")]
    PayloadTooLarge(usize),
    #[error("payload is {actual} bytes but the header commits to {committed}")]
    PayloadSize { committed: u64, actual: u64 },
    #[error("payload digest does not match the header's sha256")]
    PayloadDigest,
    #[error("{0} entries must refer to the entry they change")]
    MissingReference(Kind),
    #[error("{0} entries cannot refer to another entry")]
    UnexpectedReference(Kind),
    #[error("bilateral visibility must name two different states")]
    BilateralStates,
    #[error("header field {0} is larger than 2^53 - 1")]
    IntegerTooLarge(&'static str),
    #[error("base64 field {0} is malformed")]
    Base64(&'static str),
}

/// Serde for a byte array written as lowercase hex, without a `String`
/// either way: every header check parses and re-encodes these.
macro_rules! hex_serde {
    ($ty:ident, $n:literal, $what:literal, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut text = [0u8; 2 * $n];
                hex::encode_to_slice(self.0, &mut text).expect("twice the bytes");
                serializer.serialize_str(std::str::from_utf8(&text).expect("hex is ASCII"))
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::parsed::from_str(deserializer, $expecting, |s| {
                    decode_hex::<$n>(s).map($ty).ok_or_else(|| {
                        format!("{} {s:?} is not {} lowercase hex digits", $what, 2 * $n)
                    })
                })
            }
        }
    };
}

/// A 4-byte C2SP key id, written as 8 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);
hex_serde!(KeyId, 4, "key id", "a key id of 8 lowercase hex digits");

impl KeyId {
    /// The id of an Ed25519 note key named `name` (the log origin).
    pub fn of_note_key(name: &str, key: &VerifyingKey) -> Self {
        Self(note::key_id(name, note::ALG_ED25519, key.as_bytes()))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&note::hex_lower(&self.0))
    }
}

/// A SHA-256 digest written as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest256(pub [u8; 32]);
hex_serde!(
    Digest256,
    32,
    "digest",
    "a digest of 64 lowercase hex digits"
);

impl Digest256 {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl std::fmt::Display for Digest256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&note::hex_lower(&self.0))
    }
}

fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Lowercase only: the canonical form has one spelling per value.
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Who may read a payload. Headers are always readable by every participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "lowercase", deny_unknown_fields)]
pub enum Visibility {
    /// Anyone, observers and exported bundles included.
    Public,
    /// Every roster participant, observers included.
    Federation,
    /// Roster participants with role `member` only.
    Members,
    /// Only the agencies of the two named states.
    Bilateral { states: [Country; 2] },
}

/// What a header says about its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadCommitment {
    pub sha256: Digest256,
    pub size: u64,
    pub visibility: Visibility,
}

/// A reference from an amendment or revocation to the entry it changes, in the
/// same log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRef {
    pub index: u64,
    pub leaf_hash: Digest256,
}

/// The signed part of an entry.
///
/// Fields are declared in RFC 8785 order (sorted by name), as are those of
/// every type inside, so plain `serde_json` output is already canonical:
/// [`SignedEntry::decode_header`] relies on that to check canonical form
/// without the general canonicaliser's cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryHeader {
    pub index: u64,
    pub key_id: KeyId,
    pub kind: Kind,
    pub origin: Origin,
    pub payload: PayloadCommitment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<EntryRef>,
    /// Seconds since the Unix epoch, as the publishing node's clock read it.
    pub time: u64,
    pub v: u32,
}

impl EntryHeader {
    /// Checks the rules a header must meet beyond its JSON shape.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn check(&self) -> Result<(), EntryError> {
        if self.v != ENTRY_FORMAT {
            return Err(EntryError::UnsupportedVersion(self.v));
        }
        let reference = self.refers_to.map_or(0, |r| r.index);
        for (field, value) in [
            ("index", self.index),
            ("time", self.time),
            ("refers_to.index", reference),
        ] {
            if value > MAX_SAFE_INTEGER {
                return Err(EntryError::IntegerTooLarge(field));
            }
        }
        let needs_ref = matches!(self.kind, Kind::DenialAmend | Kind::DenialRevoke);
        match (needs_ref, self.refers_to.is_some()) {
            (true, false) => return Err(EntryError::MissingReference(self.kind)),
            (false, true) => return Err(EntryError::UnexpectedReference(self.kind)),
            _ => {}
        }
        if self.payload.size > MAX_PAYLOAD_BYTES as u64 {
            return Err(EntryError::PayloadTooLarge(self.payload.size as usize));
        }
        if let Visibility::Bilateral { states } = &self.payload.visibility
            && states[0] == states[1]
        {
            return Err(EntryError::BilateralStates);
        }
        Ok(())
    }

    /// Checks `payload` against this header's digest and size.
    ///
    /// # Errors
    /// [`EntryError::PayloadSize`] or [`EntryError::PayloadDigest`].
    pub fn check_payload(&self, payload: &[u8]) -> Result<(), EntryError> {
        if payload.len() as u64 != self.payload.size {
            return Err(EntryError::PayloadSize {
                committed: self.payload.size,
                actual: payload.len() as u64,
            });
        }
        if Digest256::of(payload) != self.payload.sha256 {
            return Err(EntryError::PayloadDigest);
        }
        Ok(())
    }
}

/// The fields a publisher chooses; [`sign_entry`] fills in the rest.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub origin: &'a Origin,
    pub index: u64,
    pub time: u64,
    pub kind: Kind,
    pub refers_to: Option<EntryRef>,
    pub payload: &'a [u8],
    pub visibility: Visibility,
}

/// Builds, checks and signs the header of a new entry.
///
/// # Errors
/// The header rule the new entry would break.
pub fn sign_entry(new: &NewEntry<'_>, key: &SigningKey) -> Result<SignedEntry, EntryError> {
    if new.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EntryError::PayloadTooLarge(new.payload.len()));
    }
    let header = EntryHeader {
        v: ENTRY_FORMAT,
        origin: new.origin.clone(),
        index: new.index,
        time: new.time,
        kind: new.kind,
        key_id: KeyId::of_note_key(new.origin.as_str(), &key.verifying_key()),
        refers_to: new.refers_to,
        payload: PayloadCommitment {
            sha256: Digest256::of(new.payload),
            size: new.payload.len() as u64,
            visibility: new.visibility.clone(),
        },
    };
    header.check()?;
    let header_bytes = canonical::to_canonical_vec(&header)
        .expect("a header holds only strings, integers and objects");
    if header_bytes.len() > MAX_HEADER_BYTES {
        return Err(EntryError::HeaderTooLarge(header_bytes.len()));
    }
    let signature = key.sign(&signing_message(&header_bytes)).to_bytes();
    Ok(SignedEntry {
        header_bytes,
        signature,
    })
}

fn signing_message(header_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(ENTRY_SIGNATURE_DOMAIN.len() + header_bytes.len());
    message.extend_from_slice(ENTRY_SIGNATURE_DOMAIN);
    message.extend_from_slice(header_bytes);
    message
}

/// A writer that only checks that what is written is exactly `expected`:
/// the canonical-form check re-encodes every header it reads, and a copy
/// to compare would be allocated and written for nothing.
struct SameBytes<'a> {
    rest: &'a [u8],
}

impl<'a> SameBytes<'a> {
    fn new(expected: &'a [u8]) -> Self {
        Self { rest: expected }
    }

    /// Whether everything expected was written.
    fn complete(&self) -> bool {
        self.rest.is_empty()
    }
}

impl std::io::Write for SameBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) => {
                self.rest = rest;
                Ok(buf.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An entry as stored and sent: the header bytes verbatim and their signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEntry {
    pub header_bytes: Vec<u8>,
    pub signature: [u8; 64],
}

impl SignedEntry {
    /// # Errors
    /// [`EntryError::SignatureLength`] when `signature` is not 64 bytes.
    pub fn from_parts(header_bytes: Vec<u8>, signature: &[u8]) -> Result<Self, EntryError> {
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| EntryError::SignatureLength(signature.len()))?;
        Ok(Self {
            header_bytes,
            signature,
        })
    }

    /// SHA-256(0x00 || header bytes).
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.header_bytes)
    }

    /// Parses the header strictly: size bound, known fields only, canonical
    /// form, header rules. The signature is not checked here.
    ///
    /// # Errors
    /// The first problem found.
    pub fn decode_header(&self) -> Result<EntryHeader, EntryError> {
        if self.header_bytes.len() > MAX_HEADER_BYTES {
            return Err(EntryError::HeaderTooLarge(self.header_bytes.len()));
        }
        let header: EntryHeader = serde_json::from_slice(&self.header_bytes)
            .map_err(|e| EntryError::MalformedHeader(e.to_string()))?;
        // The typed header re-encodes to exactly the bytes received iff those
        // bytes are canonical: parsing kept every field (unknown ones are
        // refused) and RFC 8785 output is unique. Field order and the ASCII
        // alphabet of every string make `serde_json`'s output RFC 8785.
        let mut encoded = SameBytes::new(&self.header_bytes);
        if serde_json::to_writer(&mut encoded, &header).is_err() || !encoded.complete() {
            return Err(EntryError::NonCanonicalHeader);
        }
        header.check()?;
        Ok(header)
    }

    /// Decodes the header and checks the signature under `key`, the key the
    /// roster authorises for the header's origin and index.
    ///
    /// # Errors
    /// A malformed header, a key id that is not `key`'s, or a bad signature.
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedEntry, EntryError> {
        let header = self.decode_header()?;
        self.check_signature(&header, key)?;
        Ok(VerifiedEntry {
            leaf_hash: self.leaf_hash(),
            header,
            entry: self.clone(),
        })
    }

    /// Checks only the signature and key id of an already decoded header.
    ///
    /// # Errors
    /// [`EntryError::WrongKey`] or [`EntryError::BadSignature`].
    pub fn check_signature(
        &self,
        header: &EntryHeader,
        key: &VerifyingKey,
    ) -> Result<(), EntryError> {
        let expected = KeyId::of_note_key(header.origin.as_str(), key);
        if header.key_id != expected {
            return Err(EntryError::WrongKey {
                origin: header.origin.clone(),
                index: header.index,
                claimed: header.key_id.to_string(),
                expected: expected.to_string(),
            });
        }
        if signature::verify((&signing_message(&self.header_bytes), &self.signature, key)) {
            Ok(())
        } else {
            Err(EntryError::BadSignature {
                origin: header.origin.clone(),
                index: header.index,
            })
        }
    }

    /// The JSON form used on the wire and in bundles.
    pub fn to_wire(&self, payload: Option<&[u8]>) -> WireEntry {
        WireEntry {
            header: BASE64.encode(&self.header_bytes),
            signature: BASE64.encode(self.signature),
            payload: payload.map(|p| BASE64.encode(p)),
        }
    }
}

/// Checks the signatures of many decoded entries at once (cofactored
/// Ed25519 batch verification, see [`signature`]), each under its own key.
/// On failure, entries are checked one by one so that the error names the
/// first bad entry.
///
/// # Errors
/// The error of the first entry whose key id or signature is wrong.
pub fn verify_batch(
    items: &[(&SignedEntry, &EntryHeader, VerifyingKey)],
) -> Result<(), EntryError> {
    // One buffer for every message, and one key id per run of entries under
    // the same key (a log's entries share one): a batch is thousands of
    // entries, and an allocation and a hash for each are overhead beside it.
    let total: usize = items
        .iter()
        .map(|(entry, _, _)| ENTRY_SIGNATURE_DOMAIN.len() + entry.header_bytes.len())
        .sum();
    let mut buffer = Vec::with_capacity(total);
    let mut ends = Vec::with_capacity(items.len());
    let mut known: Option<(&str, VerifyingKey, KeyId)> = None;
    for (entry, header, key) in items {
        let expected = match &known {
            Some((origin, k, id)) if *origin == header.origin.as_str() && k == key => *id,
            _ => {
                let id = KeyId::of_note_key(header.origin.as_str(), key);
                known = Some((header.origin.as_str(), *key, id));
                id
            }
        };
        if header.key_id != expected {
            return entry.check_signature(header, key);
        }
        buffer.extend_from_slice(ENTRY_SIGNATURE_DOMAIN);
        buffer.extend_from_slice(&entry.header_bytes);
        ends.push(buffer.len());
    }
    let mut start = 0;
    let batch: Vec<signature::Signed<'_>> = ends
        .iter()
        .zip(items)
        .map(|(&end, (entry, _, key))| {
            let message = &buffer[start..end];
            start = end;
            (message, &entry.signature, key)
        })
        .collect();
    if signature::verify_batch(&batch) {
        return Ok(());
    }
    for (entry, header, key) in items {
        entry.check_signature(header, key)?;
    }
    // The cofactored batch fails while every signature verifies alone only
    // when its random weights cancel (a chance of 2^-128); refuse rather
    // than guess.
    let (_, header, _) = items.first().expect("an empty batch always verifies");
    Err(EntryError::BadSignature {
        origin: header.origin.clone(),
        index: header.index,
    })
}

/// An entry whose header parsed and whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    pub header: EntryHeader,
    pub entry: SignedEntry,
    pub leaf_hash: Hash,
}

/// An entry in JSON: base64 of the header bytes, the signature and, where the
/// receiver may read it, the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEntry {
    pub header: String,
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

impl WireEntry {
    /// Decodes the base64 fields.
    ///
    /// # Errors
    /// [`EntryError::Base64`] naming the field, or a wrong signature length.
    pub fn decode(&self) -> Result<(SignedEntry, Option<Vec<u8>>), EntryError> {
        Self::decode_parts(
            self.header.as_bytes(),
            self.signature.as_bytes(),
            self.payload.as_ref().map(String::as_bytes),
        )
    }

    /// [`WireEntry::decode`] of the fields' base64 text where it lies, for
    /// a reader that found them without building a `WireEntry`.
    ///
    /// # Errors
    /// As [`WireEntry::decode`].
    pub fn decode_parts(
        header: &[u8],
        signature: &[u8],
        payload: Option<&[u8]>,
    ) -> Result<(SignedEntry, Option<Vec<u8>>), EntryError> {
        let header_bytes =
            crate::base64::decode(header).map_err(|_| EntryError::Base64("header"))?;
        if header_bytes.len() > MAX_HEADER_BYTES {
            return Err(EntryError::HeaderTooLarge(header_bytes.len()));
        }
        let signature =
            crate::base64::decode(signature).map_err(|_| EntryError::Base64("signature"))?;
        let payload = match payload {
            Some(p) => {
                let bytes = crate::base64::decode(p).map_err(|_| EntryError::Base64("payload"))?;
                if bytes.len() > MAX_PAYLOAD_BYTES {
                    return Err(EntryError::PayloadTooLarge(bytes.len()));
                }
                Some(bytes)
            }
            None => None,
        };
        Ok((SignedEntry::from_parts(header_bytes, &signature)?, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new("pacific-alliance.concord/mx-se").expect("valid origin")
    }

    fn entry(key: &SigningKey, index: u64) -> SignedEntry {
        let origin = origin();
        let new = NewEntry {
            origin: &origin,
            index,
            time: 1_763_935_200,
            kind: Kind::Notice,
            refers_to: None,
            payload: b"{\"x\":1}",
            visibility: Visibility::Federation,
        };
        sign_entry(&new, key).expect("valid entry")
    }

    #[test]
    fn signed_entry_verifies_and_every_byte_matters() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = entry(&key, 0);
        let verified = signed
            .verify(&key.verifying_key())
            .expect("own entry verifies");
        assert_eq!(verified.header.index, 0);
        assert!(canonical::is_canonical(&signed.header_bytes));
        for byte_idx in 0..signed.header_bytes.len() {
            let mut bad = signed.clone();
            bad.header_bytes[byte_idx] ^= 0x01;
            assert!(
                bad.verify(&key.verifying_key()).is_err(),
                "header byte {byte_idx}"
            );
        }
        for byte_idx in 0..64 {
            let mut bad = signed.clone();
            bad.signature[byte_idx] ^= 0x80;
            assert!(
                bad.verify(&key.verifying_key()).is_err(),
                "signature byte {byte_idx}"
            );
        }
    }

    #[test]
    fn another_key_is_refused_by_key_id() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[4; 32]);
        let signed = entry(&key, 5);
        assert!(matches!(
            signed.verify(&other.verifying_key()),
            Err(EntryError::WrongKey { index: 5, .. })
        ));
    }

    #[test]
    fn batch_verification_finds_the_bad_entry() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut entries: Vec<SignedEntry> = (0..8).map(|i| entry(&key, i)).collect();
        let headers: Vec<EntryHeader> = entries
            .iter()
            .map(|e| e.decode_header().expect("valid"))
            .collect();
        let items: Vec<_> = entries
            .iter()
            .zip(&headers)
            .map(|(e, h)| (e, h, key.verifying_key()))
            .collect();
        assert_eq!(verify_batch(&items), Ok(()));
        entries[5].signature[10] ^= 1;
        let items: Vec<_> = entries
            .iter()
            .zip(&headers)
            .map(|(e, h)| (e, h, key.verifying_key()))
            .collect();
        assert!(matches!(
            verify_batch(&items),
            Err(EntryError::BadSignature { index: 5, .. })
        ));
    }

    #[test]
    fn payload_commitment_is_checked() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let header = entry(&key, 0).decode_header().expect("valid");
        assert_eq!(header.check_payload(b"{\"x\":1}"), Ok(()));
        assert_eq!(
            header.check_payload(b"{\"x\":2}"),
            Err(EntryError::PayloadDigest)
        );
        assert_eq!(
            header.check_payload(b"{}"),
            Err(EntryError::PayloadSize {
                committed: 7,
                actual: 2
            })
        );
    }

    #[test]
    fn unknown_and_non_canonical_headers_are_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = entry(&key, 0);
        let mut value: serde_json::Value =
            serde_json::from_slice(&signed.header_bytes).expect("json");
        value["extra"] = serde_json::json!(1);
        let extra = SignedEntry {
            header_bytes: canonical::to_canonical_vec(&value).expect("json"),
            ..signed.clone()
        };
        assert!(
            matches!(extra.decode_header(), Err(EntryError::MalformedHeader(m)) if m.contains("extra"))
        );
        let spaced = SignedEntry {
            header_bytes: serde_json::to_vec_pretty(&signed.decode_header().expect("valid"))
                .expect("json"),
            ..signed
        };
        assert_eq!(spaced.decode_header(), Err(EntryError::NonCanonicalHeader));
    }

    /// Digests, key ids and country codes are parsed from the string in
    /// place; each wrong spelling is still refused, naming the value.
    #[test]
    fn misspelt_digests_key_ids_and_countries_are_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = entry(&key, 0);
        let value: serde_json::Value = serde_json::from_slice(&signed.header_bytes).expect("json");
        let digest = value["payload"]["sha256"]
            .as_str()
            .expect("digest")
            .to_owned();
        let bilateral = serde_json::json!({"scope": "bilateral", "states": ["CL", "mx"]});
        let cases = [
            (
                "/payload/sha256",
                serde_json::json!(digest.to_uppercase()),
                "64 lowercase hex digits",
            ),
            (
                "/payload/sha256",
                serde_json::json!(&digest[..62]),
                "64 lowercase hex digits",
            ),
            (
                "/key_id",
                serde_json::json!("0123456"),
                "8 lowercase hex digits",
            ),
            (
                "/key_id",
                serde_json::json!(12345678),
                "a key id of 8 lowercase hex digits",
            ),
            ("/payload/visibility", bilateral, "ISO 3166-1 alpha-2"),
        ];
        for (pointer, wrong, expected) in cases {
            let mut changed = value.clone();
            *changed.pointer_mut(pointer).expect("field") = wrong;
            let entry = SignedEntry {
                header_bytes: canonical::to_canonical_vec(&changed).expect("json"),
                ..signed.clone()
            };
            assert!(
                matches!(entry.decode_header(), Err(EntryError::MalformedHeader(ref m)) if m.contains(expected)),
                "{pointer}: {:?}",
                entry.decode_header()
            );
        }
    }

    fn header_strategy() -> impl proptest::strategy::Strategy<Value = EntryHeader> {
        use proptest::prelude::*;
        let visibility = prop_oneof![
            Just(Visibility::Public),
            Just(Visibility::Federation),
            Just(Visibility::Members),
            proptest::sample::subsequence(vec!["BR", "CL", "CO", "MX", "PE", "US"], 2).prop_map(
                |pair| Visibility::Bilateral {
                    states: [pair[0], pair[1]].map(|c| Country::new(c).expect("ISO code")),
                }
            ),
        ];
        let reference = proptest::option::of((0..=MAX_SAFE_INTEGER, any::<[u8; 32]>()));
        (
            "[!-*,-~]{1,128}",
            0..=MAX_SAFE_INTEGER,
            0..=MAX_SAFE_INTEGER,
            proptest::sample::select(Kind::ALL.to_vec()),
            any::<[u8; 4]>(),
            reference,
            (any::<[u8; 32]>(), 0..=MAX_PAYLOAD_BYTES as u64, visibility),
        )
            .prop_map(
                |(origin, index, time, kind, key_id, reference, (digest, size, visibility))| {
                    EntryHeader {
                        index,
                        key_id: KeyId(key_id),
                        kind,
                        origin: Origin::new(&origin).expect("printable, no plus"),
                        payload: PayloadCommitment {
                            sha256: Digest256(digest),
                            size,
                            visibility,
                        },
                        refers_to: reference.map(|(index, leaf)| EntryRef {
                            index,
                            leaf_hash: Digest256(leaf),
                        }),
                        time,
                        v: ENTRY_FORMAT,
                    }
                },
            )
    }

    proptest::proptest! {
        /// `decode_header` checks canonical form with plain `serde_json`;
        /// that is sound only while its output equals RFC 8785's.
        #[test]
        fn serde_json_writes_headers_canonically(header in header_strategy()) {
            let plain = serde_json::to_vec(&header).expect("plain");
            let canonical = canonical::to_canonical_vec(&header).expect("canonical");
            proptest::prop_assert_eq!(plain, canonical);
        }

        /// The form check compares the re-encoding with the bytes as it
        /// writes: the canonical bytes pass it, and the same header with a
        /// space before, inside or after it does not.
        #[test]
        fn only_the_canonical_bytes_of_a_header_pass_the_form_check(header in header_strategy()) {
            let canonical = canonical::to_canonical_vec(&header).expect("canonical");
            let check = |header_bytes: Vec<u8>| {
                SignedEntry { header_bytes, signature: [0; 64] }.decode_header().err()
            };
            proptest::prop_assert_ne!(
                check(canonical.clone()),
                Some(EntryError::NonCanonicalHeader)
            );
            let inside = [&canonical[..1], b" ", &canonical[1..]].concat();
            for changed in [[b" ", &canonical[..]].concat(), inside, [&canonical[..], b" "].concat()] {
                proptest::prop_assert_eq!(check(changed), Some(EntryError::NonCanonicalHeader));
            }
        }
    }
}
