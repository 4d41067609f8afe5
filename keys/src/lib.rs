//! Concord's keys: agency identities, key files, C2SP verifier keys and the
//! federation roster.
//!
//! This crate turns bytes into identities and rosters. Everything here is a
//! pure function of its input bytes, except the two thin path wrappers of
//! [`keyfile`] ([`keyfile::write_key_file`], [`keyfile::read_key_file`]) and
//! the randomness drawn from the operating system when an identity or a key
//! file is made.
//!
//! - [`vkey`]: C2SP verifier-key strings (`name+keyid+base64(alg||key)`).
//! - [`identity`]: member ids and an agency's secret keys.
//! - [`keyfile`]: the `concord-keyfile/v1` format, encrypted at rest.
//! - [`roster`]: the federation roster, its signed `concord-roster/v1` file,
//!   key rotation and revocation, and the queries a node asks of it.

#![forbid(unsafe_code)]

pub mod identity;
pub mod keyfile;
pub mod roster;
pub mod vkey;

pub use identity::{AgencyIdentity, MemberId};
pub use keyfile::{KdfParams, Passphrase, Protection};
pub use roster::{Roster, SignedRoster};
pub use vkey::VerifierKey;
