//! Concord's pure core: everything that is hashed, signed or sent.
//!
//! Nothing here does I/O, reads a clock, draws randomness or logs: callers pass
//! `now`, keys and hash sources in, and get values or typed errors back. The
//! byte formats are specified in `PROTOCOL.md` at the repository root.

#![forbid(unsafe_code)]

pub mod base64;
pub mod canonical;
pub mod checkpoint;
pub mod entry;
pub mod equivocation;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod origin;
mod parsed;
pub mod proof;
pub mod record;
pub mod schemas;
pub mod signature;
pub mod wire;
