//! A member whose store is restored from a backup never signs an index it
//! already signed: before its first publish after a start it learns how
//! far its own log goes from its peers, recovers what the backup lacks
//! through the verified replica path, and until then refuses to publish
//! (HTTP 503 `own_log_unconfirmed`, exit 5 on the command line). An
//! operator whose peers cannot be reached starts it with
//! `--accept-fork-risk`.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use concord_node::home::Home;
use concord_scenarios::api::{Published, decode_hash};
use concord_scenarios::process::NodeOptions;
use concord_scenarios::records;
use concord_scenarios::testnet::Testnet;
use concord_scenarios::wait::wait_until;
use serde_json::Value;

use super::evidence::{federation, origin};

const PEERS: [&str; 2] = ["mx", "pe"];
const EVERY_NODE: [&str; 3] = ["cl", "mx", "pe"];
/// How long peers may take to hold what a member published.
const REPLICATED: Duration = Duration::from_secs(60);

/// cl's `n`-th sample denial, stated by Chile.
fn denial(n: usize) -> Vec<u8> {
    records::denials()[n].stated_by("CL")
}

/// Copies the directory `from` to the new directory `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Waits until every node of `ids` holds cl's log at `size`.
fn wait_replicated(net: &Testnet, ids: &[&str], size: u64) {
    wait_until(
        REPLICATED,
        &format!("{ids:?} hold cl's log at {size}"),
        || ids.iter().all(|id| net.log_size(id, "cl") == size),
    );
}

/// The federation with every node running, cl's log at 3 on every node,
/// and a backup of cl's store taken when it held 1: what the operator
/// restores. Returns the two entries the backup lacks.
fn restored_federation(backup: &Path) -> (Testnet, Vec<Published>) {
    let mut net = federation(&EVERY_NODE);
    for id in EVERY_NODE {
        net.start(id);
    }
    net.api("cl").publish("denial", &denial(0));
    wait_replicated(&net, &PEERS, 1);
    let db = Home::new(&net.home("cl")).db_path();
    net.stop("cl");
    copy_dir(&db, backup);
    net.start("cl");
    let lost: Vec<Published> = (1..3)
        .map(|n| net.api("cl").publish("denial", &denial(n)))
        .collect();
    wait_replicated(&net, &PEERS, 3);
    net.stop("cl");
    std::fs::remove_dir_all(&db).expect("remove cl's store");
    copy_dir(backup, &db);
    (net, lost)
}

/// After the restored cl published one more: every node holds cl's log at
/// 4 with one root, cl holds the entries the backup lacked as they were
/// signed, and nobody quarantines cl or holds a proof against it.
fn assert_no_fork(net: &Testnet, lost: &[Published], next: &Published) {
    assert_eq!(next.index, 3, "the restored node published at {next:?}");
    wait_replicated(net, &EVERY_NODE, 4);
    let views = net.views(&EVERY_NODE, "cl");
    assert!(
        views.iter().all(|view| *view == views[0]),
        "the nodes see cl's log differently: {views:?}"
    );
    for published in lost {
        let entry = net
            .api("cl")
            .entry("cl", published.index)
            .unwrap_or_else(|| panic!("cl lacks its entry {}", published.index));
        let leaf_hash = decode_hash(entry["leaf_hash"].as_str().expect("a leaf hash"));
        assert_eq!(leaf_hash, published.leaf_hash, "entry {}", published.index);
    }
    for id in EVERY_NODE {
        assert!(!net.quarantined(id, "cl"), "{id} quarantines cl");
        assert!(net.evidence(id).is_empty(), "{id} holds a proof");
    }
}

/// The own log's state in `id`'s status.
fn own_log(net: &Testnet, id: &str) -> Value {
    net.api(id).status()["own_log"].clone()
}

#[test]
fn a_node_restored_from_a_backup_recovers_its_entries_from_peers_and_publishes_after_them() {
    let backup = tempfile::tempdir().expect("temp dir");
    let (mut net, lost) = restored_federation(&backup.path().join("db"));

    // Started among running peers and asked to publish at once: it answers
    // only once it recovered what it signed after the backup.
    net.start("cl");
    let next = net.api("cl").publish("denial", &denial(3));
    assert_no_fork(&net, &lost, &next);
    assert_eq!(own_log(&net, "cl")["state"], "confirmed");
    assert_eq!(own_log(&net, "cl")["by"], "peers");
}

#[test]
fn a_restored_node_whose_peers_are_down_refuses_to_publish_until_one_answers() {
    let backup = tempfile::tempdir().expect("temp dir");
    let (mut net, lost) = restored_federation(&backup.path().join("db"));
    for id in PEERS {
        net.stop(id);
    }

    // On a stopped node the command line cannot ask the peers either.
    let status = net.cli("cl", ["status", "--json"]).ok().json();
    assert_eq!(status["own_log"]["state"], "not_running", "{status:#}");
    let file = net.root().join("cl-denial-3.json");
    std::fs::write(&file, denial(3)).expect("write a record");
    let publish = [
        OsStr::new("publish"),
        "denial".as_ref(),
        "--file".as_ref(),
        file.as_os_str(),
    ];
    net.cli("cl", publish).fails_with(5, "--accept-fork-risk");

    net.start("cl");
    let reply = net.api("cl").post("/v1/records/denial", &denial(3));
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.code(), "own_log_unconfirmed", "{}", reply.body);
    for says in ["own log", "backup", "--accept-fork-risk"] {
        assert!(reply.message().contains(says), "{}", reply.message());
    }
    assert_eq!(own_log(&net, "cl")["state"], "awaiting_peers");
    // Through the running node's API, the command line exits 5 alike.
    net.cli("cl", publish)
        .fails_with(5, "own log not confirmed");
    assert_eq!(net.log_size("cl", "cl"), 1, "nothing was signed");

    for id in PEERS {
        net.start(id);
    }
    let next = net.api("cl").publish("denial", &denial(3));
    assert_no_fork(&net, &lost, &next);
}

#[test]
fn a_member_whose_peers_cannot_be_reached_publishes_only_when_its_operator_accepts_the_risk() {
    let mut net = federation(&EVERY_NODE);
    let origin = origin("cl");
    net.start("cl");
    let reply = net.api("cl").post("/v1/records/denial", &denial(0));
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.code(), "own_log_unconfirmed", "{}", reply.body);
    net.stop("cl");

    net.start_with("cl", &NodeOptions::accepting_fork_risk());
    let published = net.api("cl").publish("denial", &denial(0));
    assert_eq!(
        (published.origin.as_str(), published.index),
        (origin.as_str(), 0)
    );
    assert_eq!(own_log(&net, "cl")["by"], "accepted_risk");
    net.stop("cl");

    // And on the stopped node's command line.
    let file = net.root().join("cl-denial-1.json");
    std::fs::write(&file, denial(1)).expect("write a record");
    let run = net
        .cli(
            "cl",
            [
                OsStr::new("publish"),
                "denial".as_ref(),
                "--accept-fork-risk".as_ref(),
                "--json".as_ref(),
                "--file".as_ref(),
                file.as_os_str(),
            ],
        )
        .ok();
    assert_eq!(run.json()["index"], 1, "{}", run.stdout);
}
