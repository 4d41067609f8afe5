//! Catching up after a burst never asks for what a node holds: a member
//! publishes a burst from many clients at once while one replica runs, is
//! restarted, and two replicas that start only then catch up from it and
//! from each other at once. Every replica converges on the member's log,
//! and the late ones' catch-up brings no entry they already stored
//! (`synced_duplicates` in their status).
//!
//! The replica that ran during the burst is not held to that count: gossip
//! may store an entry while a range that carries it is on its way, which
//! the count records as it should.

use std::time::Duration;

use concord_scenarios::records;
use concord_scenarios::testnet::Testnet;
use concord_scenarios::wait::wait_until;

use super::evidence::federation;

/// Entries in the burst: more than four ranges of 1,024, fewer than the
/// default publish burst a token may make.
const BURST: usize = 3_000;
/// Clients publishing at once.
const CLIENTS: usize = 16;

/// The entries that `id`'s catch-up ranges brought though it held them.
fn synced_duplicates(net: &Testnet, id: &str) -> u64 {
    let status = net.status(id);
    status["sync"]["synced_duplicates"]
        .as_u64()
        .unwrap_or_else(|| panic!("{id}'s status has no sync.synced_duplicates: {status}"))
}

#[test]
fn replicas_catch_up_after_a_burst_and_a_restart_without_fetching_what_they_hold() {
    let ids = ["cl", "mx", "pe", "br"];
    let mut net = federation(&ids);
    net.start("cl");
    net.start("mx");
    let denials: Vec<(String, Vec<u8>)> = records::denials_of("CL")
        .into_iter()
        .map(|body| ("denial".to_owned(), body))
        .collect();
    net.publish_concurrently("cl", CLIENTS, BURST, &denials);
    net.stop("cl");
    net.start("cl");
    net.start("pe");
    net.start("br");
    wait_until(
        Duration::from_secs(120),
        "every replica holds cl's burst, with cl's root",
        || {
            let views = net.views(&ids, "cl");
            views
                .iter()
                .all(|v| v.as_ref().is_some_and(|(size, _)| *size == BURST as u64))
                && views.windows(2).all(|w| w[0] == w[1])
        },
    );
    for id in ["pe", "br"] {
        assert_eq!(
            synced_duplicates(&net, id),
            0,
            "{id} fetched entries it already stored:\n{}",
            net.node_log(id)
        );
    }
}
