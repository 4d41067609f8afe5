//! Log origins: the name of one member's log.
//!
//! An origin is the first line of every checkpoint of the log, the key name of
//! the member's note signatures, and the `origin` field of every entry header.
//! Concord origins look like `pacific-alliance.concord/mx-se`: printable
//! ASCII, 1 to [`MAX_ORIGIN`] bytes, no whitespace and no `+` (C2SP key-name
//! rules, so an origin is always a valid key name).

use std::fmt;

/// Longest origin accepted.
pub const MAX_ORIGIN: usize = 128;

/// A validated log origin.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

/// Why a string is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid log origin {0:?}: must be 1 to {MAX_ORIGIN} printable ASCII bytes without spaces or '+'"
)]
pub struct OriginError(pub String);

impl Origin {
    /// # Errors
    /// [`OriginError`] when `s` breaks the rules above.
    pub fn new(s: &str) -> Result<Self, OriginError> {
        let valid = !s.is_empty()
            && s.len() <= MAX_ORIGIN
            && s.bytes().all(|b| b.is_ascii_graphic() && b != b'+');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(OriginError(s.to_owned()))
        }
    }

    /// The origin Concord gives a member's log: `<federation>.concord/<id>`.
    ///
    /// # Errors
    /// [`OriginError`] when the parts make an invalid origin.
    pub fn for_member(federation: &str, member_id: &str) -> Result<Self, OriginError> {
        Self::new(&format!("{federation}.concord/{member_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Origin {
    type Error = OriginError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> Self {
        o.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let cases = [
            ("pacific-alliance.concord/mx-se", true),
            ("a", true),
            ("", false),
            ("has space", false),
            ("plus+sign", false),
            ("tab\there", false),
            ("ñ", false),
        ];
        for (input, ok) in cases {
            assert_eq!(Origin::new(input).is_ok(), ok, "{input:?}");
        }
        assert!(Origin::new(&"x".repeat(MAX_ORIGIN + 1)).is_err());
    }
}
