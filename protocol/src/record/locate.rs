//! Finds the JSON path of a byte offset in a JSON text, to name the field
//! that serde rejected.
//!
//! serde_json reports where an error was found as a line and a column. The
//! byte offset they describe is just after the token that was rejected (a
//! value that failed validation, an unknown or duplicate key), or, when that
//! token was the last of its object or array, just after the bracket that
//! closes it; a missing field is reported just after the closing brace of its
//! object. [`path_at`] walks the text's tokens up to that offset and returns
//! both the path of the last key or value (`parties[1].country`) and the path
//! of the last container closed (`parties[1]`). The text before the offset
//! has already been read by serde_json, so it is well-formed as far as it
//! goes; the walk stops quietly at anything else.

enum Frame {
    Object { key: Option<String> },
    Array { index: usize },
}

fn path_of(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Object { key: Some(key) } => {
                let simple =
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if simple {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                } else {
                    path.push_str(&format!("[{key:?}]"));
                }
            }
            Frame::Object { key: None } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

/// The byte offset of `line` (1-based) and `column` (bytes into the line) in
/// `text`, as serde_json counts them.
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column).min(text.len())
}

/// Where a walk up to an offset stopped.
pub(crate) struct Located {
    /// Path of the last key or value before the offset.
    pub token: String,
    /// Path of the last object or array closed before the offset.
    pub closed: String,
}

/// The paths of the last token and the last closed container before
/// `offset`.
pub(crate) fn path_at(text: &str, offset: usize) -> Located {
    let bytes = text.as_bytes();
    let end = offset.min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut path = String::new();
    let mut closed = String::new();
    let mut pos = 0;
    while pos < end {
        let b = bytes[pos];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => pos += 1,
            b'{' | b'[' => {
                path = path_of(&stack);
                stack.push(if b == b'{' {
                    Frame::Object { key: None }
                } else {
                    Frame::Array { index: 0 }
                });
                pos += 1;
            }
            b'}' | b']' => {
                stack.pop();
                closed = path_of(&stack);
                pos += 1;
            }
            b',' => {
                match stack.last_mut() {
                    Some(Frame::Object { key }) => *key = None,
                    Some(Frame::Array { index }) => *index += 1,
                    None => {}
                }
                pos += 1;
            }
            b'"' => {
                let start = pos;
                pos += 1;
                while pos < bytes.len() && bytes[pos] != b'"' {
                    pos += if bytes[pos] == b'\\' { 2 } else { 1 };
                }
                pos = (pos + 1).min(bytes.len());
                let expecting_key = matches!(stack.last(), Some(Frame::Object { key: None }));
                if expecting_key {
                    let raw = text.get(start..pos).unwrap_or_default();
                    let key = serde_json::from_str::<String>(raw)
                        .unwrap_or_else(|_| raw.trim_matches('"').to_owned());
                    if let Some(Frame::Object { key: slot }) = stack.last_mut() {
                        *slot = Some(key);
                    }
                }
                path = path_of(&stack);
            }
            _ => {
                // A number or a literal: runs to the next delimiter.
                while pos < bytes.len()
                    && !matches!(
                        bytes[pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    pos += 1;
                }
                path = path_of(&stack);
            }
        }
    }
    Located {
        token: path,
        closed,
    }
}
