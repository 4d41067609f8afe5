//! The federation roster and its signed file, `concord-roster/v1`.
//!
//! A [`Roster`] lists the participants of one federation, the log keys each
//! may sign with and for which log indexes, and the threshold of members
//! that must approve the next roster. Its JSON (every object refuses unknown
//! fields):
//!
//! ```json
//! {
//!   "federation": "pacific-alliance",
//!   "version": 1,
//!   "policy": {"threshold": "majority"},
//!   "members": [{
//!     "id": "mx-se",
//!     "name": "Secretaría de Economía",
//!     "country": "MX",
//!     "role": "member",
//!     "origin": "pacific-alliance.concord/mx-se",
//!     "keys": [{"vkey": "pacific-alliance.concord/mx-se+1a2b3c4d+AQ…",
//!               "first_index": 0, "last_index": null, "revoked": false}],
//!     "peer_id": "12D3KooW…",
//!     "addrs": ["/dns4/concord.economia.gob.mx/tcp/4001"]
//!   }]
//! }
//! ```
//!
//! - `federation`: 1 to 64 bytes of `[a-z0-9-]`; `version` starts at 1.
//! - `threshold`: `"majority"` (⌊n/2⌋ + 1 of the n participants whose role is
//!   `member`) or `{"at_least": k}` with 1 ≤ k ≤ n. Observers never count.
//! - `origin` is the member's log origin and key name, exactly
//!   `<federation>.concord/<id>`.
//! - `keys`: Ed25519 note keys (C2SP verifier keys, algorithm 0x01) named by
//!   the origin. A key that is not revoked is authorised for the log indexes
//!   `first_index..=last_index` (`null`: no end; at most one such open key). A
//!   revoked key keeps only the indexes before its revocation
//!   (`first_index..=last_index`, or none at all when `last_index` is
//!   `null`), so entries signed before a compromise stay valid and nothing
//!   later does. The ranges of one member never overlap.
//! - `version`, indexes and `at_least` are at most 2^53 - 1, so that their
//!   canonical form is exact.
//! - `peer_id`: the libp2p peer id text (1 to 128 base58 characters); `addrs`:
//!   up to 16 multiaddr texts of up to 256 bytes each.
//!
//! The signed roster file is one JSON object:
//!
//! ```json
//! {"format": "concord-roster/v1",
//!  "roster": "<base64 of the RFC 8785 canonical JSON of the roster>",
//!  "signatures": [{"member": "mx-se", "key_id": "<8 hex>", "signature": "<base64, 64 bytes>"}]}
//! ```
//!
//! Each signature is Ed25519 over `concord/roster/v1\n` || the decoded roster
//! bytes, verbatim: they are verified as received and only then trusted as a
//! roster (and refused after that if they are not canonical). A signature
//! counts when it is by a participant with role `member` of the *signing*
//! roster — the roster itself for the genesis (version 1), the previous
//! roster for an update — made with that member's current key (open, not
//! revoked) and naming its key id. Signatures by observers, by unknown ids or
//! with a wrong key are ignored, and several signatures by one member count
//! once.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::canonical;
use concord_protocol::checkpoint::CosignatureVerifier;
use concord_protocol::equivocation::{KeyLookup, KeyRefusal};
use concord_protocol::note::{NoteVerifier, check_key_name};
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};

use crate::identity::{AgencyIdentity, MemberId};
use crate::vkey::{VerifierKey, format_key_id, parse_key_id};

/// The `format` of signed roster files.
pub const FORMAT: &str = "concord-roster/v1";
/// Prefix of the message a roster signature signs.
pub const SIGNING_CONTEXT: &[u8] = b"concord/roster/v1\n";
/// Largest signed roster file accepted.
pub const MAX_ROSTER_FILE_BYTES: usize = 1024 * 1024;
/// Most participants in one roster.
pub const MAX_MEMBERS: usize = 256;
/// Most signatures on one roster file.
pub const MAX_SIGNATURES: usize = 2 * MAX_MEMBERS;
/// Most keys (current and past) of one participant.
pub const MAX_KEYS_PER_MEMBER: usize = 64;
/// Longest federation name.
pub const MAX_FEDERATION: usize = 64;
/// Longest display name of a participant.
pub const MAX_NAME: usize = 256;
/// Longest libp2p peer id text.
pub const MAX_PEER_ID: usize = 128;
/// Most addresses of one participant.
pub const MAX_ADDRS: usize = 16;
/// Longest address.
pub const MAX_ADDR: usize = 256;
/// Largest version, index or threshold a roster holds: 2^53 - 1, the
/// largest integer RFC 8785 (which writes numbers as IEEE 754 doubles)
/// carries exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

const BASE58_ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Why a roster, a roster file or a roster query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    // The roster itself.
    #[error("federation {0:?} is invalid: must be 1 to {MAX_FEDERATION} bytes of [a-z0-9-]")]
    BadFederation(String),
    #[error("roster version must be at least 1")]
    VersionZero,
    #[error(
        "{field} is {value}, more than {MAX_SAFE_INTEGER} (the largest integer canonical JSON carries exactly)"
    )]
    NumberTooLarge { field: &'static str, value: u64 },
    #[error("roster has {0} participants, more than the {MAX_MEMBERS} allowed")]
    TooManyMembers(usize),
    #[error("roster has no participant with role member")]
    NoMembers,
    #[error(
        "threshold at_least {at_least} is invalid: must be between 1 and the {n_members} members"
    )]
    BadThreshold { at_least: u64, n_members: usize },
    #[error("member {0} appears twice")]
    DuplicateMember(MemberId),
    #[error("origin {0} is used by two members")]
    DuplicateOrigin(String),
    #[error("peer id {0} is used by two members")]
    DuplicatePeerId(String),
    #[error("member {member}: origin {found:?} must be {expected:?}")]
    BadOrigin {
        member: MemberId,
        found: String,
        expected: String,
    },
    #[error("member {member}: field {field} is invalid: {reason}")]
    BadMemberField {
        member: MemberId,
        field: &'static str,
        reason: String,
    },
    #[error("member {member}: key {key_idx} is invalid: {reason}")]
    BadKey {
        member: MemberId,
        key_idx: usize,
        reason: String,
    },
    #[error("member {member}: keys {key_a} and {key_b} are valid for overlapping log indexes")]
    OverlappingKeys {
        member: MemberId,
        key_a: String,
        key_b: String,
    },
    #[error("member {0}: more than one open key that is not revoked")]
    SeveralOpenKeys(MemberId),

    // The signed file.
    #[error("roster file is {0} bytes, more than the {MAX_ROSTER_FILE_BYTES} allowed")]
    TooLarge(usize),
    #[error("roster file format {0:?} is not supported; expected \"{FORMAT}\"")]
    UnknownFormat(String),
    #[error("roster file is malformed: {0}")]
    Malformed(String),
    #[error("roster file field {field} is invalid: {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("roster bytes are not the RFC 8785 canonical encoding of the roster they hold")]
    NotCanonical,
    #[error("roster cannot be made canonical: {0}")]
    Canonical(String),
    #[error("roster is version {found}; expected {expected}")]
    WrongVersion { expected: u64, found: u64 },
    #[error("roster is for federation {found:?}; expected {expected:?}")]
    WrongFederation { expected: String, found: String },
    #[error("need {need} signatures of members, have {have} valid")]
    NotEnoughSignatures { need: u64, have: u64 },

    // Building an update.
    #[error("no member {0} in the roster")]
    UnknownMember(MemberId),
    #[error("member {0} is already in the roster")]
    MemberExists(MemberId),
    #[error("member {member} has no key {key_id}")]
    UnknownKey { member: MemberId, key_id: String },
    #[error("member {member}: key {key_id} is already revoked")]
    AlreadyRevoked { member: MemberId, key_id: String },
    #[error("member {member}: key {key_id} is already in the roster")]
    DuplicateKey { member: MemberId, key_id: String },
    #[error("member {member}: cannot rotate at index {from_index}: {reason}")]
    BadRotation {
        member: MemberId,
        from_index: u64,
        reason: String,
    },

    // Queries.
    #[error("no member has origin {0:?}")]
    UnknownOrigin(String),
    #[error("{0} is an observer and cannot publish")]
    ObserverCannotPublish(MemberId),
    #[error("member {member} has no key valid at log index {index}")]
    NoKeyAtIndex { member: MemberId, index: u64 },
    #[error("member {member}: key {key_id} is revoked for log index {index}")]
    KeyRevoked {
        member: MemberId,
        key_id: String,
        index: u64,
    },
}

/// A federation roster. [`Roster::validate`] checks its invariants; every
/// roster that comes out of [`SignedRoster`] has passed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Federation name, `[a-z0-9-]{1,64}`; the first part of every origin.
    pub federation: String,
    /// 1 for the genesis, then one more for each approved update.
    pub version: u64,
    /// How the next roster is approved.
    pub policy: Policy,
    /// Members and observers, in no particular order.
    pub members: Vec<Member>,
}

/// How rosters are approved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Approvals the next roster needs.
    pub threshold: Threshold,
}

/// How many members must sign the next roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// ⌊n/2⌋ + 1 of the n participants with role member.
    Majority,
    /// A fixed count, between 1 and the number of members.
    AtLeast(u64),
}

impl Threshold {
    /// Signatures needed when the roster has `n_members` members.
    pub fn required(self, n_members: usize) -> u64 {
        match self {
            Self::Majority => n_members as u64 / 2 + 1,
            Self::AtLeast(n) => n,
        }
    }
}

// What a participant may do is part of the ledger's rules (who may read
// a payload); the roster names it.
pub use concord_protocol::ledger::Role;

/// One participant of the federation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Unique within the roster; the last part of the origin.
    pub id: MemberId,
    /// Human-readable name of the agency.
    pub name: String,
    /// The state the agency belongs to (for an international body, its seat).
    pub country: Country,
    /// Whether it publishes and approves, or only audits and witnesses.
    pub role: Role,
    /// The member's log origin, `<federation>.concord/<id>`.
    pub origin: String,
    /// Current and past log keys.
    pub keys: Vec<LogKey>,
    /// libp2p peer id text of the member's node.
    pub peer_id: String,
    /// Multiaddr texts where the member's node listens.
    pub addrs: Vec<String>,
}

/// A log key and the log indexes it may sign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogKey {
    /// An Ed25519 note key (algorithm 0x01) named by the member's origin.
    pub vkey: VerifierKey,
    /// First log index the key may sign.
    pub first_index: u64,
    /// Last index the key may sign; `None` for no end (the current key), or,
    /// when revoked, for a key that may sign nothing.
    pub last_index: Option<u64>,
    /// Revoked keys sign nothing after `last_index` and no checkpoint.
    pub revoked: bool,
}

impl LogKey {
    /// The current key of a member from `first_index` on.
    pub fn open(vkey: VerifierKey, first_index: u64) -> Self {
        Self {
            vkey,
            first_index,
            last_index: None,
            revoked: false,
        }
    }

    /// The indexes this key is authorised for, as (first, last or no end);
    /// `None` when it is authorised for none.
    pub fn valid_range(&self) -> Option<(u64, Option<u64>)> {
        match (self.revoked, self.last_index) {
            (true, None) => None,
            (_, last) => Some((self.first_index, last)),
        }
    }

    /// Whether the key is authorised for log index `index`.
    pub fn covers(&self, index: u64) -> bool {
        self.valid_range()
            .is_some_and(|(first, last)| first <= index && last.is_none_or(|last| index <= last))
    }

    /// Whether this is a current key: open and not revoked.
    pub fn is_current(&self) -> bool {
        !self.revoked && self.last_index.is_none()
    }
}

impl Member {
    /// The key the member signs new entries and roster approvals with.
    pub fn current_key(&self) -> Option<&LogKey> {
        self.keys.iter().find(|key| key.is_current())
    }

    fn key_by_id(&self, key_id: [u8; 4]) -> Option<usize> {
        self.keys.iter().position(|key| key.vkey.key_id() == key_id)
    }

    fn validate(&self, federation: &str) -> Result<(), RosterError> {
        let field = |field: &'static str, reason: &str| RosterError::BadMemberField {
            member: self.id.clone(),
            field,
            reason: reason.to_owned(),
        };
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME {
            return Err(field(
                "name",
                &format!("must be 1 to {MAX_NAME} bytes, not blank"),
            ));
        }
        if self.name.chars().any(char::is_control) {
            return Err(field("name", "holds a control character"));
        }
        let expected = Origin::for_member(federation, self.id.as_str())
            .map(|origin| origin.as_str().to_owned())
            .unwrap_or_default();
        if self.origin != expected || check_key_name(&self.origin).is_err() {
            return Err(RosterError::BadOrigin {
                member: self.id.clone(),
                found: self.origin.clone(),
                expected,
            });
        }
        if self.peer_id.is_empty()
            || self.peer_id.len() > MAX_PEER_ID
            || !self.peer_id.bytes().all(|b| BASE58_ALPHABET.contains(&b))
        {
            return Err(field(
                "peer_id",
                &format!("must be 1 to {MAX_PEER_ID} base58 characters"),
            ));
        }
        if self.addrs.len() > MAX_ADDRS {
            return Err(field("addrs", &format!("more than {MAX_ADDRS} addresses")));
        }
        for addr in &self.addrs {
            let valid = addr.starts_with('/')
                && addr.len() <= MAX_ADDR
                && addr.bytes().all(|b| b.is_ascii_graphic());
            if !valid {
                return Err(field(
                    "addrs",
                    &format!(
                        "{addr:?} is not a multiaddr: must start with '/', be at most {MAX_ADDR} printable ASCII bytes"
                    ),
                ));
            }
        }
        self.validate_keys()
    }

    fn validate_keys(&self) -> Result<(), RosterError> {
        let bad_key = |key_idx: usize, reason: String| RosterError::BadKey {
            member: self.id.clone(),
            key_idx,
            reason,
        };
        if self.keys.is_empty() || self.keys.len() > MAX_KEYS_PER_MEMBER {
            return Err(RosterError::BadMemberField {
                member: self.id.clone(),
                field: "keys",
                reason: format!("must hold 1 to {MAX_KEYS_PER_MEMBER} keys"),
            });
        }
        let mut key_ids = HashSet::new();
        for (key_idx, key) in self.keys.iter().enumerate() {
            if !key.vkey.is_note_key() {
                return Err(bad_key(
                    key_idx,
                    format!(
                        "algorithm 0x{:02x} is not an Ed25519 note key (0x01)",
                        key.vkey.alg()
                    ),
                ));
            }
            if key.vkey.name() != self.origin {
                return Err(bad_key(
                    key_idx,
                    format!("key name {:?} is not the origin", key.vkey.name()),
                ));
            }
            if key.last_index.is_some_and(|last| last < key.first_index) {
                return Err(bad_key(
                    key_idx,
                    "last_index is before first_index".to_owned(),
                ));
            }
            if !key_ids.insert(key.vkey.key_id()) {
                return Err(RosterError::DuplicateKey {
                    member: self.id.clone(),
                    key_id: format_key_id(&key.vkey.key_id()),
                });
            }
        }
        if self.keys.iter().filter(|key| key.is_current()).count() > 1 {
            return Err(RosterError::SeveralOpenKeys(self.id.clone()));
        }
        let mut ranges: Vec<(u64, Option<u64>, &LogKey)> = self
            .keys
            .iter()
            .filter_map(|key| key.valid_range().map(|(first, last)| (first, last, key)))
            .collect();
        ranges.sort_by_key(|&(first, _, _)| first);
        for pair in ranges.windows(2) {
            let (_, last_a, key_a) = pair[0];
            let (first_b, _, key_b) = pair[1];
            if last_a.is_none_or(|last_a| last_a >= first_b) {
                return Err(RosterError::OverlappingKeys {
                    member: self.id.clone(),
                    key_a: format_key_id(&key_a.vkey.key_id()),
                    key_b: format_key_id(&key_b.vkey.key_id()),
                });
            }
        }
        Ok(())
    }
}

impl Roster {
    /// Checks every invariant: names and bounds, one member per id, origin
    /// and peer id, key ranges that do not overlap, at most one current key
    /// per member, at least one member and a reachable threshold.
    ///
    /// # Errors
    /// The [`RosterError`] naming the first invariant broken.
    pub fn validate(&self) -> Result<(), RosterError> {
        let valid_federation = !self.federation.is_empty()
            && self.federation.len() <= MAX_FEDERATION
            && self
                .federation
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_federation {
            return Err(RosterError::BadFederation(self.federation.clone()));
        }
        if self.version == 0 {
            return Err(RosterError::VersionZero);
        }
        let numbers = self
            .members
            .iter()
            .flat_map(|member| &member.keys)
            .flat_map(|key| {
                [
                    ("first_index", Some(key.first_index)),
                    ("last_index", key.last_index),
                ]
            });
        let at_least = match self.policy.threshold {
            Threshold::AtLeast(at_least) => Some(at_least),
            Threshold::Majority => None,
        };
        for (field, value) in [("version", Some(self.version)), ("at_least", at_least)]
            .into_iter()
            .chain(numbers)
        {
            if let Some(value) = value
                && value > MAX_SAFE_INTEGER
            {
                return Err(RosterError::NumberTooLarge { field, value });
            }
        }
        if self.members.len() > MAX_MEMBERS {
            return Err(RosterError::TooManyMembers(self.members.len()));
        }
        let mut ids = HashSet::new();
        let mut origins = HashSet::new();
        let mut peer_ids = HashSet::new();
        for member in &self.members {
            member.validate(&self.federation)?;
            if !ids.insert(&member.id) {
                return Err(RosterError::DuplicateMember(member.id.clone()));
            }
            if !origins.insert(&member.origin) {
                return Err(RosterError::DuplicateOrigin(member.origin.clone()));
            }
            if !peer_ids.insert(&member.peer_id) {
                return Err(RosterError::DuplicatePeerId(member.peer_id.clone()));
            }
        }
        let n_members = self.n_members();
        if n_members == 0 {
            return Err(RosterError::NoMembers);
        }
        if let Threshold::AtLeast(at_least) = self.policy.threshold
            && (at_least == 0 || at_least > n_members as u64)
        {
            return Err(RosterError::BadThreshold {
                at_least,
                n_members,
            });
        }
        Ok(())
    }

    /// Participants with role member (observers excluded).
    pub fn n_members(&self) -> usize {
        self.members
            .iter()
            .filter(|member| member.role == Role::Member)
            .count()
    }

    /// Signatures of this roster's members needed to approve its successor.
    pub fn required_signatures(&self) -> u64 {
        self.policy.threshold.required(self.n_members())
    }

    /// The log origin of member `id` in this federation.
    ///
    /// # Errors
    /// [`RosterError::BadFederation`] when the federation name is invalid.
    pub fn origin_for(&self, id: &MemberId) -> Result<String, RosterError> {
        Origin::for_member(&self.federation, id.as_str())
            .map(|origin| origin.as_str().to_owned())
            .map_err(|_| RosterError::BadFederation(self.federation.clone()))
    }

    // ---- building the next roster ----

    /// A copy with the version incremented: the start of an update.
    pub fn next(&self) -> Self {
        Self {
            version: self.version.saturating_add(1),
            ..self.clone()
        }
    }

    /// Applies `change` to a copy, keeps it only if the result validates.
    fn amend<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<T, RosterError>,
    ) -> Result<T, RosterError> {
        let mut amended = self.clone();
        let out = change(&mut amended)?;
        amended.validate()?;
        *self = amended;
        Ok(out)
    }

    fn member_mut(&mut self, id: &MemberId) -> Result<&mut Member, RosterError> {
        self.members
            .iter_mut()
            .find(|member| &member.id == id)
            .ok_or_else(|| RosterError::UnknownMember(id.clone()))
    }

    /// Adds a participant.
    ///
    /// # Errors
    /// [`RosterError::MemberExists`], or whatever invariant the result breaks.
    pub fn add_member(&mut self, member: Member) -> Result<(), RosterError> {
        self.amend(|roster| {
            if roster.member(&member.id).is_some() {
                return Err(RosterError::MemberExists(member.id));
            }
            roster.members.push(member);
            Ok(())
        })
    }

    /// Removes a participant and returns it.
    ///
    /// # Errors
    /// [`RosterError::UnknownMember`], or whatever invariant the result breaks
    /// (no member left, a threshold above the members left).
    pub fn remove_member(&mut self, id: &MemberId) -> Result<Member, RosterError> {
        self.amend(|roster| {
            let member_idx = roster
                .members
                .iter()
                .position(|member| &member.id == id)
                .ok_or_else(|| RosterError::UnknownMember(id.clone()))?;
            Ok(roster.members.remove(member_idx))
        })
    }

    /// Makes `vkey` member `id`'s current key from log index `from_index` on,
    /// closing the previous current key at `from_index - 1`.
    ///
    /// # Errors
    /// [`RosterError::UnknownMember`], [`RosterError::DuplicateKey`],
    /// [`RosterError::BadRotation`] when `from_index` is not after the current
    /// key's first index, and [`RosterError::BadKey`] or
    /// [`RosterError::OverlappingKeys`] for a key that does not fit.
    pub fn rotate_key(
        &mut self,
        id: &MemberId,
        vkey: VerifierKey,
        from_index: u64,
    ) -> Result<(), RosterError> {
        self.amend(|roster| {
            let member = roster.member_mut(id)?;
            if member.key_by_id(vkey.key_id()).is_some() {
                return Err(RosterError::DuplicateKey {
                    member: id.clone(),
                    key_id: format_key_id(&vkey.key_id()),
                });
            }
            if let Some(current) = member.keys.iter_mut().find(|key| key.is_current()) {
                if from_index <= current.first_index {
                    return Err(RosterError::BadRotation {
                        member: id.clone(),
                        from_index,
                        reason: format!("the current key starts at index {}", current.first_index),
                    });
                }
                current.last_index = Some(from_index - 1);
            }
            member.keys.push(LogKey::open(vkey, from_index));
            Ok(())
        })
    }

    /// Revokes member `id`'s key `key_id` for log indexes `from_index` and
    /// later; the indexes before stay valid (all of them invalid when
    /// `from_index` is at or before the key's first index).
    ///
    /// # Errors
    /// [`RosterError::UnknownMember`], [`RosterError::UnknownKey`],
    /// [`RosterError::AlreadyRevoked`].
    pub fn revoke_key(
        &mut self,
        id: &MemberId,
        key_id: [u8; 4],
        from_index: u64,
    ) -> Result<(), RosterError> {
        self.amend(|roster| {
            let member = roster.member_mut(id)?;
            let key_idx = member
                .key_by_id(key_id)
                .ok_or_else(|| RosterError::UnknownKey {
                    member: id.clone(),
                    key_id: format_key_id(&key_id),
                })?;
            let key = &mut member.keys[key_idx];
            if key.revoked {
                return Err(RosterError::AlreadyRevoked {
                    member: id.clone(),
                    key_id: format_key_id(&key_id),
                });
            }
            key.revoked = true;
            key.last_index = if from_index <= key.first_index {
                None
            } else {
                let before = from_index - 1;
                Some(key.last_index.map_or(before, |last| last.min(before)))
            };
            Ok(())
        })
    }

    // ---- queries ----

    /// SHA-256 of the roster's canonical bytes (the bytes its members
    /// sign), in hex: what two people compare to know they trust the same
    /// roster.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let bytes =
            canonical::to_canonical_vec(self).expect("a validated roster is canonical JSON");
        concord_protocol::entry::Digest256(sha2::Sha256::digest(&bytes).into()).to_string()
    }

    /// The participant with id `id`.
    pub fn member(&self, id: &MemberId) -> Option<&Member> {
        self.members.iter().find(|member| &member.id == id)
    }

    /// The participant whose log origin is `origin`.
    pub fn member_by_origin(&self, origin: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.origin == origin)
    }

    /// The participant whose node has libp2p peer id `peer_id`.
    pub fn member_by_peer_id(&self, peer_id: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.peer_id == peer_id)
    }

    /// The key that may sign entry `index` of the log `origin`.
    ///
    /// # Errors
    /// [`RosterError::UnknownOrigin`], [`RosterError::ObserverCannotPublish`],
    /// [`RosterError::KeyRevoked`] when the index falls after the valid part
    /// of a revoked key and no later key covers it, and
    /// [`RosterError::NoKeyAtIndex`] otherwise.
    pub fn authorised_key(&self, origin: &str, index: u64) -> Result<VerifyingKey, RosterError> {
        let member = self
            .member_by_origin(origin)
            .ok_or_else(|| RosterError::UnknownOrigin(origin.to_owned()))?;
        if member.role == Role::Observer {
            return Err(RosterError::ObserverCannotPublish(member.id.clone()));
        }
        if let Some(key) = member.keys.iter().find(|key| key.covers(index)) {
            return Ok(*key.vkey.key());
        }
        // The key in charge of `index` is the latest to start at or before it.
        let in_charge = member
            .keys
            .iter()
            .filter(|key| key.first_index <= index)
            .max_by_key(|key| key.first_index);
        match in_charge {
            Some(key) if key.revoked => Err(RosterError::KeyRevoked {
                member: member.id.clone(),
                key_id: format_key_id(&key.vkey.key_id()),
                index,
            }),
            _ => Err(RosterError::NoKeyAtIndex {
                member: member.id.clone(),
                index,
            }),
        }
    }

    /// The note keys (alg 0x01) of the participant with origin `origin`,
    /// member or observer, that are not revoked: those that may sign what
    /// is not bound to log indexes, a bundle's end line for one. Empty for
    /// an unknown origin.
    pub fn note_verifiers(&self, origin: &str) -> Vec<NoteVerifier> {
        self.member_by_origin(origin)
            .map(|member| {
                member
                    .keys
                    .iter()
                    .filter(|key| !key.revoked)
                    .filter_map(|key| key.vkey.note_verifier())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Witness (cosignature/v1) keys of checkpoints of `log`: those of every
    /// participant but the log's own member, members and observers alike,
    /// each key that is not revoked, under the participant's origin, so
    /// cosignatures made before a rotation still verify. A log cosigning
    /// itself would vouch for nothing its own signature does not.
    pub fn witness_keys(&self, log: &str) -> Vec<(MemberId, VerifierKey)> {
        self.members
            .iter()
            .filter(|member| member.origin != log)
            .flat_map(|member| {
                member
                    .keys
                    .iter()
                    .filter(|key| !key.revoked)
                    .map(|key| (member.id.clone(), key.vkey.to_witness()))
            })
            .collect()
    }
}

/// The roster is what every entry, checkpoint and cosignature is verified
/// against.
impl KeyLookup for Roster {
    /// As [`Roster::authorised_key`].
    fn entry_key(&self, origin: &Origin, index: u64) -> Result<VerifyingKey, KeyRefusal> {
        self.authorised_key(origin.as_str(), index)
            .map_err(|error| match error {
                RosterError::UnknownOrigin(_) => KeyRefusal::UnknownOrigin(origin.clone()),
                RosterError::ObserverCannotPublish(_) => KeyRefusal::Observer(origin.clone()),
                RosterError::KeyRevoked { index, .. } => KeyRefusal::Revoked {
                    origin: origin.clone(),
                    index,
                },
                // authorised_key has no other refusal; anything else still refuses.
                _ => KeyRefusal::NoKeyAtIndex {
                    origin: origin.clone(),
                    index,
                },
            })
    }

    /// The roster's `country` of the member with this origin; observers
    /// publish nothing, so they have none to publish in.
    fn member_country(&self, origin: &Origin) -> Result<Country, KeyRefusal> {
        match self.member_by_origin(origin.as_str()) {
            None => Err(KeyRefusal::UnknownOrigin(origin.clone())),
            Some(member) if member.role == Role::Observer => {
                Err(KeyRefusal::Observer(origin.clone()))
            }
            Some(member) => Ok(member.country),
        }
    }

    /// Every key of the member with this origin that is not revoked: its
    /// current key and the keys it rotated away from, so checkpoints signed
    /// before a rotation still verify. Empty for an unknown origin and for
    /// an observer's, which keeps no log.
    fn checkpoint_verifiers(&self, origin: &Origin) -> Vec<NoteVerifier> {
        match self.member_by_origin(origin.as_str()) {
            Some(member) if member.role == Role::Member => self.note_verifiers(origin.as_str()),
            _ => Vec::new(),
        }
    }

    /// [`Roster::witness_keys`] as cosignature verifiers.
    fn witnesses(&self, log: &Origin) -> Vec<CosignatureVerifier> {
        self.witness_keys(log.as_str())
            .iter()
            .filter_map(|(_, vkey)| vkey.cosignature_verifier())
            .collect()
    }
}

/// One approval of a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterSignature {
    /// The approving participant.
    pub member: MemberId,
    /// C2SP key id of the note key that signed (name = the member's origin).
    pub key_id: [u8; 4],
    /// Ed25519 over [`SIGNING_CONTEXT`] || the roster bytes.
    pub signature: [u8; 64],
}

/// A roster as signed bytes and the signatures over them.
#[derive(Debug, Clone)]
pub struct SignedRoster {
    roster: Roster,
    roster_bytes: Vec<u8>,
    signatures: Vec<RosterSignature>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeJson {
    format: String,
    roster: String,
    signatures: Vec<SignatureJson>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureJson {
    member: MemberId,
    key_id: String,
    signature: String,
}

impl SignedRoster {
    /// `roster`, validated and written as canonical bytes, with no signature
    /// yet.
    ///
    /// # Errors
    /// Whatever invariant `roster` breaks, or [`RosterError::Canonical`].
    pub fn new(roster: &Roster) -> Result<Self, RosterError> {
        roster.validate()?;
        let roster_bytes = canonical::to_canonical_vec(roster)
            .map_err(|e| RosterError::Canonical(e.to_string()))?;
        Ok(Self {
            roster: roster.clone(),
            roster_bytes,
            signatures: Vec::new(),
        })
    }

    /// Parses a roster file WITHOUT checking its signatures, to add one (for
    /// example when the file travels from approver to approver). Use
    /// [`SignedRoster::verify_genesis`] or [`SignedRoster::verify_update`] to
    /// trust it.
    ///
    /// # Errors
    /// [`RosterError::TooLarge`], [`RosterError::UnknownFormat`],
    /// [`RosterError::Malformed`], [`RosterError::BadField`], or whatever
    /// invariant the roster breaks.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RosterError> {
        if bytes.len() > MAX_ROSTER_FILE_BYTES {
            return Err(RosterError::TooLarge(bytes.len()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| RosterError::Malformed(e.to_string()))?;
        match value.get("format") {
            Some(serde_json::Value::String(format)) if format == FORMAT => {}
            Some(serde_json::Value::String(format)) => {
                return Err(RosterError::UnknownFormat(format.clone()));
            }
            _ => {
                return Err(RosterError::Malformed(
                    "field `format` must be a string".to_owned(),
                ));
            }
        }
        let envelope: EnvelopeJson =
            serde_json::from_value(value).map_err(|e| RosterError::Malformed(e.to_string()))?;
        if envelope.signatures.len() > MAX_SIGNATURES {
            return Err(RosterError::BadField {
                field: "signatures",
                reason: format!("more than {MAX_SIGNATURES} signatures"),
            });
        }
        let roster_bytes = concord_protocol::base64::decode(&envelope.roster).map_err(|_| {
            RosterError::BadField {
                field: "roster",
                reason: "not canonical base64".to_owned(),
            }
        })?;
        let roster: Roster =
            serde_json::from_slice(&roster_bytes).map_err(|e| RosterError::BadField {
                field: "roster",
                reason: e.to_string(),
            })?;
        roster.validate()?;
        let signatures = envelope
            .signatures
            .into_iter()
            .map(|signature| {
                let key_id =
                    parse_key_id(&signature.key_id).ok_or_else(|| RosterError::BadField {
                        field: "signatures.key_id",
                        reason: format!("{:?} is not 8 lowercase hex digits", signature.key_id),
                    })?;
                let signature_bytes = concord_protocol::base64::decode(&signature.signature)
                    .ok()
                    .and_then(|raw| raw.try_into().ok());
                let signature_bytes = signature_bytes.ok_or_else(|| RosterError::BadField {
                    field: "signatures.signature",
                    reason: "must be canonical base64 of 64 bytes".to_owned(),
                })?;
                Ok(RosterSignature {
                    member: signature.member,
                    key_id,
                    signature: signature_bytes,
                })
            })
            .collect::<Result<_, RosterError>>()?;
        Ok(Self {
            roster,
            roster_bytes,
            signatures,
        })
    }

    /// Adds `identity`'s approval, made with its log key, replacing an earlier
    /// one by the same member.
    pub fn sign(&mut self, identity: &AgencyIdentity) -> &mut Self {
        let origin = self
            .roster
            .origin_for(&identity.id)
            .expect("a validated federation and a member id always make a valid origin");
        let key_id = concord_protocol::note::key_id(
            &origin,
            concord_protocol::note::ALG_ED25519,
            identity.log_public_key().as_bytes(),
        );
        let signature = identity.log_key.sign(&self.signed_message()).to_bytes();
        self.signatures
            .retain(|existing| existing.member != identity.id);
        self.signatures.push(RosterSignature {
            member: identity.id.clone(),
            key_id,
            signature,
        });
        self
    }

    /// The roster (not yet trusted unless this came from a `verify_*`).
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The signed roster bytes.
    pub fn roster_bytes(&self) -> &[u8] {
        &self.roster_bytes
    }

    /// The signatures, unverified unless this came from a `verify_*`.
    pub fn signatures(&self) -> &[RosterSignature] {
        &self.signatures
    }

    /// The roster file, RFC 8785 canonical (PROTOCOL.md §7): one spelling
    /// for one set of signatures, so the file's bytes can be hashed and
    /// carried in a bundle. Signatures are sorted by member, then key id.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut signatures: Vec<&RosterSignature> = self.signatures.iter().collect();
        signatures.sort_by(|a, b| (&a.member, a.key_id).cmp(&(&b.member, b.key_id)));
        let envelope = EnvelopeJson {
            format: FORMAT.to_owned(),
            roster: BASE64.encode(&self.roster_bytes),
            signatures: signatures
                .into_iter()
                .map(|signature| SignatureJson {
                    member: signature.member.clone(),
                    key_id: format_key_id(&signature.key_id),
                    signature: BASE64.encode(signature.signature),
                })
                .collect(),
        };
        canonical::to_canonical_vec(&envelope).expect("strings always serialise")
    }

    /// `bytes`, a roster file in any JSON spelling, rewritten as
    /// [`SignedRoster::to_bytes`] writes it. Nothing is verified.
    ///
    /// # Errors
    /// As [`SignedRoster::from_bytes`].
    pub fn canonical_file(bytes: &[u8]) -> Result<Vec<u8>, RosterError> {
        Ok(Self::from_bytes(bytes)?.to_bytes())
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(SIGNING_CONTEXT.len() + self.roster_bytes.len());
        message.extend_from_slice(SIGNING_CONTEXT);
        message.extend_from_slice(&self.roster_bytes);
        message
    }

    /// Members of `signers` whose current key made a valid signature here.
    fn count_valid_signatures(&self, signers: &Roster) -> u64 {
        let message = self.signed_message();
        let mut counted: HashSet<&MemberId> = HashSet::new();
        for signature in &self.signatures {
            if counted.contains(&signature.member) {
                continue;
            }
            let Some(member) = signers.member(&signature.member) else {
                continue;
            };
            if member.role != Role::Member {
                continue;
            }
            let Some(key) = member.current_key() else {
                continue;
            };
            if key.vkey.key_id() != signature.key_id {
                continue;
            }
            let ed25519_signature = Signature::from_bytes(&signature.signature);
            if key
                .vkey
                .key()
                .verify_strict(&message, &ed25519_signature)
                .is_ok()
            {
                counted.insert(&signature.member);
            }
        }
        counted.len() as u64
    }

    fn verify(bytes: &[u8], previous: Option<&Roster>) -> Result<Roster, RosterError> {
        let signed = Self::from_bytes(bytes)?;
        let roster = &signed.roster;
        let expected_version = match previous {
            None => 1,
            Some(previous) => {
                if roster.federation != previous.federation {
                    return Err(RosterError::WrongFederation {
                        expected: previous.federation.clone(),
                        found: roster.federation.clone(),
                    });
                }
                previous
                    .version
                    .checked_add(1)
                    .ok_or(RosterError::WrongVersion {
                        expected: previous.version,
                        found: roster.version,
                    })?
            }
        };
        if roster.version != expected_version {
            return Err(RosterError::WrongVersion {
                expected: expected_version,
                found: roster.version,
            });
        }
        let signers = previous.unwrap_or(roster);
        let need = signers.required_signatures();
        let have = signed.count_valid_signatures(signers);
        if have < need {
            return Err(RosterError::NotEnoughSignatures { need, have });
        }
        // Checked after the signatures: approved bytes that a conforming
        // writer could not have produced are still refused.
        // One spelling per roster: the bytes are exactly what the parsed
        // roster encodes to, so no optional or alternative form (a key
        // without `last_index`, `{"majority":null}`) is ever signed.
        let encoded = canonical::to_canonical_vec(roster)
            .map_err(|e| RosterError::Canonical(e.to_string()))?;
        if encoded != signed.roster_bytes {
            return Err(RosterError::NotCanonical);
        }
        Ok(signed.roster)
    }

    /// Verifies a genesis roster file: version 1, approved by the threshold of
    /// its own members.
    ///
    /// # Errors
    /// Any error of [`SignedRoster::from_bytes`],
    /// [`RosterError::WrongVersion`], [`RosterError::NotEnoughSignatures`],
    /// [`RosterError::NotCanonical`].
    pub fn verify_genesis(bytes: &[u8]) -> Result<Roster, RosterError> {
        Self::verify(bytes, None)
    }

    /// Verifies the roster file that follows `previous`: same federation,
    /// next version, approved by the threshold of `previous`'s members with
    /// their current keys in `previous`.
    ///
    /// # Errors
    /// As [`SignedRoster::verify_genesis`], and
    /// [`RosterError::WrongFederation`].
    pub fn verify_update(bytes: &[u8], previous: &Roster) -> Result<Roster, RosterError> {
        Self::verify(bytes, Some(previous))
    }

    /// Verifies a whole chain of roster files, genesis first, each version
    /// approved by the one before; returns the last.
    ///
    /// # Errors
    /// The position in `files` of the first file that fails, with why; an
    /// empty chain is [`RosterError::WrongVersion`] at position 0.
    pub fn verify_chain<B: AsRef<[u8]>>(files: &[B]) -> Result<Roster, (usize, RosterError)> {
        let mut roster: Option<Roster> = None;
        for (position, bytes) in files.iter().enumerate() {
            let next = match &roster {
                None => Self::verify_genesis(bytes.as_ref()),
                Some(previous) => Self::verify_update(bytes.as_ref(), previous),
            };
            roster = Some(next.map_err(|e| (position, e))?);
        }
        roster.ok_or((
            0,
            RosterError::WrongVersion {
                expected: 1,
                found: 0,
            },
        ))
    }
}
