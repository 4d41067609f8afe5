//! Base64 as Concord reads it (PROTOCOL.md §1): RFC 4648 §4, the standard
//! alphabet, with padding, in its one canonical form (RFC 4648 §3.5: the
//! padding bits of the last character are zero).
//!
//! Every base64 text Concord reads from a peer or a file goes through
//! [`decode`]. A lenient decoder maps several texts to one byte string, and
//! a signature is over the decoded bytes, so the line that carries it could
//! change without any signature noticing: gossiped entries and
//! checkpoints, and the entry and checkpoint lines of a v1 bundle, are
//! covered by their own signatures only (PROTOCOL.md §9).

use ::base64::Engine as _;
use ::base64::alphabet;
use ::base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The canonical engine, spelled out rather than trusting a crate's
/// defaults: padding written and required, padding bits zero.
const CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A text that is not canonical base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not canonical base64: {0}")]
pub struct NotCanonical(::base64::DecodeError);

/// The bytes of a canonical base64 text.
///
/// # Errors
/// [`NotCanonical`] for a character outside the standard alphabet, missing
/// or extra padding, whitespace, or a padding bit that is not zero.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, NotCanonical> {
    CANONICAL.decode(text).map_err(NotCanonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<&[u8]>) {
        assert_eq!(decode(text).ok().as_deref(), expected, "{text:?}");
    }

    #[test]
    fn only_the_canonical_text_decodes() {
        // One byte: 6 + 2 bits, so the second character carries 4 padding
        // bits; two bytes: the third character carries 2.
        check("AA==", Some(&[0]));
        check("AB==", None);
        check("AP==", None);
        check("AAA=", Some(&[0, 0]));
        check("AAB=", None);
        check("AAD=", None);
        check("", Some(&[]));
        check("AA", None);
        check("AA=", None);
        check("AA===", None);
        check("AAA", None);
        check("AA==AA==", None);
        check("A A==", None);
        check("AA==\n", None);
        check("-_==", None);
        check("+/8=", Some(&[0xfb, 0xff]));
    }

    #[test]
    fn a_signature_whose_last_character_changes_only_padding_bits_is_refused() {
        let signature: Vec<u8> = (0..64).collect();
        let text = CANONICAL.encode(&signature);
        assert_eq!(decode(&text), Ok(signature.clone()));
        // 64 bytes end in one byte over 6 + 2 bits: the last character
        // before "==" holds 4 padding bits.
        let last = text.len() - 3;
        for padding in 1..16u8 {
            let mut changed = text.clone().into_bytes();
            let value = CANONICAL_ALPHABET
                .iter()
                .position(|&c| c == changed[last])
                .expect("base64 character");
            changed[last] = CANONICAL_ALPHABET[value | usize::from(padding)];
            assert!(
                decode(&changed).is_err(),
                "{}",
                String::from_utf8_lossy(&changed)
            );
        }
    }

    const CANONICAL_ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}
