//! Concord's screening engine: a licence application's parties and items
//! matched against partners' active denials, each hit explained.
//!
//! Before granting a licence an officer must find every partner's active
//! denial for an essentially identical transaction (the no-undercut rule of
//! the export-control regimes). This crate decides which denials those
//! are; it does no I/O and reads no clock, so the node can run it over its
//! store and an auditor can re-run it over the same denials.
//!
//! - [`application`]: the [`Application`] an officer submits, validated as
//!   records are.
//! - [`name`]: names normalised across scripts, legal forms and spelling,
//!   and compared word by word.
//! - [`terms`](mod@terms): the index terms of a denial, a pure function a store can
//!   persist.
//! - [`index`]: the in-memory candidate [`Index`].
//! - [`score`]: the score of a denial for an application and its
//!   explanation ([`Hit`]); [`screen`] over denials the caller selected.
//!
//! What counts as a match, and why, is written out in `screening/README.md`.

#![forbid(unsafe_code)]

pub mod application;
#[cfg(test)]
mod fixtures;
pub mod index;
pub mod name;
pub mod score;
pub mod terms;

pub use application::{Application, ApplicationItem, ApplicationParty, Role};
pub use index::{Index, Postings, candidates};
pub use name::How;
pub use score::{
    Adjustment, DEFAULT_THRESHOLD, Factor, FieldMatch, Hit, PartyMatch, PreparedApplication,
    PreparedDenial, score_denial, screen, sort_hits,
};
pub use terms::{
    QueryTerms, TERMS_VERSION, Term, TermKind, prepared_term_keys, prepared_terms, query_terms,
    terms,
};
