//! Equivocation with real `concord run` processes on loopback: a member that
//! rewrites its history, and a member that shows two peers two different
//! trees (a split view), are detected; the proof verifies offline with the
//! roster alone, and the offending log is quarantined.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Fed, samples, wait_until};

use concord_keys::roster::Roster;
use concord_node::net::{self, NetConfig, NetEvent, Verdict};
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{self, NewEntry, Visibility};
use concord_protocol::merkle;
use concord_protocol::origin::Origin;
use concord_protocol::record::Kind;
use concord_protocol::wire::{SyncRequest, SyncResponse};
use libp2p::{Multiaddr, PeerId};

fn roster_of(fed: &Fed, id: &str) -> Roster {
    fed.home(id).roster().expect("roster")
}

#[test]
fn a_member_that_rewrites_its_history_is_detected_by_every_other_node() {
    let fed = Fed::create("cl,mx,pe", "un1540:US");
    let files = samples();
    // cl's history: three denials, published while cl's node is stopped.
    for file in &files[..3] {
        fed.publish_offline("cl", file);
    }
    for id in ["cl", "mx", "pe", "un1540"] {
        fed.start(id);
    }
    let cl = "pacific-alliance.concord/cl";
    wait_until(
        Duration::from_secs(60),
        "every node holds cl's three entries",
        || {
            ["mx", "pe", "un1540"]
                .iter()
                .all(|id| fed.log_size(id, cl) == 3)
        },
    );

    // cl throws its store away and writes another history in its place.
    fed.stop("cl");
    std::fs::remove_dir_all(fed.home("cl").db_path()).expect("remove cl's store");
    for file in &files[5..7] {
        fed.publish_offline("cl", file);
    }
    fed.start("cl");

    let roster = roster_of(&fed, "mx");
    wait_until(
        Duration::from_secs(90),
        "every other node proves cl equivocated",
        || {
            ["mx", "pe", "un1540"]
                .iter()
                .all(|id| fed.quarantined(id, cl) && !fed.evidence(id).is_empty())
        },
    );
    for id in ["mx", "pe", "un1540"] {
        for proof in fed.evidence(id) {
            let found = proof
                .verify(&roster)
                .expect("the proof verifies offline with the roster alone");
            assert_eq!(found.origin.as_str(), cl);
        }
        assert_eq!(
            fed.log_size(id, cl),
            3,
            "{id} kept the history it had verified"
        );
    }

    // While quarantined, nothing more of cl is accepted anywhere.
    for body in sample_bodies().iter().take(3) {
        fed.publish("cl", "denial", body).expect("cl publishes on");
    }
    std::thread::sleep(Duration::from_secs(3));
    for id in ["mx", "pe", "un1540"] {
        assert_eq!(fed.log_size(id, cl), 3, "{id} accepted nothing more of cl");
        assert!(fed.quarantined(id, cl));
    }

    // An operator lifts it at mx; the decision is recorded with who took it.
    let out = std::process::Command::new(common::CONCORD)
        .args(["quarantine", "clear", "--home"])
        .arg(&fed.home("mx").dir)
        .args([
            "--log",
            "cl",
            "--operator",
            "Duty officer, SE",
            "--reason",
            "reviewed the proof",
        ])
        .output()
        .expect("quarantine clear runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decisions = fed.get("mx", "/v1/evidence").expect("evidence")["decisions"].clone();
    assert!(
        decisions.to_string().contains("Duty officer, SE"),
        "{decisions:#}"
    );
    // cl still shows a forked history, so mx proves it again and quarantines
    // again, still keeping the history it verified first.
    wait_until(Duration::from_secs(60), "mx quarantines cl again", || {
        fed.quarantined("mx", cl)
    });
    assert_eq!(fed.log_size("mx", cl), 3);
}

fn sample_bodies() -> Vec<Vec<u8>> {
    samples()
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect()
}

/// A misbehaving member: it answers each peer's sync requests with the view
/// chosen for that peer.
struct SplitView {
    views: HashMap<PeerId, usize>,
    checkpoints: [SignedCheckpoint; 2],
    entries: [concord_protocol::entry::SignedEntry; 2],
}

impl SplitView {
    fn answer(&self, peer: &PeerId, request: &SyncRequest) -> SyncResponse {
        let view = self.views.get(peer).copied().unwrap_or(0);
        match request {
            SyncRequest::Checkpoints => SyncResponse::Checkpoints {
                notes: vec![
                    String::from_utf8_lossy(&self.checkpoints[view].to_bytes()).into_owned(),
                ],
            },
            SyncRequest::Entries {
                origin, start: 0, ..
            } => SyncResponse::Entries {
                origin: origin.clone(),
                start: 0,
                entries: vec![self.entries[view].to_wire(None)],
            },
            SyncRequest::Entries { origin, start, .. } => SyncResponse::Entries {
                origin: origin.clone(),
                start: *start,
                entries: Vec::new(),
            },
        }
    }
}

#[test]
fn a_split_view_is_proven_by_an_observer_connected_to_both_sides() {
    let fed = Fed::create("mx,pe,br", "un1540:US");
    let roster = roster_of(&fed, "mx");
    let br = Origin::new("pacific-alliance.concord/br").expect("origin");
    let identity = fed.home("br").identity().expect("br's keys");

    // Two different entries 0 of br's log, each with its checkpoint.
    let payload = std::fs::read(&samples()[0]).expect("sample");
    let record = concord_protocol::record::Record::parse(Kind::Denial, &payload).expect("valid");
    let payload = record.to_canonical_bytes();
    let make = |time: u64| {
        let signed = entry::sign_entry(
            &NewEntry {
                origin: &br,
                index: 0,
                time,
                kind: Kind::Denial,
                refers_to: None,
                payload: &payload,
                visibility: Visibility::Federation,
            },
            &identity.log_key,
        )
        .expect("signs");
        let mut builder = merkle::RootBuilder::default();
        builder.push(signed.leaf_hash());
        let checkpoint = SignedCheckpoint::sign(
            Checkpoint::new(br.clone(), 1, builder.root()),
            &identity.log_key,
        );
        (signed, checkpoint)
    };
    let (entry_a, checkpoint_a) = make(1_763_935_200);
    let (entry_b, checkpoint_b) = make(1_763_935_201);

    let peer_of = |id: &str| -> PeerId {
        let member = roster
            .members
            .iter()
            .find(|m| m.id.as_str() == id)
            .expect("member");
        member.peer_id.parse().expect("peer id")
    };
    let split = SplitView {
        views: HashMap::from([
            (peer_of("mx"), 0),
            (peer_of("pe"), 1),
            (peer_of("un1540"), 0),
        ]),
        checkpoints: [checkpoint_a, checkpoint_b],
        entries: [entry_a, entry_b],
    };

    // br's node is this test: br's transport key, on br's roster addresses.
    let br_member = roster
        .members
        .iter()
        .find(|m| m.id.as_str() == "br")
        .expect("br");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(64);
    let config = NetConfig {
        keypair: libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed)
            .expect("keypair"),
        listen: br_member
            .addrs
            .iter()
            .map(|a| a.parse::<Multiaddr>().expect("addr"))
            .collect(),
        bootstrap: Vec::new(),
        allowed: roster
            .members
            .iter()
            .map(|m| m.peer_id.parse().expect("peer id"))
            .collect(),
        federation: roster.federation.clone(),
        mdns: false,
    };
    let (handle, task) = runtime
        .block_on(async { net::spawn(config, events_tx, shutdown.clone()) })
        .expect("network starts");
    let rogue = runtime.spawn(async move {
        while let Some(event) = events_rx.recv().await {
            match event {
                NetEvent::SyncRequest {
                    peer,
                    request,
                    reply,
                } => {
                    let _ = reply.send(split.answer(&peer, &request));
                }
                NetEvent::Gossip {
                    message_id, source, ..
                } => handle.report(message_id, source, Verdict::Ignore).await,
                _ => {}
            }
        }
    });

    fed.start("mx");
    fed.start("pe");
    let origin = br.as_str();
    wait_until(
        Duration::from_secs(60),
        "mx and pe each hold one view of br's log",
        || fed.log_size("mx", origin) == 1 && fed.log_size("pe", origin) == 1,
    );
    fed.start("un1540");
    wait_until(
        Duration::from_secs(90),
        "the observer proves br equivocated",
        || fed.quarantined("un1540", origin) && !fed.evidence("un1540").is_empty(),
    );
    for proof in fed.evidence("un1540") {
        let found = proof
            .verify(&roster)
            .expect("the proof verifies offline with the roster alone");
        assert_eq!(found.origin, br);
    }

    shutdown.cancel();
    runtime.block_on(async {
        let _ = task.await;
        rogue.abort();
    });
}
