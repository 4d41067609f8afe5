//! Records: the payloads of log entries, their validation and canonical
//! bytes.
//!
//! Every payload is a JSON object (RFC 8259) of at most [`MAX_PAYLOAD_BYTES`]
//! bytes of UTF-8 whose shape is fixed by the entry's [`Kind`]:
//!
//! | kind | payload | module |
//! |---|---|---|
//! | `denial` | [`Denial`] | [`denial`] |
//! | `denial.amend` | [`DenialAmend`] | [`denial`] |
//! | `denial.revoke` | [`DenialRevoke`] | [`denial`] |
//! | `notice` | [`Notice`] | [`notice`] |
//! | `consultation.request` | [`ConsultationRequest`] | [`consultation`] |
//! | `consultation.reply` | [`ConsultationReply`] | [`consultation`] |
//! | `roster.update` | [`RosterUpdate`] | [`federation`] |
//! | `key.rotate` | [`KeyRotate`] | [`federation`] |
//! | `key.revoke` | [`KeyRevoke`] | [`federation`] |
//! | `equivocation.proof` | not a [`Record`]: parsed by `crate::equivocation` | |
//!
//! Field names are snake_case; unknown fields, duplicate fields, missing
//! required fields, values of the wrong JSON type and arrays in place of
//! objects are rejected; optional fields may be absent or null. Scalars are
//! validated by their types ([`Country`], [`Date`], [`ControlEntry`],
//! [`HsCode`], [`Name`], [`Text`], ...) and every list has a bound. Integers
//! are at most 2^53 − 1. The JSON Schemas of [`crate::schemas`] state the
//! same shapes, and PROTOCOL.md §3.3 the rules beyond them.
//!
//! [`Record::parse`] is the way in: it rejects oversized, non-UTF-8 and
//! non-JSON input, deserialises, checks the rules the types cannot express
//! and normalises defaults (a denial without `valid_until` gets the decision
//! date plus three years). [`Record::to_canonical_bytes`] writes the
//! normalised record as RFC 8785 canonical JSON, which parses back to an
//! equal record.
//!
//! A record is validated once, when it enters: the bytes stored in a log are
//! the bytes that were signed, and are never re-encoded.

pub mod consultation;
pub mod control;
pub mod country;
pub mod date;
pub mod denial;
pub mod federation;
mod locate;
pub mod notice;
pub mod screening;
pub mod text;
mod validate;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::origin::Origin;

pub use consultation::{Answer, ConsultationReply, ConsultationRequest};
pub use control::{ControlEntry, ControlList, HsCode, Regime};
pub use country::{ASSIGNED as ASSIGNED_COUNTRIES, Country, N_COUNTRIES};
pub use date::{Date, days_in_month, is_leap_year};
pub use denial::{
    Denial, DenialAmend, DenialRevoke, Identifier, IdentifierScheme, Item, Money, Party, PartyRole,
    Quantity,
};
pub use federation::{KeyId, KeyRevoke, KeyRotate, RosterUpdate, SignedRoster, VerifierKey};
pub use notice::{Notice, NoticeItem, NoticeKind, Place};
pub use screening::normalise_name;
pub use text::{Currency, Decimal, MAX_NAME, MAX_TEXT, Name, Text, ValueError};
pub use validate::MAX_SAFE_INTEGER;

/// Largest payload accepted, in bytes; larger input is refused before it is
/// parsed.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Why a payload is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The payload is larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    /// The payload is not UTF-8.
    #[error("payload is not UTF-8: invalid byte at offset {offset}")]
    NotUtf8 { offset: usize },
    /// The payload is not well-formed JSON (syntax error, truncated,
    /// trailing characters).
    #[error("payload is not JSON: {message} at line {line} column {column}")]
    NotJson {
        message: String,
        line: usize,
        column: usize,
    },
    /// The JSON does not fit the kind's schema, as serde found it: an unknown,
    /// duplicate or missing field, a value of the wrong type, or a value its
    /// type refused (a country, date, control entry, ...). `message` is
    /// serde's text, which names the field or the rule.
    #[error("{path}: {message} at line {line} column {column}")]
    Schema {
        path: String,
        message: String,
        line: usize,
        column: usize,
    },
    /// A rule beyond the field types is broken: a list bound, a required
    /// party role, an expiry before the decision.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// The kind's payload is not a record: `equivocation.proof` payloads are
    /// parsed by `crate::equivocation`.
    #[error("{0} payloads are not records: they are parsed by the equivocation module")]
    NotARecordKind(Kind),
    /// A string that names no kind.
    #[error("unknown record kind {0}")]
    UnknownKind(String),
}

impl RecordError {
    /// The JSON path of the offending field, when the error has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            RecordError::Schema { path, .. } | RecordError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// The kind of an entry, as written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "denial")]
    Denial,
    #[serde(rename = "denial.amend")]
    DenialAmend,
    #[serde(rename = "denial.revoke")]
    DenialRevoke,
    #[serde(rename = "notice")]
    Notice,
    #[serde(rename = "consultation.request")]
    ConsultationRequest,
    #[serde(rename = "consultation.reply")]
    ConsultationReply,
    #[serde(rename = "roster.update")]
    RosterUpdate,
    #[serde(rename = "key.rotate")]
    KeyRotate,
    #[serde(rename = "key.revoke")]
    KeyRevoke,
    #[serde(rename = "equivocation.proof")]
    EquivocationProof,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 10] = [
        Kind::Denial,
        Kind::DenialAmend,
        Kind::DenialRevoke,
        Kind::Notice,
        Kind::ConsultationRequest,
        Kind::ConsultationReply,
        Kind::RosterUpdate,
        Kind::KeyRotate,
        Kind::KeyRevoke,
        Kind::EquivocationProof,
    ];

    /// The kind as written in headers (`denial.amend`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Denial => "denial",
            Kind::DenialAmend => "denial.amend",
            Kind::DenialRevoke => "denial.revoke",
            Kind::Notice => "notice",
            Kind::ConsultationRequest => "consultation.request",
            Kind::ConsultationReply => "consultation.reply",
            Kind::RosterUpdate => "roster.update",
            Kind::KeyRotate => "key.rotate",
            Kind::KeyRevoke => "key.revoke",
            Kind::EquivocationProof => "equivocation.proof",
        }
    }

    /// Parses a kind as written in headers.
    ///
    /// # Errors
    /// [`RecordError::UnknownKind`] when `s` names no kind.
    pub fn parse(s: &str) -> Result<Self, RecordError> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| RecordError::UnknownKind(text::shown(s)))
    }
}

impl std::str::FromStr for Kind {
    type Err = RecordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::parse(s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to an entry of some member's log: `{"origin": "...",
/// "index": n}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct EntryRef {
    pub origin: Origin,
    pub index: u64,
}

/// `origin#index`, as officers write a reference and the consultation
/// indexes post it.
impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.origin, self.index)
    }
}

impl EntryRef {
    fn validate(&self, path: &validate::Path<'_>) -> Result<(), RecordError> {
        validate::check_safe_integer(self.index, &path.field("index"))
    }
}

/// A validated record: the payload of one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Denial(Denial),
    DenialAmend(DenialAmend),
    DenialRevoke(DenialRevoke),
    Notice(Notice),
    ConsultationRequest(ConsultationRequest),
    ConsultationReply(ConsultationReply),
    RosterUpdate(RosterUpdate),
    KeyRotate(KeyRotate),
    KeyRevoke(KeyRevoke),
}

/// What the store indexes for search and screening.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexTerms {
    /// Party names and aliases, each passed through [`normalise_name`],
    /// without duplicates, in order of appearance.
    pub party_names: Vec<String>,
    /// Every country the record names (deciding or issuing state first),
    /// without duplicates.
    pub countries: Vec<Country>,
    pub control_entries: Vec<ControlEntry>,
    pub hs_codes: Vec<HsCode>,
    /// Last day a denial is in force; `None` for other records.
    pub valid_until: Option<Date>,
    /// The denial a consultation request is about.
    pub consulted_denial: Option<EntryRef>,
    /// The request a consultation reply answers.
    pub answered_request: Option<EntryRef>,
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

impl IndexTerms {
    fn add_parties(&mut self, parties: &[Party]) {
        for party in parties {
            for name in std::iter::once(&party.name).chain(&party.aliases) {
                let key = normalise_name(name.as_str());
                if !key.is_empty() {
                    push_unique(&mut self.party_names, key);
                }
            }
            push_unique(&mut self.countries, party.country);
        }
    }

    fn add_item(&mut self, control_entries: &[ControlEntry], hs_code: Option<&HsCode>) {
        for entry in control_entries {
            push_unique(&mut self.control_entries, entry.clone());
        }
        if let Some(hs_code) = hs_code {
            push_unique(&mut self.hs_codes, hs_code.clone());
        }
    }

    fn of_denial(denial: &Denial) -> Self {
        let mut terms = IndexTerms {
            countries: vec![denial.denying_state],
            ..Self::default()
        };
        terms.add_parties(&denial.parties);
        for item in &denial.items {
            terms.add_item(&item.control_entries, item.hs_code.as_ref());
        }
        terms.valid_until = denial.expires();
        terms
    }
}

/// A deserializer that reads a struct from a JSON object only. serde's
/// derived visitor also fills a struct from an array, its fields in
/// declaration order, which would give a record a second spelling that
/// PROTOCOL.md §3.3 and the schemas refuse; every record struct derives with
/// `remote = "Self"` and deserialises through this ([`objects_only!`]).
struct ObjectOnly<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    // A derived struct asks for a struct and nothing else; the other
    // requests, never made, go to the inner deserializer's `deserialize_any`.
    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The `Serialize` and `Deserialize` impls of record structs derived with
/// `#[serde(remote = "Self")]`: deserialised from objects only
/// ([`ObjectOnly`]), serialised as derived.
macro_rules! objects_only {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$ty>::deserialize(ObjectOnly(deserializer))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, serializer)
            }
        }
    )*};
}
objects_only!(
    EntryRef,
    Denial,
    Item,
    Quantity,
    Money,
    Party,
    Identifier,
    DenialAmend,
    DenialRevoke,
    Notice,
    NoticeItem,
    Place,
    ConsultationRequest,
    ConsultationReply,
    RosterUpdate,
    KeyRotate,
    KeyRevoke,
);

/// Deserialises `text` as `T`, turning serde's error into a [`RecordError`]
/// that names the field.
/// `bytes` as the text of a JSON document Concord reads as input (a record,
/// a screening application): at most [`MAX_PAYLOAD_BYTES`], UTF-8.
///
/// # Errors
/// [`RecordError::TooLarge`], [`RecordError::NotUtf8`].
pub fn input_text(bytes: &[u8]) -> Result<&str, RecordError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(RecordError::TooLarge {
            size: bytes.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    std::str::from_utf8(bytes).map_err(|e| RecordError::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Deserialises `text` as `T`, naming the field of a value that does not
/// fit by its path (`parties[1].country`) and where it is.
///
/// # Errors
/// [`RecordError::Schema`], [`RecordError::NotJson`].
pub fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, RecordError> {
    serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        match e.classify() {
            serde_json::error::Category::Data => {
                let located = locate::path_at(text, locate::offset_of(text, line, column));
                // serde reports a missing field just after its object.
                let path = match message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.strip_suffix('`'))
                {
                    Some(name) => validate::field(&located.closed, name),
                    None => located.token,
                };
                RecordError::Schema {
                    path: validate::shown_path(path),
                    message,
                    line,
                    column,
                }
            }
            _ => RecordError::NotJson {
                message,
                line,
                column,
            },
        }
    })
}

macro_rules! record_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Record {
            fn from(payload: $variant) -> Self {
                Record::$variant(payload)
            }
        }
    )*};
}
record_from!(
    Denial,
    DenialAmend,
    DenialRevoke,
    Notice,
    ConsultationRequest,
    ConsultationReply,
    RosterUpdate,
    KeyRotate,
    KeyRevoke
);

impl Record {
    /// Parses and validates a payload of kind `kind`, and normalises its
    /// defaults.
    ///
    /// # Errors
    /// - [`RecordError::NotARecordKind`] for `equivocation.proof`, whose
    ///   payload `crate::equivocation` parses;
    /// - [`RecordError::TooLarge`] above [`MAX_PAYLOAD_BYTES`], before any
    ///   parsing;
    /// - [`RecordError::NotUtf8`], [`RecordError::NotJson`] for bytes that
    ///   are not UTF-8 JSON;
    /// - [`RecordError::Schema`] for JSON that does not fit the kind's schema
    ///   or holds a value its type refuses;
    /// - [`RecordError::Invalid`] for a broken rule beyond the types.
    pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Record, RecordError> {
        if kind == Kind::EquivocationProof {
            return Err(RecordError::NotARecordKind(kind));
        }
        let text = input_text(bytes)?;
        let record = match kind {
            Kind::Denial => Record::Denial(from_json(text)?),
            Kind::DenialAmend => Record::DenialAmend(from_json(text)?),
            Kind::DenialRevoke => Record::DenialRevoke(from_json(text)?),
            Kind::Notice => Record::Notice(from_json(text)?),
            Kind::ConsultationRequest => Record::ConsultationRequest(from_json(text)?),
            Kind::ConsultationReply => Record::ConsultationReply(from_json(text)?),
            Kind::RosterUpdate => Record::RosterUpdate(from_json(text)?),
            Kind::KeyRotate => Record::KeyRotate(from_json(text)?),
            Kind::KeyRevoke => Record::KeyRevoke(from_json(text)?),
            Kind::EquivocationProof => return Err(RecordError::NotARecordKind(kind)),
        };
        record.validated()
    }

    /// Checks a record built in code by the same rules as [`Record::parse`]
    /// and normalises its defaults.
    ///
    /// # Errors
    /// [`RecordError::Invalid`] for a broken rule beyond the field types.
    pub fn validated(mut self) -> Result<Record, RecordError> {
        let root = &validate::Path::Root;
        match &mut self {
            Record::Denial(denial) => denial.validate(root)?,
            Record::DenialAmend(amend) => amend.validate(root)?,
            Record::DenialRevoke(_) | Record::KeyRotate(_) => {}
            Record::Notice(notice) => notice.validate(root)?,
            Record::ConsultationRequest(request) => request.validate(root)?,
            Record::ConsultationReply(reply) => reply.validate(root)?,
            Record::RosterUpdate(update) => update.validate(root)?,
            Record::KeyRevoke(revoke) => revoke.validate(root)?,
        }
        Ok(self)
    }

    /// The kind of entry this record is the payload of.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Denial(_) => Kind::Denial,
            Record::DenialAmend(_) => Kind::DenialAmend,
            Record::DenialRevoke(_) => Kind::DenialRevoke,
            Record::Notice(_) => Kind::Notice,
            Record::ConsultationRequest(_) => Kind::ConsultationRequest,
            Record::ConsultationReply(_) => Kind::ConsultationReply,
            Record::RosterUpdate(_) => Kind::RosterUpdate,
            Record::KeyRotate(_) => Kind::KeyRotate,
            Record::KeyRevoke(_) => Kind::KeyRevoke,
        }
    }

    /// The record as RFC 8785 canonical JSON: the payload bytes a publisher
    /// signs and stores.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let bytes = match self {
            Record::Denial(p) => serde_json_canonicalizer::to_vec(p),
            Record::DenialAmend(p) => serde_json_canonicalizer::to_vec(p),
            Record::DenialRevoke(p) => serde_json_canonicalizer::to_vec(p),
            Record::Notice(p) => serde_json_canonicalizer::to_vec(p),
            Record::ConsultationRequest(p) => serde_json_canonicalizer::to_vec(p),
            Record::ConsultationReply(p) => serde_json_canonicalizer::to_vec(p),
            Record::RosterUpdate(p) => serde_json_canonicalizer::to_vec(p),
            Record::KeyRotate(p) => serde_json_canonicalizer::to_vec(p),
            Record::KeyRevoke(p) => serde_json_canonicalizer::to_vec(p),
        };
        bytes.expect("records hold only strings, safe integers, arrays and string-keyed objects")
    }

    /// The terms the store indexes for this record.
    pub fn index_terms(&self) -> IndexTerms {
        match self {
            Record::Denial(denial) => IndexTerms::of_denial(denial),
            Record::DenialAmend(amend) => IndexTerms::of_denial(&amend.denial),
            Record::Notice(notice) => {
                let mut terms = IndexTerms {
                    countries: vec![notice.issuing_state],
                    ..IndexTerms::default()
                };
                terms.add_parties(&notice.parties);
                if let Some(place) = &notice.place {
                    push_unique(&mut terms.countries, place.country);
                }
                for item in &notice.items {
                    terms.add_item(&item.control_entries, item.hs_code.as_ref());
                }
                terms
            }
            Record::ConsultationRequest(request) => IndexTerms {
                countries: vec![request.requesting_state, request.denying_state],
                consulted_denial: Some(request.denial.clone()),
                ..IndexTerms::default()
            },
            Record::ConsultationReply(reply) => IndexTerms {
                answered_request: Some(reply.request.clone()),
                ..IndexTerms::default()
            },
            Record::DenialRevoke(_)
            | Record::RosterUpdate(_)
            | Record::KeyRotate(_)
            | Record::KeyRevoke(_) => IndexTerms::default(),
        }
    }
}
