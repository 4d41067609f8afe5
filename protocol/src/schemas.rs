//! The JSON Schemas (draft 2020-12) of record payloads and of the screening
//! application, the files of `protocol/schemas/` (PROTOCOL.md §3.3).
//!
//! They are compiled in, so that the HTTP API's OpenAPI document embeds the
//! very files the protocol tests hold to [`Record::parse`](crate::record::Record::parse),
//! without reading anything at run time. The schemas refer to each other by
//! `$id` (`https://concord.invalid/schemas/<file>`, a reserved domain that
//! never resolves): a validator is given every file of [`ALL`] and fetches
//! nothing.

use crate::record::Kind;

/// Where every schema's `$id` starts; the file name follows.
pub const BASE_URI: &str = "https://concord.invalid/schemas/";

/// One schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// The file name under `protocol/schemas/`, which ends its `$id`.
    pub file: &'static str,
    /// The file's JSON text.
    pub json: &'static str,
}

impl Schema {
    /// The schema's `$id`: [`BASE_URI`] followed by the file name.
    pub fn id(&self) -> String {
        format!("{BASE_URI}{}", self.file)
    }
}

macro_rules! schema {
    ($file:literal) => {
        Schema {
            file: $file,
            json: include_str!(concat!("../schemas/", $file)),
        }
    };
}

/// The definitions the other schemas share (countries, dates, names,
/// control entries, parties, ...).
pub const DEFS: Schema = schema!("defs.schema.json");
pub const DENIAL: Schema = schema!("denial.schema.json");
pub const DENIAL_AMEND: Schema = schema!("denial.amend.schema.json");
pub const DENIAL_REVOKE: Schema = schema!("denial.revoke.schema.json");
pub const NOTICE: Schema = schema!("notice.schema.json");
pub const CONSULTATION_REQUEST: Schema = schema!("consultation.request.schema.json");
pub const CONSULTATION_REPLY: Schema = schema!("consultation.reply.schema.json");
pub const ROSTER_UPDATE: Schema = schema!("roster.update.schema.json");
pub const KEY_ROTATE: Schema = schema!("key.rotate.schema.json");
pub const KEY_REVOKE: Schema = schema!("key.revoke.schema.json");
/// A licence application as screening reads it: not a record, never signed.
pub const APPLICATION: Schema = schema!("application.schema.json");

/// Every schema file, [`DEFS`] first.
pub const ALL: [Schema; 11] = [
    DEFS,
    DENIAL,
    DENIAL_AMEND,
    DENIAL_REVOKE,
    NOTICE,
    CONSULTATION_REQUEST,
    CONSULTATION_REPLY,
    ROSTER_UPDATE,
    KEY_ROTATE,
    KEY_REVOKE,
    APPLICATION,
];

/// The schema of the payload of `kind`; `None` for `equivocation.proof`,
/// whose payload is not a record (PROTOCOL.md §6).
pub fn of_kind(kind: Kind) -> Option<Schema> {
    match kind {
        Kind::Denial => Some(DENIAL),
        Kind::DenialAmend => Some(DENIAL_AMEND),
        Kind::DenialRevoke => Some(DENIAL_REVOKE),
        Kind::Notice => Some(NOTICE),
        Kind::ConsultationRequest => Some(CONSULTATION_REQUEST),
        Kind::ConsultationReply => Some(CONSULTATION_REPLY),
        Kind::RosterUpdate => Some(ROSTER_UPDATE),
        Kind::KeyRotate => Some(KEY_ROTATE),
        Kind::KeyRevoke => Some(KEY_REVOKE),
        Kind::EquivocationProof => None,
    }
}
