//! Signed bundles, `concord-bundle/v2` (written) and `concord-bundle/v1`
//! (still read): logs carried offline to air-gapped agencies and observers
//! (PROTOCOL.md §9).
//!
//! A bundle is JSON lines, each the RFC 8785 form of one object: a head with
//! the roster chain, then per log its claimed head, checkpoints, purge
//! records and entries in index order, then equivocation proofs, then an end
//! line signed by the exporter. Entries, checkpoints and proofs verify by
//! their own signatures; the end line signs the digests of every other line
//! (v1: head, log and purge lines), so any changed byte is found at its
//! line. From v2 it also signs, per log section, the digest of its
//! checkpoint lines and which of its entry lines carry their payload, so
//! that a payload or a cosignature removed on the way is found.
//!
//! [`audit_file`] verifies a whole bundle in one streaming pass with the
//! audit engine; [`import`] stores a bundle only after it audited clean.
//!
//! Rooms: [`format`] (the lines and their exact bytes), [`writer`],
//! [`reader`] (with [`lines`], the splitter), [`audit`] (the audit driver),
//! [`export`] and [`import`].

mod audit;
mod export;
mod format;
mod import;
mod lines;
mod reader;
mod writer;

use crate::audit::SourceError;
use crate::store::StoreError;

pub use audit::{BundleAudit, audit_file, audit_reader};
pub use export::{
    ExportPlan, ExportRequest, ExportSummary, ExportedLog, Exporter, PayloadFilter, export,
    write_new,
};
pub use format::{
    EndBody, FORMAT, Head, LineDigest, LogLine, PurgeLine, SectionDigest, SignerLine, Version,
};
pub use import::{ImportSummary, ImportedLog, import};
pub use writer::BundleWriter;

/// Why a bundle could not be written, read or imported; anything wrong in
/// a bundle's content is an audit finding, not an error.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A bad argument, or a bundle that cannot be read (or changed after
    /// its audit).
    #[error("{0}")]
    Input(String),
    /// The bundle could not be written.
    #[error("{0}")]
    Write(String),
    /// Something this node holds or runs failed.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
