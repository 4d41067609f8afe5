//! Bounded text and small scalar values used inside records.
//!
//! - [`Name`]: a single line of 1 to [`MAX_NAME`] characters (party names,
//!   aliases, authorities, references, units, places), not blank, no control
//!   characters at all.
//! - [`Text`]: free text of 1 to [`MAX_TEXT`] characters (descriptions,
//!   reasons, summaries, addresses), not blank; newline (`\n`) is the only
//!   control character allowed.
//! - [`Decimal`]: a non-negative decimal number written as a string,
//!   `digits[.digits]`, no sign, no exponent, no superfluous leading zero, at
//!   most [`MAX_DECIMAL`] characters (`"12"`, `"0.5"`, `"1500.00"`).
//! - [`Currency`]: an ISO 4217 alphabetic code, three uppercase ASCII letters.
//!
//! Lengths are counted in Unicode scalar values. Every type validates on
//! construction and serialises as the JSON string it was built from.

/// Longest [`Name`], in characters.
pub const MAX_NAME: usize = 256;
/// Longest [`Text`], in characters.
pub const MAX_TEXT: usize = 4096;
/// Longest [`Decimal`], in characters.
pub const MAX_DECIMAL: usize = 32;

/// Why a single value is not valid, without saying where it stands.
///
/// [`Record::parse`](super::Record::parse) adds the JSON path and reports a
/// [`RecordError`](super::RecordError).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub(crate) String);

impl ValueError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The reason, lowercase, without the field's path.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

/// Implements `as_str`, `Display`, `FromStr`, `TryFrom<String>`,
/// `From<T> for String` and `AsRef<str>` for a newtype over `String` whose
/// `fn check(&str) -> Result<(), ValueError>` holds the rule.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl $ty {
            /// Validates `s` and wraps it.
            ///
            /// # Errors
            /// [`ValueError`](crate::record::ValueError) saying which rule `s` breaks.
            pub fn new(s: &str) -> Result<Self, $crate::record::ValueError> {
                Self::check(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::record::ValueError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> Self {
                v.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::record::ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use string_newtype;

/// A quoted, shortened rendering of untrusted input for error messages, so
/// that a 200 KiB string does not become a 200 KiB error.
pub(crate) fn shown(s: &str) -> String {
    const MAX_SHOWN: usize = 40;
    if s.chars().count() <= MAX_SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_SHOWN).collect();
        format!("{head:?}…")
    }
}

fn check_bounded(s: &str, max: usize, newline_ok: bool) -> Result<(), ValueError> {
    if s.trim().is_empty() {
        return Err(ValueError::new("must not be empty or blank"));
    }
    // No more characters than bytes: only a long string needs counting.
    if s.len() > max {
        let n_chars = s.chars().count();
        if n_chars > max {
            return Err(ValueError::new(format!(
                "is {n_chars} characters long, more than the {max} allowed"
            )));
        }
    }
    if let Some(c) = first_control(s, newline_ok) {
        return Err(ValueError::new(format!(
            "contains the control character U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(())
}

/// The first control character of `s` (Unicode category Cc: U+0000–U+001F,
/// U+007F–U+009F), newline excepted if `newline_ok`. Scans bytes, not
/// characters: in UTF-8 those are the bytes 0x00–0x1F and 0x7F, and the
/// pairs 0xC2 0x80–0x9F.
fn first_control(s: &str, newline_ok: bool) -> Option<char> {
    let bytes = s.as_bytes();
    // A branch-free pass the compiler vectorises rules out almost every
    // string; only a string with a suspect byte is scanned exactly.
    let suspect = bytes.iter().fold(false, |seen, &b| {
        seen | (b < 0x20) | (b == 0x7F) | (b == 0xC2)
    });
    if !suspect {
        return None;
    }
    let at = bytes.iter().enumerate().position(|(i, &b)| {
        (b < 0x20 && !(newline_ok && b == b'\n'))
            || b == 0x7F
            || (b == 0xC2
                && bytes
                    .get(i + 1)
                    .is_some_and(|&n| (0x80..=0x9F).contains(&n)))
    })?;
    s[at..].chars().next()
}

/// A single-line name: 1 to [`MAX_NAME`] characters, not blank, no control
/// characters.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    fn check(s: &str) -> Result<(), ValueError> {
        check_bounded(s, MAX_NAME, false)
    }
}
string_newtype!(Name);

/// Free text: 1 to [`MAX_TEXT`] characters, not blank, newline the only
/// control character allowed.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    fn check(s: &str) -> Result<(), ValueError> {
        check_bounded(s, MAX_TEXT, true)
    }
}
string_newtype!(Text);

/// A non-negative decimal number kept as its string (`"250"`, `"0.75"`), so
/// that no float ever enters canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Decimal(String);

impl Decimal {
    fn check(s: &str) -> Result<(), ValueError> {
        let bad = || {
            ValueError::new(format!(
                "{} is not a decimal number (digits, optionally '.' and more digits, at most {MAX_DECIMAL} characters)",
                shown(s)
            ))
        };
        if s.len() > MAX_DECIMAL {
            return Err(bad());
        }
        let (int, frac) = match s.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (s, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(bad());
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(ValueError::new(format!(
                "{} has a superfluous leading zero",
                shown(s)
            )));
        }
        Ok(())
    }
}
string_newtype!(Decimal);

/// An ISO 4217 alphabetic currency code: three uppercase ASCII letters.
///
/// Only the shape is checked: the list of codes changes more often than
/// records are re-validated.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    fn check(s: &str) -> Result<(), ValueError> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(ValueError::new(format!(
                "{} is not an ISO 4217 currency code (three uppercase letters)",
                shown(s)
            )))
        }
    }
}
string_newtype!(Currency);

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The byte scan finds exactly what `char::is_control` finds.
        #[test]
        fn first_control_is_the_first_cc_character(
            s in "(\\PC|[\\x00-\\x1f\\x7f-\\u{9f}\\u{c2}\\u{100}-\\u{17f}]){0,40}",
            newline_ok: bool,
        ) {
            let expected = s.chars().find(|&c| c.is_control() && !(newline_ok && c == '\n'));
            proptest::prop_assert_eq!(first_control(&s, newline_ok), expected);
        }
    }
}
