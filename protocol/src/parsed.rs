//! Values read from a JSON string by a parser, without an owned copy of
//! the string: headers and records hold many such values (digests, key
//! ids, country codes), and a `String` for each was a measurable share of
//! decoding them.

use std::fmt::Display;

use serde::de::{Deserializer, Error, Visitor};

/// Deserialises a string with `parse`; `expecting` names the value for
/// serde's own type errors, `parse`'s error becomes the message otherwise.
pub(crate) fn from_str<'de, D, T, E>(
    deserializer: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: Display,
{
    struct Parsed<F> {
        expecting: &'static str,
        parse: F,
    }
    impl<T, E: Display, F: FnOnce(&str) -> Result<T, E>> Visitor<'_> for Parsed<F> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<V: Error>(self, s: &str) -> Result<T, V> {
            (self.parse)(s).map_err(V::custom)
        }
    }
    deserializer.deserialize_str(Parsed { expecting, parse })
}
