//! C2SP `signed-note` (https://c2sp.org/signed-note): a text and the
//! signatures over it.
//!
//! A note is UTF-8 text that ends in a newline and holds no ASCII control
//! character other than newline. It is followed by one empty line and one or
//! more signature lines:
//!
//! ```text
//! <text lines>\n
//! \n
//! — <key name> <base64(key id (4 bytes) || signature)>\n
//! ```
//!
//! The dash is U+2014 followed by a space. A key name is non-empty and holds no
//! whitespace and no `+`. The key id of a key is the first four bytes of
//! SHA-256(key name || 0x0A || algorithm byte || public key). Ed25519 note
//! signatures (algorithm 0x01) sign the text bytes as they are, final newline
//! included. Verifiers ignore signature lines whose (name, key id) they do not
//! know, and a note must carry at least one signature they do know.
//!
//! Bounds, checked before anything else: a note is at most [`MAX_NOTE_BYTES`]
//! long and carries at most [`MAX_SIGNATURES`] signature lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature algorithm byte of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// Signature algorithm byte of C2SP `tlog-cosignature` v1 (Ed25519, timestamped).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Largest note accepted, signatures included.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Most signature lines accepted on one note.
pub const MAX_SIGNATURES: usize = 32;
/// Longest key name accepted.
pub const MAX_KEY_NAME: usize = 256;

const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is {0} bytes, more than the {MAX_NOTE_BYTES} allowed")]
    TooLarge(usize),
    #[error("note is not valid UTF-8")]
    NotUtf8,
    #[error("note text holds a control character other than newline")]
    ControlCharacter,
    #[error("note has no empty line separating its text from its signatures")]
    MissingSeparator,
    #[error("note text is empty or does not end in a newline")]
    BadText,
    #[error("note has no signature lines")]
    NoSignatures,
    #[error("note has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    #[error("signature line {0} is malformed: {1}")]
    MalformedSignature(usize, &'static str),
    #[error(
        "invalid key name {0:?}: must be non-empty, at most {MAX_KEY_NAME} bytes, without whitespace or '+'"
    )]
    BadKeyName(String),
    #[error("no signature by a known key")]
    NoKnownSignature,
    #[error("signature by {0} does not verify")]
    BadSignature(String),
}

/// A key name as C2SP defines it: non-empty, no whitespace, no `+`.
///
/// # Errors
/// [`NoteError::BadKeyName`] when the name breaks those rules.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(NoteError::BadKeyName(name.to_owned()))
    }
}

/// The C2SP key id: SHA-256(name || 0x0A || alg || public key)[..4].
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', alg])
        .chain_update(public_key)
        .finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest[..4]);
    id
}

/// One signature line of a note, decoded but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_id: [u8; 4],
    /// The signature bytes after the key id (algorithm specific).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, newline included.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.key_name, BASE64.encode(raw))
    }
}

/// A parsed note: its text and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Splits and checks a signed note. Signatures are decoded, not verified.
    ///
    /// # Errors
    /// A [`NoteError`] naming the first rule the bytes break.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge(bytes.len()));
        }
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if all.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        // The separator is the last "\n\n": the text itself may hold empty lines
        // but signature lines never do.
        let split = all.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let text = &all[..split + 1];
        let sig_block = &all[split + 2..];
        check_text(text)?;
        if sig_block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if !sig_block.ends_with('\n') {
            return Err(NoteError::MalformedSignature(
                0,
                "signature block does not end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for (line_idx, line) in sig_block[..sig_block.len() - 1].split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line_idx + 1, line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// A note with no signatures yet, over `text`.
    ///
    /// # Errors
    /// [`NoteError::BadText`] or [`NoteError::ControlCharacter`] when `text` is
    /// not a valid note text.
    pub fn new(text: String) -> Result<Self, NoteError> {
        check_text(&text)?;
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in the order they appear.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line.
    ///
    /// # Errors
    /// [`NoteError::TooManySignatures`] past the bound.
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Text, empty line, signature lines: the exact bytes of the note.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out.into_bytes()
    }

    /// Signatures whose key name and key id match `verifier`.
    pub fn signatures_by<'a>(
        &'a self,
        verifier: &'a NoteVerifier,
    ) -> impl Iterator<Item = &'a NoteSignature> {
        self.signatures
            .iter()
            .filter(move |s| s.key_name == verifier.name && s.key_id == verifier.key_id())
    }

    /// Checks that `verifier` signed this note's text.
    ///
    /// # Errors
    /// [`NoteError::NoKnownSignature`] when no line is by that key, and
    /// [`NoteError::BadSignature`] when a line claims to be but does not verify.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<(), NoteError> {
        let mut found = false;
        for signature in self.signatures_by(verifier) {
            found = true;
            let sig = Signature::from_slice(&signature.signature)
                .map_err(|_| NoteError::BadSignature(verifier.name.clone()))?;
            verifier
                .key
                .verify_strict(self.text.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(verifier.name.clone()))?;
        }
        if found {
            Ok(())
        } else {
            Err(NoteError::NoKnownSignature)
        }
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::BadText);
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

fn parse_signature_line(line_no: usize, line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(NoteError::MalformedSignature(
            line_no,
            "does not start with an em dash and a space",
        ))?;
    let (name, b64) = rest.split_once(' ').ok_or(NoteError::MalformedSignature(
        line_no,
        "no space between key name and signature",
    ))?;
    check_key_name(name).map_err(|_| NoteError::MalformedSignature(line_no, "invalid key name"))?;
    let raw = crate::base64::decode(b64)
        .map_err(|_| NoteError::MalformedSignature(line_no, "signature is not canonical base64"))?;
    if raw.len() < 5 {
        return Err(NoteError::MalformedSignature(
            line_no,
            "signature shorter than a key id",
        ));
    }
    let mut key_id = [0u8; 4];
    key_id.copy_from_slice(&raw[..4]);
    Ok(NoteSignature {
        key_name: name.to_owned(),
        key_id,
        signature: raw[4..].to_vec(),
    })
}

/// An Ed25519 note verifier: a key name and its public key (algorithm 0x01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub key: VerifyingKey,
}

impl NoteVerifier {
    /// # Errors
    /// [`NoteError::BadKeyName`] when `name` is not a valid key name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, ALG_ED25519, self.key.as_bytes())
    }

    /// The C2SP verifier key string `name+hex(key id)+base64(0x01 || key)`.
    pub fn to_vkey(&self) -> String {
        let mut material = Vec::with_capacity(33);
        material.push(ALG_ED25519);
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex_lower(&self.key_id()),
            BASE64.encode(material)
        )
    }
}

/// An Ed25519 note signer (algorithm 0x01).
pub struct NoteSigner<'k> {
    name: &'k str,
    key: &'k SigningKey,
}

impl<'k> NoteSigner<'k> {
    /// # Errors
    /// [`NoteError::BadKeyName`] when `name` is not a valid key name.
    pub fn new(name: &'k str, key: &'k SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self { name, key })
    }

    /// The signature line this signer puts on `note`.
    pub fn sign(&self, note: &Note) -> NoteSignature {
        let signature = self.key.sign(note.text().as_bytes());
        NoteSignature {
            key_name: self.name.to_owned(),
            key_id: key_id(self.name, ALG_ED25519, self.key.verifying_key().as_bytes()),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    // On the audit path every header's digests pass through here; the hex
    // crate's table lookup is an order of magnitude faster than `write!`.
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let signing = key(7);
        let mut note = Note::new("hello\nworld\n".into()).expect("valid text");
        let signer = NoteSigner::new("example.org/log", &signing).expect("valid name");
        note.push_signature(signer.sign(&note))
            .expect("room for one");
        let bytes = note.to_bytes();
        let parsed = Note::parse(&bytes).expect("own note parses");
        assert_eq!(parsed, note);
        let verifier =
            NoteVerifier::new("example.org/log", signing.verifying_key()).expect("valid name");
        assert_eq!(parsed.verify(&verifier), Ok(()));
        let other =
            NoteVerifier::new("example.org/other", signing.verifying_key()).expect("valid name");
        assert_eq!(parsed.verify(&other), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn malformed_notes_are_refused_with_reason() {
        let cases: &[(&[u8], NoteError)] = &[
            (b"no separator\n", NoteError::MissingSeparator),
            (b"text\n\n", NoteError::NoSignatures),
            (
                b"text\x01\n\n\xe2\x80\x94 a AAAAAAA=\n",
                NoteError::ControlCharacter,
            ),
            (
                b"text\n\n- a AAAAAAA=\n",
                NoteError::MalformedSignature(1, "does not start with an em dash and a space"),
            ),
            (
                b"text\n\n\xe2\x80\x94 a !!!!\n",
                NoteError::MalformedSignature(1, "signature is not canonical base64"),
            ),
            (
                b"text\n\n\xe2\x80\x94 a AAAA\n",
                NoteError::MalformedSignature(1, "signature shorter than a key id"),
            ),
            (b"\xff\n\n", NoteError::NotUtf8),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Note::parse(input).as_ref().err(),
                Some(expected),
                "input {input:?}"
            );
        }
        let huge = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert_eq!(
            Note::parse(&huge),
            Err(NoteError::TooLarge(MAX_NOTE_BYTES + 1))
        );
    }

    #[test]
    fn too_many_signature_lines_are_refused() {
        let mut bytes = b"text\n\n".to_vec();
        for _ in 0..=MAX_SIGNATURES {
            bytes.extend_from_slice("\u{2014} a AAAAAAA=\n".as_bytes());
        }
        assert_eq!(Note::parse(&bytes), Err(NoteError::TooManySignatures));
    }
}
