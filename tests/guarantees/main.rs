//! Black-box tests of the guarantees under what operators and adversaries
//! do: real `concord` processes in temp dirs through the harness of
//! `concord-scenarios`, and hand-forged bundles and entries.

#[path = "../../node/tests/common/mod.rs"]
mod common;

mod api_audit;
mod catch_up;
mod evidence;
mod names;
mod payloads;
mod restore;
mod surfaces;
mod sync_evidence;
