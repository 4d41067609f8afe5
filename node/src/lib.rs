//! The Concord node: a verified replica of every member's log, the own log's
//! writer, the libp2p federation, audit, the HTTP API, the web page and the
//! CLI.
//!
//! The binary `concord` is a thin `main` over this library; see
//! `ARCHITECTURE.md` at the repository root for the data path and invariants.

// First, so that its `out!` and `outln!` are in scope in every module.
#[macro_use]
pub mod stdout;

pub mod alerts;
pub mod api;
pub mod audit;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod consultation;
pub mod demo;
pub mod home;
pub mod metrics;
pub mod net;
pub mod own_log;
pub mod parallel;
pub mod progress;
pub mod publish;
pub mod query;
pub mod replicate;
pub mod run;
pub mod screening;
pub mod store;
pub mod testnet;
pub mod tokens;
pub mod web;
