//! Evidence travels with anti-entropy: a node that joins after a member
//! forked its log, or whose store was deleted and rebuilt, learns the
//! equivocation proof from its peers by sync alone (the proof's gossip is
//! long over), quarantines the log, and accepts none of its entries.
//!
//! The offender's node stays stopped while the newcomer syncs, so the
//! newcomer cannot find the fork itself from the two histories: the only
//! way it learns of the fork is a peer's proof.

use std::time::Duration;

use concord_node::home::Home;
use concord_scenarios::process::Concord;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;

use super::evidence::publish_offline;

/// How long a node may take to learn a proof: a few sync rounds.
const LEARN: Duration = Duration::from_secs(30);

/// A testnet of cl, mx, pe and br, syncing every 300 ms, no node running.
fn federation() -> Testnet {
    Testnet::create_with(
        &Concord::isolated(env!("CARGO_BIN_EXE_concord")),
        &TestnetSpec::new(&["cl", "mx", "pe", "br"], &[]).sync_interval_ms(300),
    )
}

fn remove_store(net: &Testnet, id: &str) {
    std::fs::remove_dir_all(Home::new(&net.home(id)).db_path()).expect("remove the store");
}

/// Waits until running node `id` holds a proof against cl and quarantines
/// cl's log, then asserts that it holds none of cl's entries: the fork is
/// at index 0, so every entry of cl any peer offers comes after it.
#[track_caller]
fn assert_learns_the_proof_by_sync(net: &Testnet, id: &str) {
    wait_until(
        LEARN,
        &format!("{id} learns the proof against cl by sync and quarantines cl"),
        || net.quarantined(id, "cl") && !net.evidence(id).is_empty(),
    );
    assert_eq!(
        net.log_size(id, "cl"),
        0,
        "{id} accepted entries of cl's forked log"
    );
}

#[test]
fn a_node_that_joins_or_rebuilds_after_a_fork_learns_the_proof_by_sync() {
    let mut net = federation();
    let denials = records::denials();

    // cl forks its log while cl, mx and pe run: mx and pe hold its first
    // history, then cl rewrites it, and every running node proves the fork.
    publish_offline(&net, "cl", &denials[..3]);
    for id in ["cl", "mx", "pe"] {
        net.start(id);
    }
    wait_until(
        Duration::from_secs(60),
        "mx and pe hold cl's three entries",
        || ["mx", "pe"].iter().all(|id| net.log_size(id, "cl") == 3),
    );
    net.stop("cl");
    remove_store(&net, "cl");
    publish_offline(&net, "cl", &denials[5..7]);
    net.start("cl");
    wait_until(
        Duration::from_secs(60),
        "cl, mx and pe hold the proof and quarantine cl",
        || {
            ["cl", "mx", "pe"]
                .iter()
                .all(|id| net.quarantined(id, "cl") && !net.evidence(id).is_empty())
        },
    );
    net.stop("cl");

    // (a) br was never online: its peers hold cl's first history and the
    // proof, and only sync can bring it the proof.
    net.start("br");
    assert_learns_the_proof_by_sync(&net, "br");

    // (b) mx's store is deleted and rebuilt from its peers.
    net.stop("mx");
    remove_store(&net, "mx");
    net.start("mx");
    assert_learns_the_proof_by_sync(&net, "mx");
}
