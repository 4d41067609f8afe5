//! Helpers for the checks that run after deserialisation: JSON paths and
//! list bounds.
//!
//! Paths are written the way a reader finds the field in the payload:
//! `parties[1].aliases`, `items[0].control_entries[2]`; the payload itself is
//! `payload`.

use super::RecordError;

/// Largest integer RFC 8785 writes exactly (2^53 − 1): its numbers are
/// IEEE 754 doubles.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The path of `name` inside the object at `path`.
pub(crate) fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The path of element `i` of the array at `path`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// How a path is shown: the empty path is the whole payload.
pub(crate) fn shown_path(path: String) -> String {
    if path.is_empty() {
        "payload".to_owned()
    } else {
        path
    }
}

/// A rule broken at `path`.
pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        path: shown_path(path.into()),
        reason: reason.into(),
    }
}

/// Checks that a list at `path` has between `min` and `max` elements.
pub(crate) fn check_count<T>(
    list: &[T],
    path: &str,
    min: usize,
    max: usize,
) -> Result<(), RecordError> {
    let n = list.len();
    if n < min {
        let reason = if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("has {n} elements, fewer than the {min} required")
        };
        return Err(invalid(path, reason));
    }
    if n > max {
        return Err(invalid(
            path,
            format!("has {n} elements, more than the {max} allowed"),
        ));
    }
    Ok(())
}

/// Checks that an integer at `path` is at most [`MAX_SAFE_INTEGER`].
pub(crate) fn check_safe_integer(n: u64, path: &str) -> Result<(), RecordError> {
    if n > MAX_SAFE_INTEGER {
        return Err(invalid(
            path,
            format!(
                "{n} is larger than 2^53 - 1, the largest integer canonical JSON writes exactly"
            ),
        ));
    }
    Ok(())
}
