//! Messages between nodes: gossip and range sync.
//!
//! Every message is one JSON object with a `type` field, unknown fields
//! refused. The length of a message is checked against its kind's bound
//! before a single byte is decoded.
//!
//! - Gossip (topics `concord/<federation>/entries/v1` and
//!   `concord/<federation>/checkpoints/v1`): `entry`, `checkpoint`,
//!   `equivocation`.
//! - Sync, request then response over one stream: `checkpoints` asks for the
//!   latest checkpoint of every log the peer holds; `entries` asks for the
//!   entries `start..end` (end exclusive, at most [`MAX_RANGE_ENTRIES`]) of one
//!   log, which the peer answers with as many consecutive entries from `start`
//!   as it has and may serve; `equivocations` asks for the equivocation
//!   proofs the peer holds, which it answers with at most one proof per log
//!   and at most [`MAX_PROOFS`] in all, so that evidence reaches a node that
//!   joined, or rebuilt its store, after the proof was gossiped.
//!
//! A node that does not know a request's kind cannot decode it and closes
//! the stream without an answer; the asker takes that as a failed request,
//! which is how an older peer answers `equivocations`.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::entry::WireEntry;
use crate::equivocation::EquivocationProof;
use crate::origin::Origin;

/// Largest gossip message.
pub const MAX_GOSSIP_BYTES: usize = 512 * 1024;
/// Largest sync request.
pub const MAX_SYNC_REQUEST_BYTES: usize = 16 * 1024;
/// Largest sync response.
pub const MAX_SYNC_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Most entries asked for, or sent, in one range.
pub const MAX_RANGE_ENTRIES: u64 = 1024;
/// Most proofs in one `equivocations` answer. One proof per log suffices to
/// quarantine it, and each proof costs its receiver signature checks, so a
/// peer may not make a node verify more than this many per request.
pub const MAX_PROOFS: usize = 256;

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("message is malformed: {0}")]
    Malformed(String),
    #[error("range {start}..{end} is empty or longer than {MAX_RANGE_ENTRIES} entries")]
    BadRange { start: u64, end: u64 },
    #[error("answer holds {n_proofs} proofs, more than the {MAX_PROOFS} allowed")]
    TooManyProofs { n_proofs: usize },
}

/// A message published on a gossip topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Gossip {
    /// A new entry, with its payload when the topic's audience may read it.
    Entry { entry: WireEntry },
    /// A signed checkpoint note, cosignatures included.
    Checkpoint { note: String },
    /// Proof that a log equivocated.
    Equivocation { proof: EquivocationProof },
}

/// A request for state a peer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncRequest {
    Checkpoints,
    Entries {
        origin: Origin,
        start: u64,
        end: u64,
    },
    /// The equivocation proofs the peer holds.
    Equivocations,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncResponse {
    Checkpoints {
        notes: Vec<String>,
    },
    Entries {
        origin: Origin,
        start: u64,
        entries: Vec<WireEntry>,
    },
    Equivocations {
        proofs: Vec<EquivocationProof>,
    },
    Refused {
        reason: String,
    },
}

impl SyncRequest {
    /// Checks bounds a well-formed request must meet.
    ///
    /// # Errors
    /// [`WireError::BadRange`] for an empty or oversized range.
    pub fn check(&self) -> Result<(), WireError> {
        if let Self::Entries { start, end, .. } = self
            && (end <= start || end - start > MAX_RANGE_ENTRIES)
        {
            return Err(WireError::BadRange {
                start: *start,
                end: *end,
            });
        }
        Ok(())
    }
}

impl SyncResponse {
    /// Checks bounds a well-formed answer must meet, before the asker acts
    /// on any of it.
    ///
    /// # Errors
    /// [`WireError::TooManyProofs`] for an answer with more than
    /// [`MAX_PROOFS`] proofs.
    pub fn check(&self) -> Result<(), WireError> {
        if let Self::Equivocations { proofs } = self
            && proofs.len() > MAX_PROOFS
        {
            return Err(WireError::TooManyProofs {
                n_proofs: proofs.len(),
            });
        }
        Ok(())
    }
}

/// Decodes a message after checking its length against `max`.
///
/// # Errors
/// [`WireError::TooLarge`] before decoding, [`WireError::Malformed`] after.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, WireError> {
    if bytes.len() > max {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

/// Encodes a message.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message)
        .expect("wire messages hold only strings, integers, lists and objects")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_bounds_hold() {
        let request = SyncRequest::Entries {
            origin: Origin::new("o/x").expect("valid"),
            start: 0,
            end: 10,
        };
        let bytes = encode(&request);
        assert_eq!(
            decode::<SyncRequest>(&bytes, MAX_SYNC_REQUEST_BYTES),
            Ok(request)
        );
        assert_eq!(
            decode::<SyncRequest>(&bytes, 4),
            Err(WireError::TooLarge {
                size: bytes.len(),
                max: 4
            })
        );
        assert!(matches!(
            decode::<SyncRequest>(&bytes[..bytes.len() - 1], 1 << 20),
            Err(WireError::Malformed(_))
        ));
        let unknown = br#"{"type":"entries","origin":"o","start":0,"end":1,"extra":1}"#;
        assert!(
            matches!(decode::<SyncRequest>(unknown, 1 << 20), Err(WireError::Malformed(m)) if m.contains("extra"))
        );
        let too_long = SyncRequest::Entries {
            origin: Origin::new("o").expect("valid"),
            start: 5,
            end: 5 + MAX_RANGE_ENTRIES + 1,
        };
        assert!(too_long.check().is_err());
    }
}
