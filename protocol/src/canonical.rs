//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme).
//!
//! Concord produces every header, payload and roster as RFC 8785 bytes, and
//! verifiers check signatures and digests over the bytes they received, never
//! over a re-encoding. [`is_canonical`] lets a verifier refuse a header that a
//! conforming producer could not have written, after its signature checked.

/// Why a value could not be made canonical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value cannot be written as canonical JSON: {0}")]
pub struct CanonicalError(String);

/// The RFC 8785 bytes of `value`.
///
/// # Errors
/// [`CanonicalError`] when the value holds something JSON cannot carry (a
/// non-finite float, a map with non-string keys).
pub fn to_canonical_vec<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
}

/// Whether `bytes` are exactly the RFC 8785 form of the JSON they hold.
pub fn is_canonical(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| to_canonical_vec(&value).ok())
        .is_some_and(|canonical| canonical == bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases: &[(&[u8], bool)] = &[
            (br#"{"a":1,"b":[true,null]}"#, true),
            (br#"{"b":1,"a":2}"#, false),
            (br#"{"a": 1}"#, false),
            (br#"{"a":1.0}"#, false),
            (br#"{"a":"\u00e9"}"#, false),
            ("{\"a\":\"é\"}".as_bytes(), true),
            (b"not json", false),
        ];
        for (input, expected) in cases {
            assert_eq!(
                is_canonical(input),
                *expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
