//! The line format: the objects of each line, the exact bytes of entry
//! lines, the message the end line's signature covers, and (from v2) what
//! it signs of each log section: its checkpoint lines, and which entry
//! lines carry their payload.

use concord_keys::roster::Roster;
use concord_keys::vkey::parse_key_id;
use concord_protocol::canonical;
use concord_protocol::entry::{SignedEntry, WireEntry};
use concord_protocol::equivocation::EquivocationProof;
use concord_protocol::origin::Origin;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The format the exporter writes.
pub const FORMAT: &str = Version::V2.format();

/// A bundle format version (PROTOCOL.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The end line signs the head, log and purge lines only: which
    /// payloads and cosignatures a bundle carries is not signed.
    V1,
    /// The end line also signs equivocation lines and, per log section, its
    /// checkpoint lines and which of its entry lines carry their payload.
    V2,
}

impl Version {
    /// The version a head's `format` names; `None` for an unknown one.
    #[must_use]
    pub fn of(format: &str) -> Option<Self> {
        [Self::V1, Self::V2]
            .into_iter()
            .find(|v| v.format() == format)
    }

    #[must_use]
    pub const fn format(self) -> &'static str {
        match self {
            Self::V1 => "concord-bundle/v1",
            Self::V2 => "concord-bundle/v2",
        }
    }

    /// Prefix of the message the end line's signature covers.
    const fn signing_context(self) -> &'static [u8] {
        match self {
            Self::V1 => b"concord/bundle/v1\n",
            Self::V2 => b"concord/bundle/v2\n",
        }
    }

    /// Whether the end line signs every line: equivocation lines by their
    /// digests, and checkpoint and entry lines by their sections' (v2).
    pub(super) fn signs_every_line(self) -> bool {
        self == Self::V2
    }
}

/// Every entry line begins so (RFC 8785 sorts `entry` before `type`).
pub(super) const ENTRY_PREFIX: &[u8] = b"{\"entry\":";

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The participant whose readable payloads the bundle carries; `None`
    /// for public payloads only.
    pub audience: Option<String>,
    /// Seconds since the Unix epoch, by the exporter's clock.
    pub created: u64,
    /// The exporter's origin; it signs the end line.
    pub exporter: String,
    pub federation: String,
    pub format: String,
    pub headers_only: bool,
    /// Base64 of every roster file, genesis first.
    pub rosters: Vec<String>,
}

/// The head of one log as the exporter held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    pub origin: Origin,
    /// Base64 of the Merkle root at `size`.
    pub root: String,
    pub size: u64,
}

/// A payload the exporter purged under retention, with the validity its
/// denial had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeLine {
    pub denial_valid_until: Option<String>,
    pub index: u64,
    pub purged_at: u64,
    pub reason: String,
}

/// One line's digest, signed in the end line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDigest {
    pub line: u64,
    /// Hex SHA-256 of the line's bytes, newline excluded.
    pub sha256: String,
}

/// Who signed the end line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerLine {
    /// Hex key id (alg 0x01, name = `name`).
    pub key_id: String,
    pub name: String,
}

/// What the end line of a v2 bundle signs of one log section, beyond its
/// log line: which checkpoint lines (cosignatures included) follow it, and
/// which of its entry lines carry their payload. The rest of an entry line
/// is bound already: its header and signature by the signature, its
/// payload by the header's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDigest {
    /// Hex SHA-256 of the section's checkpoint lines, each with its newline.
    pub checkpoints: String,
    /// The section's log line.
    pub line: u64,
    /// Hex SHA-256 of one byte per entry line, in order: 1 if it carries a
    /// payload, 0 if not.
    pub payload_flags: String,
    /// How many of the section's entry lines carry a payload.
    pub payloads: u64,
}

/// A [`SectionDigest`] being computed as a section's lines are written or
/// read.
pub(super) struct SectionHasher {
    line: u64,
    checkpoints: Sha256,
    payload_flags: Sha256,
    payloads: u64,
}

impl SectionHasher {
    /// A section whose log line is `line`.
    pub(super) fn new(line: u64) -> Self {
        Self {
            line,
            checkpoints: Sha256::new(),
            payload_flags: Sha256::new(),
            payloads: 0,
        }
    }

    /// A checkpoint line's bytes, without its newline.
    pub(super) fn checkpoint(&mut self, bytes: &[u8]) {
        self.checkpoints.update(bytes);
        self.checkpoints.update(b"\n");
    }

    /// The next entry line, with or without its payload.
    pub(super) fn entry(&mut self, has_payload: bool) {
        self.payload_flags.update([u8::from(has_payload)]);
        self.payloads += u64::from(has_payload);
    }

    pub(super) fn finish(self) -> SectionDigest {
        SectionDigest {
            checkpoints: hex::encode(self.checkpoints.finalize()),
            line: self.line,
            payload_flags: hex::encode(self.payload_flags.finalize()),
            payloads: self.payloads,
        }
    }
}

/// The last line, without its signature: what the signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    pub digests: Vec<LineDigest>,
    /// Lines before the end line.
    pub lines: u64,
    /// One per log section, in order; present from v2 on, absent in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<SectionDigest>>,
    pub signer: SignerLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum Line {
    Bundle(Head),
    Log(LogLine),
    Checkpoint {
        note: String,
    },
    Purge(PurgeLine),
    Entry {
        entry: WireEntry,
    },
    Equivocation {
        proof: EquivocationProof,
    },
    End {
        digests: Vec<LineDigest>,
        lines: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sections: Option<Vec<SectionDigest>>,
        signature: String,
        signer: SignerLine,
    },
}

/// The exact bytes of an entry line; built by hand because it is the hot
/// path of reading and writing, and base64 needs no JSON escaping.
pub(super) fn entry_line(entry: &WireEntry) -> Vec<u8> {
    let payload = entry.payload.as_ref().map_or(0, String::len);
    let mut line = Vec::with_capacity(64 + entry.header.len() + entry.signature.len() + payload);
    line.extend_from_slice(ENTRY_PREFIX);
    line.extend_from_slice(b"{\"header\":\"");
    line.extend_from_slice(entry.header.as_bytes());
    if let Some(payload) = &entry.payload {
        line.extend_from_slice(b"\",\"payload\":\"");
        line.extend_from_slice(payload.as_bytes());
    }
    line.extend_from_slice(b"\",\"signature\":\"");
    line.extend_from_slice(entry.signature.as_bytes());
    line.extend_from_slice(b"\"},\"type\":\"entry\"}");
    line
}

/// The message the end line's signature covers in a bundle of `version`.
pub(super) fn end_message(version: Version, body: &EndBody) -> Vec<u8> {
    #[derive(Serialize)]
    struct Tagged<'a> {
        #[serde(flatten)]
        body: &'a EndBody,
        #[serde(rename = "type")]
        kind: &'static str,
    }
    let mut message = version.signing_context().to_vec();
    message.extend(
        canonical::to_canonical_vec(&Tagged { body, kind: "end" })
            .expect("an end line holds only strings and integers"),
    );
    message
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The entry and payload of an entry line. A canonical entry line has one
/// exact layout (base64 needs no escaping), so it is split by hand; serde
/// only explains a line that does not fit it.
pub(super) fn decode_entry_line(bytes: &[u8]) -> Result<(SignedEntry, Option<Vec<u8>>), String> {
    let Some(fields) = split_entry_line(bytes) else {
        return Err(entry_line_error(bytes));
    };
    WireEntry::decode_parts(fields.header, fields.signature, fields.payload)
        .map_err(|e| e.to_string())
}

/// Whether an entry line carries a payload; `None` for a line not laid out
/// as [`entry_line`] writes it.
pub(super) fn entry_line_has_payload(bytes: &[u8]) -> Option<bool> {
    split_entry_line(bytes).map(|fields| fields.payload.is_some())
}

/// The base64 text of an entry line's fields, where it lies in the line.
struct EntryFields<'a> {
    header: &'a [u8],
    payload: Option<&'a [u8]>,
    signature: &'a [u8],
}

/// The fields of a line laid out exactly as [`entry_line`] writes it.
fn split_entry_line(bytes: &[u8]) -> Option<EntryFields<'_>> {
    fn until_quote(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let at = memchr::memchr(b'"', bytes)?;
        Some(bytes.split_at(at))
    }
    let rest = bytes
        .strip_prefix(ENTRY_PREFIX)?
        .strip_prefix(b"{\"header\":\"")?;
    let (header, rest) = until_quote(rest)?;
    let (payload, rest) = match rest.strip_prefix(b"\",\"payload\":\"") {
        Some(rest) => {
            let (payload, rest) = until_quote(rest)?;
            (Some(payload), rest)
        }
        None => (None, rest),
    };
    let (signature, rest) = until_quote(rest.strip_prefix(b"\",\"signature\":\"")?)?;
    (rest == b"\"},\"type\":\"entry\"}").then_some(EntryFields {
        header,
        payload,
        signature,
    })
}

/// Why a line that begins as an entry line is not one.
fn entry_line_error(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "parsed only to say what is wrong")]
    struct EntryLine {
        entry: WireEntry,
        #[serde(rename = "type")]
        kind: String,
    }
    match serde_json::from_slice::<EntryLine>(bytes) {
        Err(e) => format!("not an entry line: {e}"),
        Ok(_) => "the line is not in RFC 8785 form".into(),
    }
}

pub(super) fn verify_end(
    roster: &Roster,
    version: Version,
    body: &EndBody,
    signature: &str,
) -> Result<(), String> {
    let origin = Origin::new(&body.signer.name).map_err(|e| e.to_string())?;
    // One spelling per key id, as everywhere else: `hex::decode` would
    // also take uppercase, a second text for the same signed line.
    let key_id = parse_key_id(&body.signer.key_id).ok_or_else(|| {
        format!(
            "signer key id {:?} is not 8 lowercase hex digits",
            body.signer.key_id
        )
    })?;
    // Observers export bundles too: any participant's key may sign one.
    let verifier = roster
        .note_verifiers(origin.as_str())
        .into_iter()
        .find(|v| v.key_id() == key_id)
        .ok_or_else(|| format!("the roster has no key {} of {origin}", body.signer.key_id))?;
    let signature = concord_protocol::base64::decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the signature is not 64 bytes of base64")?;
    verifier
        .key
        .verify_strict(&end_message(version, body), &signature)
        .map_err(|_| "the end line's signature does not verify".to_owned())
}

#[cfg(test)]
mod tests {
    use concord_protocol::entry::{self, NewEntry, Visibility};
    use concord_protocol::origin::Origin;
    use concord_protocol::record::Kind;
    use ed25519_dalek::SigningKey;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::any;
    use proptest::sample::Index;

    use super::*;

    fn signed() -> SignedEntry {
        let origin = Origin::new("test.example/cl").expect("origin");
        let new = NewEntry {
            origin: &origin,
            index: 0,
            time: 1,
            kind: Kind::Notice,
            refers_to: None,
            payload: b"{}",
            visibility: Visibility::Federation,
        };
        entry::sign_entry(&new, &SigningKey::from_bytes(&[7; 32])).expect("signs")
    }

    #[test]
    fn entry_lines_decode_only_in_their_canonical_layout() {
        let entry = signed();
        for payload in [None, Some(b"{}".as_slice())] {
            let line = entry_line(&entry.to_wire(payload));
            assert_eq!(
                decode_entry_line(&line),
                Ok((entry.clone(), payload.map(<[u8]>::to_vec)))
            );
            let text = String::from_utf8(line).expect("ascii");
            let spaced = text.replacen("\"header\":", "\"header\": ", 1);
            let reordered = text
                .replacen("{\"entry\":{", "{\"type\":\"entry\",\"entry\":{", 1)
                .replacen(",\"type\":\"entry\"}", "}", 1);
            for changed in [spaced, reordered] {
                assert_eq!(
                    decode_entry_line(changed.as_bytes()),
                    Err("the line is not in RFC 8785 form".into()),
                    "{changed}"
                );
            }
            let cut = &text[..text.len() - 3];
            assert!(
                decode_entry_line(cut.as_bytes())
                    .is_err_and(|e| e.starts_with("not an entry line")),
                "{cut}"
            );
            let unknown = text.replacen("\"type\":\"entry\"", "\"type\":\"entry\",\"x\":1", 1);
            assert!(
                decode_entry_line(unknown.as_bytes()).is_err_and(|e| e.contains("unknown field")),
                "{unknown}"
            );
            let bad_base64 = text.replacen("\"signature\":\"", "\"signature\":\"!", 1);
            assert_eq!(
                decode_entry_line(bad_base64.as_bytes()),
                Err("base64 field signature is malformed".into())
            );
            // 64 bytes end in "==" after a character with 4 padding bits:
            // setting one is a second spelling of the same signature.
            let padding = text.find("==\"},\"type\"").expect("a padded signature");
            let mut padding_bit = text.clone().into_bytes();
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let value = alphabet
                .iter()
                .position(|&c| c == padding_bit[padding - 1])
                .expect("a base64 character");
            padding_bit[padding - 1] = alphabet[value ^ 1];
            assert_eq!(
                decode_entry_line(&padding_bit),
                Err("base64 field signature is malformed".into())
            );
        }
    }

    proptest::proptest! {
        // Each case is cheap, and the replaced byte must often land on the
        // few bytes of the line's frame.
        #![proptest_config(proptest::test_runner::Config::with_cases(4096))]

        /// The entry-line splitter, written by hand for speed, accepts no
        /// line that the strict path would refuse: whatever it decodes,
        /// serde reads as the same entry, and the line is in RFC 8785 form.
        /// Lines carry any header bytes, signature and payload; then one
        /// byte of the line is replaced by any other.
        #[test]
        fn the_entry_line_splitter_accepts_only_what_serde_and_the_form_check_accept(
            header_bytes in vec(any::<u8>(), 1..300),
            signature in vec(any::<u8>(), 64),
            payload in option::of(vec(any::<u8>(), 0..300)),
            at in any::<Index>(),
            byte in any::<u8>(),
        ) {
            let entry = SignedEntry::from_parts(header_bytes, &signature).expect("64 bytes");
            let mut line = entry_line(&entry.to_wire(payload.as_deref()));
            proptest::prop_assert_eq!(decode_entry_line(&line), Ok((entry, payload)));
            let at = at.index(line.len());
            line[at] = byte;
            if let Ok(decoded) = decode_entry_line(&line) {
                let parsed: Result<Line, _> = serde_json::from_slice(&line);
                let Ok(Line::Entry { entry: wire }) = parsed else {
                    return Err(proptest::test_runner::TestCaseError::fail("serde refuses it"));
                };
                proptest::prop_assert_eq!(wire.decode().map_err(|e| e.to_string()), Ok(decoded));
                proptest::prop_assert!(canonical::is_canonical(&line));
            }
        }
    }
}
