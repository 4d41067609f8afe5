//! Black-box tests of the guarantees under what operators and adversaries
//! do: real `concord` processes, hand-forged bundles and entries.

#[path = "../../node/tests/common/mod.rs"]
mod common;

mod names;
