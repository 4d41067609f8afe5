//! Payloads of `members` and `bilateral` entries reach every node that may
//! read them, in whatever order header and payload arrive: by gossip (the
//! header, then the payload fetched), from a peer that may not serve them
//! (the header alone, synced or relayed, the payload from a reader once
//! they meet), across a restart in between, and to a reader that was
//! stopped when they were published. Once a replica holds a payload, its
//! denial's status is the origin's, and `status` counts the payloads a
//! node may read but does not hold yet.

use std::time::Duration;

use concord_node::home::Home;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

use super::evidence::{concord, origin};

/// How long a payload or a header may take to travel: a few sync rounds.
const TRAVEL: Duration = Duration::from_secs(60);

/// A testnet of these members and observers, syncing every 300 ms, no
/// node running.
fn federation(members: &[&str], observers: &[&str]) -> Testnet {
    Testnet::create_with(
        &concord(),
        &TestnetSpec::new(members, observers).sync_interval_ms(300),
    )
}

/// mx's sample denial, referenced `reference`, decided in 2020 and valid
/// until `valid_until`.
fn mx_denial(reference: &str, valid_until: &str) -> Value {
    let sample = records::denials()
        .into_iter()
        .find(|r| r.name == "mx-2025-thiodiglycol.json")
        .expect("the thiodiglycol sample");
    let mut denial: Value =
        serde_json::from_slice(&sample.stated_by("MX")).expect("a sample is JSON");
    denial["reference"] = reference.into();
    denial["decision_date"] = "2020-01-10".into();
    denial["valid_until"] = valid_until.into();
    denial
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serialises")
}

/// What mx publishes, each entry's visibility and validity chosen so that
/// its status differs from one built from its header alone:
/// 0. a `members` denial, expired;
/// 1. a `bilateral:MX,PE` denial, expired;
/// 2. a `members` denial, expired...
/// 3. ...and its `members` amendment, valid until 2031.
const PUBLISHED: u64 = 4;

fn publish(net: &Testnet) {
    let mx = net.api("mx");
    mx.publish(
        "denial?visibility=members",
        &body(&mx_denial("SE-PAY-0", "2021-01-10")),
    );
    mx.publish(
        "denial?visibility=bilateral:MX,PE",
        &body(&mx_denial("SE-PAY-1", "2021-01-10")),
    );
    mx.publish(
        "denial?visibility=members",
        &body(&mx_denial("SE-PAY-2", "2021-01-10")),
    );
    let amendment = serde_json::json!({
        "reason": "extended after new evidence",
        "denial": mx_denial("SE-PAY-2", "2031-01-10"),
    });
    mx.publish(
        "denial.amend?visibility=members&refers_to=2",
        &body(&amendment),
    );
}

/// The entries of mx's log whose payloads `id` may read.
fn readable(id: &str) -> Vec<u64> {
    match id {
        "pe" => vec![0, 1, 2, 3],
        _ => vec![0, 2, 3],
    }
}

/// Entry `index` of mx's log as running node `id` shows it.
fn entry(net: &Testnet, id: &str, index: u64) -> Value {
    net.api(id)
        .entry("mx", index)
        .unwrap_or_else(|| panic!("{id} has no entry {index} of mx"))
}

/// Whether running node `id` holds the payload of every entry of mx's log
/// it may read.
fn holds_readable_payloads(net: &Testnet, id: &str) -> bool {
    readable(id).into_iter().all(|index| {
        net.api(id)
            .entry("mx", index)
            .is_some_and(|e| e["payload_state"] == "present")
    })
}

/// The denials of mx's log that `id`'s listing of a purge (no grace days)
/// names.
fn purge_listing(net: &Testnet, id: &str) -> Vec<Value> {
    let reply = net.api(id).get("/v1/purge?grace_days=0");
    assert_eq!(reply.status, 200, "GET /v1/purge at {id}: {}", reply.body);
    let listing = reply.json();
    let listing = listing.as_array().expect("a list of denials");
    listing
        .iter()
        .filter(|denial| denial["origin"] == origin("mx").as_str())
        .cloned()
        .collect()
}

/// Payloads of mx's log `id` may read but does not hold, as its status says.
fn payloads_missing(status: &Value) -> Option<u64> {
    status["logs"]
        .as_array()?
        .iter()
        .find(|log| log["origin"] == origin("mx").as_str())?["payloads_missing"]
        .as_u64()
}

/// Each of `replicas`, running, holds every payload of mx's log it may
/// read, shows the status mx shows for each of those entries, lists for a
/// purge what mx lists of them, and counts no payload missing.
#[track_caller]
fn assert_replicas_match_the_origin(net: &Testnet, replicas: &[&str]) {
    wait_until(
        TRAVEL,
        "the readers hold every payload they may read",
        || replicas.iter().all(|id| holds_readable_payloads(net, id)),
    );
    let origin_listing = purge_listing(net, "mx");
    assert_eq!(
        origin_listing.len(),
        2,
        "mx lists its two expired denials: {origin_listing:?}"
    );
    for id in replicas {
        let readable = readable(id);
        for &index in &readable {
            assert_eq!(
                entry(net, id, index)["status"],
                entry(net, "mx", index)["status"],
                "{id}'s status of mx's entry {index}"
            );
        }
        let expected: Vec<Value> = origin_listing
            .iter()
            .filter(|denial| {
                denial["entries"][0]
                    .as_u64()
                    .is_some_and(|index| readable.contains(&index))
            })
            .cloned()
            .collect();
        assert_eq!(purge_listing(net, id), expected, "{id}'s purge listing");
        wait_until(TRAVEL, &format!("{id} counts no payload missing"), || {
            payloads_missing(&net.status(id)) == Some(0)
        });
    }
    assert_eq!(entry(net, "mx", 0)["status"]["state"], "expired");
    assert_eq!(entry(net, "mx", 1)["status"]["state"], "expired");
    assert_eq!(entry(net, "mx", 2)["status"]["state"], "amended");
    assert_eq!(entry(net, "mx", 2)["status"]["valid_until"], "2031-01-10");
}

#[test]
fn replicas_that_got_headers_by_gossip_and_payloads_later_show_the_origin_status() {
    let mut net = federation(&["mx", "pe", "cl"], &[]);
    for id in ["mx", "pe", "cl"] {
        net.start(id);
    }
    wait_until(TRAVEL, "mx is connected to pe and cl", || {
        net.status("mx")["peers"].as_array().map(Vec::len) == Some(2)
    });
    // Gossip carries none of these payloads: each header comes first.
    publish(&net);
    assert_replicas_match_the_origin(&net, &["pe", "cl"]);
}

#[test]
fn headers_synced_from_a_peer_that_may_not_serve_the_payloads_get_them_from_a_reader_after_a_restart()
 {
    let mut net = federation(&["mx", "pe", "cl"], &["un1540:US"]);
    // The observer holds mx's headers, none of the payloads.
    net.start("mx");
    net.start("un1540");
    publish(&net);
    wait_until(TRAVEL, "un1540 holds mx's headers", || {
        net.log_size("un1540", "mx") == PUBLISHED
    });
    net.stop("mx");
    // pe and cl, connected to the observer only, get the headers alone,
    // and their status says which payloads they lack.
    net.start("pe");
    net.start("cl");
    for (id, n_missing) in [("pe", 4), ("cl", 3)] {
        wait_until(
            TRAVEL,
            &format!("{id} holds mx's headers and counts {n_missing} payloads missing"),
            || {
                let status = net.status(id);
                net.log_size(id, "mx") == PUBLISHED && payloads_missing(&status) == Some(n_missing)
            },
        );
    }
    // A restart in between forgets nothing; the stopped node's status says
    // so too, in its table as in its JSON.
    net.stop("pe");
    assert_eq!(payloads_missing(&net.status("pe")), Some(4), "stopped pe");
    let table = net.cli("pe", ["status"]).ok().stdout;
    let row: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with(&origin("mx")))
        .unwrap_or_else(|| panic!("no row for mx's log:\n{table}"))
        .split_whitespace()
        .collect();
    let header: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with("log "))
        .unwrap_or_else(|| panic!("no table header:\n{table}"))
        .split_whitespace()
        .collect();
    let column = header.iter().position(|&name| name == "missing");
    assert_eq!(column.map(|at| row[at]), Some("4"), "{table}");
    net.start("pe");
    assert_eq!(entry(&net, "pe", 1)["payload_state"], "not held");
    // The publisher comes back: the readers fetch what they may read, each
    // payload once.
    net.start("mx");
    assert_replicas_match_the_origin(&net, &["pe", "cl"]);
    for (id, n_filled) in [("pe", 4), ("cl", 3)] {
        assert_eq!(
            net.status(id)["sync"]["payloads_filled"],
            n_filled,
            "payloads {id} kept after their headers"
        );
    }
}

#[test]
fn a_reader_stopped_while_the_payloads_were_published_gets_them_when_it_starts() {
    let mut net = federation(&["mx", "pe", "cl"], &[]);
    net.start("mx");
    net.start("cl");
    publish(&net);
    wait_until(TRAVEL, "cl holds mx's headers", || {
        net.log_size("cl", "mx") == PUBLISHED
    });
    // pe may sync the headers from cl, which may not serve the bilateral
    // payload, or from mx, which serves them all.
    net.start("pe");
    assert_replicas_match_the_origin(&net, &["pe", "cl"]);
}

/// Sets the addresses `id`'s node listens on, returning those it had.
fn set_listen(net: &Testnet, id: &str, listen: Vec<String>) -> Vec<String> {
    let home = Home::new(&net.home(id));
    let mut config = home.config().expect("config");
    let had = std::mem::replace(&mut config.network.listen, listen);
    std::fs::write(
        home.config_path(),
        toml::to_string(&config).expect("config serialises"),
    )
    .expect("write config");
    had
}

/// The member ids of the peers running node `id` is connected to.
fn peers(net: &Testnet, id: &str) -> Vec<String> {
    net.status(id)["peers"]
        .as_array()
        .map(|peers| {
            peers
                .iter()
                .filter_map(|p| p["member"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_payload_published_while_its_reader_meets_only_a_peer_that_may_not_serve_it_arrives_once_they_meet()
 {
    let mut net = federation(&["mx", "pe", "cl"], &[]);
    // mx and pe listen where the roster does not say, so neither reaches
    // the other; both reach cl, which relays gossip between them.
    let unlisted = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    let mx_listen = set_listen(&net, "mx", unlisted.clone());
    let pe_listen = set_listen(&net, "pe", unlisted);
    for id in ["cl", "mx", "pe"] {
        net.start(id);
    }
    wait_until(TRAVEL, "mx and pe are connected to cl only", || {
        peers(&net, "mx") == ["cl"] && peers(&net, "pe") == ["cl"]
    });
    publish(&net);
    // pe holds every header and what cl may serve, is behind by nothing,
    // and its status names the one payload it lacks.
    wait_until(
        TRAVEL,
        "pe holds mx's headers and the payloads cl serves",
        || {
            let status = net.status("pe");
            net.log_size("pe", "mx") == PUBLISHED
                && payloads_missing(&status) == Some(1)
                && [0, 2, 3]
                    .iter()
                    .all(|&index| entry(&net, "pe", index)["payload_state"] == "present")
        },
    );
    assert_eq!(entry(&net, "pe", 1)["payload_state"], "not held");
    let status = net.status("pe");
    let mx_log = status["logs"]
        .as_array()
        .and_then(|logs| logs.iter().find(|l| l["origin"] == origin("mx").as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("pe's status has no log of mx: {status}"));
    assert_eq!(mx_log["behind_by"], 0, "{mx_log}");
    assert_eq!(peers(&net, "pe"), ["cl"], "pe never met mx");
    // They meet: pe gets the payload from mx.
    for (id, listen) in [("mx", mx_listen), ("pe", pe_listen)] {
        net.stop(id);
        set_listen(&net, id, listen);
    }
    net.start("mx");
    net.start("pe");
    assert_replicas_match_the_origin(&net, &["pe", "cl"]);
}
