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

/// Where a value stands in a payload. Validation descends through it
/// without allocating; it is written out (with [`field`]'s rule for
/// fields) only when a rule is broken.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The path of field `name` of the object here.
    pub(crate) fn field(&self, name: &'static str) -> Path<'_> {
        Path::Field(self, name)
    }

    /// The path of element `i` of the array here.
    pub(crate) fn index(&self, i: usize) -> Path<'_> {
        Path::Index(self, i)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(parent, name) => f.write_str(&field(&parent.to_string(), name)),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The path of `name` inside the object at the written path `path`.
pub(crate) fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
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
pub(crate) fn invalid(path: &Path<'_>, reason: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        path: shown_path(path.to_string()),
        reason: reason.into(),
    }
}

/// Checks that a list at `path` has between `min` and `max` elements.
pub(crate) fn check_count<T>(
    list: &[T],
    path: &Path<'_>,
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
pub(crate) fn check_safe_integer(n: u64, path: &Path<'_>) -> Result<(), RecordError> {
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
