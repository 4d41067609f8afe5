//! Whole federations of real `concord run` processes on loopback: catching
//! up after downtime, healing a partition, joining late, refusing
//! outsiders, forged entries and observers' publications; equivocation (a
//! member that rewrites its history, a member that shows two peers two
//! different trees) detected, proven offline with the roster alone, and the
//! offending log quarantined; a forged proof offered by sync refused; and
//! `concord demo`, the README's main command.
//!
//! Where a test plays a misbehaving peer, it is an in-process libp2p node of
//! `concord-node` ([`Rogue`], or the split view's own); every `concord`
//! process goes through the harness.

#[path = "../node/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use concord_keys::roster::Roster;
use concord_node::home::Home;
use concord_node::net::{self, NetConfig, NetEvent, Verdict};
use concord_node::publish::{self, OwnEntry};
use concord_node::store::Store;
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{self, NewEntry, Visibility, WireEntry};
use concord_protocol::equivocation::EquivocationProof;
use concord_protocol::merkle;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};
use concord_protocol::wire::{Gossip, MAX_RANGE_ENTRIES, SyncRequest, SyncResponse};
use concord_scenarios::api::PublishError;
use concord_scenarios::process::{Concord, NodeOptions, Run};
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use libp2p::{Multiaddr, PeerId};

/// The binary Cargo built for these tests.
fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

/// A testnet of these members and observers, syncing every 300 ms so that
/// catching up is quick.
fn federation(members: &[&str], observers: &[&str]) -> Testnet {
    Testnet::create_with(
        &concord(),
        &TestnetSpec::new(members, observers).sync_interval_ms(300),
    )
}

/// The sample denials as the member of `state` publishes them.
fn sample_bodies(state: &str) -> Vec<Vec<u8>> {
    records::denials_of(state)
}

fn origin(id: &str) -> String {
    format!("pacific-alliance.concord/{id}")
}

/// Waits until every node in `ids` shows the same size and root for each
/// log in `logs`, of at least `min` entries.
fn converge(net: &Testnet, ids: &[&str], logs: &[&str], min: u64, limit: Duration) {
    wait_until(limit, &format!("{ids:?} agree on {logs:?}"), || {
        logs.iter().all(|log| {
            let views = net.views(ids, log);
            views
                .iter()
                .all(|v| v.as_ref().is_some_and(|(size, _)| *size >= min))
                && views.windows(2).all(|w| w[0] == w[1])
        })
    });
}

#[test]
fn a_node_stopped_during_a_thousand_publishes_catches_up_and_a_late_member_gets_everything() {
    let mut net = federation(&["cl", "mx", "pe", "co"], &[]);
    for id in ["cl", "mx", "pe"] {
        net.start(id);
    }
    let n_each = 500u64;
    let publishers = [
        ("cl", net.api("cl"), sample_bodies("CL")),
        ("mx", net.api("mx"), sample_bodies("MX")),
    ];
    std::thread::scope(|scope| {
        for (id, api, bodies) in &publishers {
            scope.spawn(move || {
                for i in 0..n_each {
                    let body = &bodies[i as usize % bodies.len()];
                    if let Err(e) = api.try_publish("denial", body) {
                        panic!("{id} publish {i}: {e:?}");
                    }
                }
            });
        }
        // pe goes down while the thousand publishes run, and comes back
        // before they end.
        wait_until(Duration::from_secs(60), "publishing is under way", || {
            net.log_size("cl", "cl") >= 100
        });
        net.stop("pe");
        wait_until(
            Duration::from_secs(60),
            "publishing goes on without pe",
            || net.log_size("cl", "cl") >= 300,
        );
        net.start("pe");
    });
    converge(
        &net,
        &["cl", "mx", "pe"],
        &["cl", "mx"],
        n_each,
        Duration::from_secs(120),
    );
    let synced = synced_appended(&net, "pe", 1).unwrap_or(0);
    assert!(
        synced > 0,
        "pe caught up by anti-entropy, not by re-publication"
    );

    net.start("co");
    converge(
        &net,
        &["cl", "mx", "pe", "co"],
        &["cl", "mx"],
        n_each,
        Duration::from_secs(120),
    );
}

/// Entries `id`'s node stored by catching up (anti-entropy), as it reports
/// once the count reached `at_least` or a few seconds passed: the node
/// counts a call's entries just after the store made them visible, so a
/// test that saw the log grow may ask a moment before the count moves.
fn synced_appended(net: &Testnet, id: &str, at_least: u64) -> Option<u64> {
    let mut count = None;
    let waited = concord_scenarios::wait::poll(
        Duration::from_secs(5),
        "the count of entries caught up",
        || {
            count = net.status(id)["sync"]["synced_appended"].as_u64();
            Ok(count >= Some(at_least))
        },
    );
    match waited {
        // Past five seconds the count is what it is; the caller asserts on it.
        Ok(()) | Err(concord_scenarios::Error::Timeout { .. }) => count,
        Err(e) => panic!("{e}"),
    }
}

/// Writes `n` entries of the sample denials to `id`'s own log while its
/// node is not running; returns the store, still open.
fn write_log_offline(net: &Testnet, id: &str, n: u64) -> Store {
    let home = Home::new(&net.home(id));
    let store = Store::open(&home.db_path()).expect("store");
    let key = home.identity().expect("identity").log_key.clone();
    let log = Origin::new(&origin(id)).expect("origin");
    let state = id[..2].to_ascii_uppercase();
    let records: Vec<Record> = records::denials_of(&state)
        .iter()
        .map(|body| Record::parse(Kind::Denial, body).expect("sample"))
        .collect();
    let own: Vec<OwnEntry> = (0..n as usize)
        .map(|i| OwnEntry {
            record: records[i % records.len()].clone(),
            visibility: Visibility::Federation,
            refers_to: None,
        })
        .collect();
    for group in own.chunks(1000) {
        publish::append_own(
            &store,
            &log,
            Country::new(&state).expect("a country"),
            &key,
            1_763_935_200,
            group,
        )
        .expect("append");
    }
    store.flush_blocking().expect("flush");
    store
}

#[test]
fn a_member_joining_late_catches_up_a_log_of_many_ranges() {
    let mut net = federation(&["cl", "mx"], &[]);
    // cl's log is written before anyone runs: five whole sync ranges and part
    // of a sixth, so that catching up asks for ranges ahead of the one it
    // ingests, the last one shorter than the others.
    let n = 5 * MAX_RANGE_ENTRIES + 300;
    drop(write_log_offline(&net, "cl", n));
    net.start("cl");
    net.start("mx");
    converge(&net, &["cl", "mx"], &["cl"], n, Duration::from_secs(120));
    assert_eq!(
        synced_appended(&net, "mx", n),
        Some(n),
        "mx fetched cl's log by anti-entropy, each entry once"
    );
}

/// A peer that answers ranges short, refuses some and answers others in
/// full: catching up asks again from where the stored log ends, and the
/// member still gets every entry of the signed log, and nothing else.
#[test]
fn catching_up_from_a_peer_that_answers_short_or_not_at_all_still_gets_everything() {
    let mut net = federation(&["cl", "mx"], &[]);
    let n = 3 * MAX_RANGE_ENTRIES + 100;
    let cl = Origin::new(&origin("cl")).expect("origin");
    let (note, head, served) = {
        let store = write_log_offline(&net, "cl", n);
        let checkpoint = store.checkpoint(&cl).expect("read").expect("checkpoint");
        let served: Vec<WireEntry> = store
            .entries(&cl, 0, n)
            .expect("entries")
            .into_iter()
            .map(|entry| {
                let header = entry.decode_header().expect("header");
                let payload = store.payload(&header.payload.sha256.0).expect("read");
                entry.to_wire(payload.as_deref())
            })
            .collect();
        let note = String::from_utf8(checkpoint.to_bytes()).expect("a note is text");
        (note, store.head(&cl).expect("head"), served)
    };
    net.start("mx");
    // cl's node stays down; in its place, a peer with cl's transport key.
    let roster = roster_of(&net, "mx");
    let identity = Home::new(&net.home("cl")).identity().expect("keys");
    let keypair =
        libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed).expect("keypair");
    let mut peer = Rogue::start(keypair, &roster, address_of(&roster, "mx"));
    let Rogue {
        runtime, events, ..
    } = &mut peer;
    let caught_up = AtomicBool::new(false);
    let mut asked = 0usize;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            wait_until(Duration::from_secs(120), "mx catches up", || {
                net.log_size("mx", cl.as_str()) >= n
            });
            caught_up.store(true, Ordering::Release);
        });
        runtime.block_on(async {
            while !caught_up.load(Ordering::Acquire) {
                let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), events.recv()).await
                else {
                    continue;
                };
                let NetEvent::SyncRequest { request, reply, .. } = event else {
                    continue;
                };
                let answer = match request {
                    SyncRequest::Checkpoints => SyncResponse::Checkpoints {
                        notes: vec![note.clone()],
                    },
                    SyncRequest::Equivocations => SyncResponse::Equivocations { proofs: vec![] },
                    SyncRequest::Entries { start, end, .. } => {
                        asked += 1;
                        // Every third range comes back half, every third is
                        // refused, the rest are whole.
                        let end = match asked % 3 {
                            0 => start + (end - start) / 2,
                            1 => start,
                            _ => end,
                        }
                        .min(n);
                        if end <= start {
                            SyncResponse::Refused {
                                reason: "not now".into(),
                            }
                        } else {
                            SyncResponse::Entries {
                                origin: cl.clone(),
                                start,
                                entries: served[start as usize..end as usize].to_vec(),
                            }
                        }
                    }
                };
                let _ = reply.send(answer);
            }
        });
    });
    assert!(asked > 4, "mx asked for {asked} ranges");
    assert_eq!(
        net.views(&["mx"], cl.as_str()),
        [Some((head.size, hex::encode(head.root)))],
        "mx holds exactly cl's signed log"
    );
    assert_eq!(
        synced_appended(&net, "mx", n),
        Some(n),
        "each entry was stored once"
    );
}

#[test]
fn partitioned_groups_both_publish_and_converge_after_healing() {
    let mut net = federation(&["cl", "co", "mx", "pe"], &[]);
    // One side of the partition…
    net.start("cl");
    net.start("co");
    for body in sample_bodies("CL").iter().take(5) {
        net.api("cl").publish("denial", body);
    }
    converge(&net, &["cl", "co"], &["cl"], 5, Duration::from_secs(60));
    net.stop("cl");
    net.stop("co");
    // …and the other, which never saw the first.
    net.start("mx");
    net.start("pe");
    for body in sample_bodies("MX").iter().skip(5).take(4) {
        net.api("mx").publish("denial", body);
    }
    converge(&net, &["mx", "pe"], &["mx"], 4, Duration::from_secs(60));
    assert_eq!(net.log_size("mx", "cl"), 0);
    // Heal.
    net.start("cl");
    net.start("co");
    converge(
        &net,
        &["cl", "co", "mx", "pe"],
        &["cl", "mx"],
        4,
        Duration::from_secs(90),
    );
    assert_eq!(net.log_size("pe", "cl"), 5);
}

#[test]
fn outsiders_forged_entries_and_observers_are_refused() {
    let mut net = federation(&["cl", "mx", "br"], &["un1540:US"]);
    net.start("cl");
    net.start("mx");
    let roster = roster_of(&net, "cl");
    let body = &sample_bodies("CL")[0];
    net.api("cl").publish("denial", body);
    converge(&net, &["cl", "mx"], &["cl"], 1, Duration::from_secs(60));

    // An observer's node refuses to publish.
    net.start("un1540");
    match net.api("un1540").try_publish("denial", body) {
        Err(PublishError::Refused(reply)) => assert_eq!(reply.status, 403, "{}", reply.body),
        other => panic!("an observer's publish was not refused: {other:?}"),
    }

    // A peer outside the roster is refused at connection time.
    let outsider = Rogue::start(
        libp2p::identity::Keypair::generate_ed25519(),
        &roster,
        address_of(&roster, "cl"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        outsider.connected_peers(),
        0,
        "an outsider stayed connected"
    );
    assert!(
        net.node_log("cl").contains("refused"),
        "the refusal is logged"
    );
    drop(outsider);

    // br's transport identity, br's node not running: a forged entry for
    // mx's log (signed with br's key) reaches cl only, which rejects it.
    let br = Home::new(&net.home("br")).identity().expect("br's keys");
    let rogue = Rogue::start(
        libp2p::identity::Keypair::ed25519_from_bytes(br.transport_seed).expect("keypair"),
        &roster,
        address_of(&roster, "cl"),
    );
    let payload = Record::parse(Kind::Denial, body)
        .expect("valid")
        .to_canonical_bytes();
    let forge = |log: &str, key: &ed25519_dalek::SigningKey| {
        let origin = Origin::new(&origin(log)).expect("origin");
        Gossip::Entry {
            entry: common::signed_denial(&origin, key, 0, &payload).to_wire(Some(&payload)),
        }
    };
    let gossip_rejected = |id: &str| net.status(id)["sync"]["gossip_rejected"].as_u64();
    let rejected_before = gossip_rejected("cl").unwrap_or(0);
    rogue.gossip(&forge("mx", &br.log_key));
    wait_until(
        Duration::from_secs(30),
        "cl rejects the forged entry",
        || gossip_rejected("cl").unwrap_or(0) > rejected_before,
    );
    // An observer's own "entry", signed with the observer's key, is refused too.
    let un = Home::new(&net.home("un1540"))
        .identity()
        .expect("observer keys");
    rogue.gossip(&forge("un1540", &un.log_key));
    wait_until(
        Duration::from_secs(30),
        "cl rejects the observer's entry",
        || gossip_rejected("cl").unwrap_or(0) > rejected_before + 1,
    );
    std::thread::sleep(Duration::from_secs(2));
    for id in ["cl", "mx", "un1540"] {
        assert_eq!(net.log_size(id, "mx"), 0, "{id} stored a forged entry");
        assert_eq!(
            net.log_size(id, "un1540"),
            0,
            "{id} stored an observer's entry"
        );
    }
    for id in ["mx", "un1540"] {
        assert_eq!(gossip_rejected(id), Some(0), "the forgery reached {id}");
    }
}

#[test]
fn a_bilateral_payload_is_served_only_to_its_two_states() {
    let mut net = federation(&["cl", "mx", "pe"], &["un1540:US"]);
    // mx's peers never run (readers below only borrow their identities).
    net.start_with("mx", &NodeOptions::accepting_fork_risk());
    let roster = roster_of(&net, "mx");
    let body = &sample_bodies("MX")[0];
    net.api("mx")
        .publish("denial?visibility=bilateral:CL,MX", body);
    let mx = Origin::new(&origin("mx")).expect("origin");
    // Each reader asks mx's node for entry 0 with its own transport identity
    // (its own node is not running).
    for (reader, may_read) in [("cl", true), ("pe", false), ("un1540", false)] {
        let identity = Home::new(&net.home(reader)).identity().expect("keys");
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed)
            .expect("keypair");
        let rogue = Rogue::start(keypair, &roster, address_of(&roster, "mx"));
        let (peer, _) = address_of(&roster, "mx");
        let handle = rogue.handle.clone();
        let request = SyncRequest::Entries {
            origin: mx.clone(),
            start: 0,
            end: 1,
        };
        let response = rogue.runtime.block_on(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match handle.request(peer, request.clone()).await {
                    Ok(response) => return response,
                    Err(e) => {
                        assert!(
                            Instant::now() < deadline,
                            "{reader} never got an answer: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let SyncResponse::Entries { entries, .. } = response else {
            panic!("{reader}: not an entries answer: {response:?}");
        };
        assert_eq!(entries.len(), 1, "{reader} gets the header");
        assert_eq!(
            entries[0].payload.is_some(),
            may_read,
            "{reader} and the bilateral payload"
        );
    }
}

#[test]
fn a_headers_only_observer_verifies_every_log_and_holds_no_payload() {
    let mut net = federation(&["cl", "mx"], &["wco:BE"]);
    let wco = Home::new(&net.home("wco"));
    let mut config = wco.config().expect("config");
    config.replication.headers_only = true;
    std::fs::write(
        wco.config_path(),
        toml::to_string(&config).expect("config serialises"),
    )
    .expect("write config");
    for id in ["cl", "mx", "wco"] {
        net.start(id);
    }
    for i in 0..6 {
        let (id, state) = if i % 2 == 0 {
            ("cl", "CL")
        } else {
            ("mx", "MX")
        };
        let body = &sample_bodies(state)[i];
        // Public payloads too: headers-only means none at all.
        let kind = if i < 2 {
            "denial?visibility=public"
        } else {
            "denial"
        };
        net.api(id).publish(kind, body);
    }
    converge(
        &net,
        &["cl", "mx", "wco"],
        &["cl", "mx"],
        3,
        Duration::from_secs(60),
    );
    for id in ["cl", "mx", "wco"] {
        net.stop(id);
    }
    let store = Store::open(&wco.db_path()).expect("open");
    for log in ["cl", "mx"] {
        let origin = Origin::new(&origin(log)).expect("origin");
        for index in 0..3 {
            let header = store
                .entry(&origin, index)
                .expect("read")
                .expect("entry held")
                .decode_header()
                .expect("header");
            assert_eq!(
                store.payload(&header.payload.sha256.0).expect("read"),
                None,
                "{log} #{index}: a headers-only observer holds no payload"
            );
        }
    }
    drop(store);
    // And it still verifies every signature, tree and checkpoint it holds.
    let audit = net.cli("wco", ["audit", "--json"]).ok();
    assert_eq!(audit.json()["logs"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_member_that_rewrites_its_history_is_detected_by_every_other_node() {
    let mut net = federation(&["cl", "mx", "pe"], &["un1540:US"]);
    let denials = records::denials();
    let publish_offline = |net: &Testnet, record: &records::SampleRecord| {
        let file = net.root().join(format!("cl-{}", record.name));
        std::fs::write(&file, record.stated_by("CL")).expect("write");
        net.cli(
            "cl",
            [
                "publish".as_ref(),
                "denial".as_ref(),
                "--accept-fork-risk".as_ref(),
                "--file".as_ref(),
                file.as_os_str(),
            ],
        )
        .ok();
    };
    // cl's history: three denials, published while cl's node is stopped.
    for record in &denials[..3] {
        publish_offline(&net, record);
    }
    for id in ["cl", "mx", "pe", "un1540"] {
        net.start(id);
    }
    let cl = origin("cl");
    wait_until(
        Duration::from_secs(60),
        "every node holds cl's three entries",
        || {
            ["mx", "pe", "un1540"]
                .iter()
                .all(|id| net.log_size(id, "cl") == 3)
        },
    );

    // cl throws its store away and writes another history in its place.
    net.stop("cl");
    std::fs::remove_dir_all(Home::new(&net.home("cl")).db_path()).expect("remove cl's store");
    for record in &denials[5..7] {
        publish_offline(&net, record);
    }
    net.start("cl");

    let roster = roster_of(&net, "mx");
    wait_until(
        Duration::from_secs(90),
        "every other node proves cl equivocated",
        || {
            ["mx", "pe", "un1540"]
                .iter()
                .all(|id| net.quarantined(id, "cl") && !net.evidence(id).is_empty())
        },
    );
    for id in ["mx", "pe", "un1540"] {
        for proof in net.evidence(id) {
            let found = proof
                .verify(&roster)
                .expect("the proof verifies offline with the roster alone");
            assert_eq!(found.origin.as_str(), cl);
        }
        assert_eq!(
            net.log_size(id, "cl"),
            3,
            "{id} kept the history it had verified"
        );
    }

    // While quarantined, nothing more of cl is accepted anywhere. cl's own
    // node refuses to sign more once the proof reached it; until then it
    // publishes, and the others refuse what it gossips.
    for record in denials.iter().take(3) {
        match net.api("cl").try_publish("denial", &record.stated_by("CL")) {
            Ok(_) => {}
            Err(PublishError::Refused(reply)) if reply.status == 409 => {}
            Err(e) => panic!("cl publish: {e}"),
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    for id in ["mx", "pe", "un1540"] {
        assert_eq!(
            net.log_size(id, "cl"),
            3,
            "{id} accepted nothing more of cl"
        );
        assert!(net.quarantined(id, "cl"));
    }

    // An operator lifts it at mx; the decision is recorded with who took it.
    net.cli(
        "mx",
        [
            "quarantine",
            "clear",
            "--log",
            "cl",
            "--operator",
            "Duty officer, SE",
            "--reason",
            "reviewed the proof",
        ],
    )
    .ok();
    let decisions = net.api("mx").get("/v1/evidence").json()["decisions"].clone();
    assert!(
        decisions.to_string().contains("Duty officer, SE"),
        "{decisions:#}"
    );
    // cl still shows a forked history, so mx proves it again and quarantines
    // again, still keeping the history it verified first.
    wait_until(Duration::from_secs(60), "mx quarantines cl again", || {
        net.quarantined("mx", "cl")
    });
    assert_eq!(net.log_size("mx", "cl"), 3);
}

/// A peer that answers the equivocations request with a forged proof (two
/// checkpoints of pe's log signed by cl's key, not pe's): the node that
/// syncs refuses it, keeps no evidence and quarantines nothing.
#[test]
fn a_forged_proof_offered_by_sync_is_refused_and_quarantines_nothing() {
    let mut net = federation(&["cl", "mx", "pe"], &[]);
    net.start("mx");
    let roster = roster_of(&net, "mx");
    let identity = Home::new(&net.home("cl")).identity().expect("keys");
    let pe = Origin::new(&origin("pe")).expect("origin");
    let note = |root: u8| {
        let checkpoint = SignedCheckpoint::sign(
            Checkpoint::new(pe.clone(), 1, [root; 32]),
            &identity.log_key,
        );
        String::from_utf8(checkpoint.to_bytes()).expect("a note is text")
    };
    let forged = EquivocationProof::Checkpoints {
        a: note(1),
        b: note(2),
    };
    let keypair =
        libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed).expect("keypair");
    let mut peer = Rogue::start(keypair, &roster, address_of(&roster, "mx"));
    let Rogue {
        runtime, events, ..
    } = &mut peer;
    // Three asks: mx verified the answer to the first two before it asked
    // again, each round going through its proofs before anything else.
    let mut asked = 0usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    runtime.block_on(async {
        while asked < 3 {
            assert!(
                Instant::now() < deadline,
                "mx asked for proofs {asked} times"
            );
            let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            else {
                continue;
            };
            let NetEvent::SyncRequest { request, reply, .. } = event else {
                continue;
            };
            let answer = match request {
                SyncRequest::Equivocations => {
                    asked += 1;
                    SyncResponse::Equivocations {
                        proofs: vec![forged.clone()],
                    }
                }
                SyncRequest::Checkpoints => SyncResponse::Checkpoints { notes: Vec::new() },
                SyncRequest::Entries { origin, start, .. } => SyncResponse::Entries {
                    origin,
                    start,
                    entries: Vec::new(),
                },
            };
            let _ = reply.send(answer);
        }
    });
    assert!(
        !net.quarantined("mx", "pe"),
        "a forged proof quarantined pe"
    );
    assert!(net.evidence("mx").is_empty(), "mx kept a forged proof");
}

/// A misbehaving member: it answers each peer's sync requests with the view
/// chosen for that peer.
struct SplitView {
    views: HashMap<PeerId, usize>,
    checkpoints: [SignedCheckpoint; 2],
    entries: [entry::SignedEntry; 2],
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
            // It hands over no evidence against itself.
            SyncRequest::Equivocations => SyncResponse::Equivocations { proofs: Vec::new() },
        }
    }
}

#[test]
fn a_split_view_is_proven_by_an_observer_connected_to_both_sides() {
    let mut net = federation(&["mx", "pe", "br"], &["un1540:US"]);
    let roster = roster_of(&net, "mx");
    let br = Origin::new(&origin("br")).expect("origin");
    let identity = Home::new(&net.home("br")).identity().expect("br's keys");

    // Two different entries 0 of br's log, each with its checkpoint.
    let record = Record::parse(Kind::Denial, &sample_bodies("BR")[0]).expect("valid");
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

    let peer_of = |id: &str| -> PeerId { address_of(&roster, id).0 };
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
            .map(|m| (m.peer_id.parse().expect("peer id"), m.id.to_string()))
            .collect(),
        federation: roster.federation.clone(),
        mdns: false,
    };
    let (handle, task) = runtime
        .block_on(async {
            let mut registry = prometheus_client::registry::Registry::default();
            net::spawn(config, events_tx, shutdown.clone(), &mut registry)
        })
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

    net.start("mx");
    net.start("pe");
    wait_until(
        Duration::from_secs(60),
        "mx and pe each hold one view of br's log",
        || net.log_size("mx", "br") == 1 && net.log_size("pe", "br") == 1,
    );
    net.start("un1540");
    wait_until(
        Duration::from_secs(90),
        "the observer proves br equivocated",
        || net.quarantined("un1540", "br") && !net.evidence("un1540").is_empty(),
    );
    for proof in net.evidence("un1540") {
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

/// The README's main command: `concord demo` starts the Pacific Alliance
/// federation as seven processes, publishes every sample record from its
/// state's node, and sees every node hold identical logs.
#[test]
fn the_demo_federation_converges_on_identical_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fed = dir.path().join("pacific-alliance");
    let mut command = concord().command();
    command
        .args([
            "demo",
            "--exit-after-sync",
            "--timeout-secs",
            "120",
            "--dir",
        ])
        .arg(&fed);
    // Creating, starting, converging and stopping, within the demo's own
    // limits (60 s to start, 120 s to converge, 10 s to stop).
    let demo = Run::with_timeout(command, Duration::from_secs(240)).ok();
    let stdout = &demo.stdout;
    assert!(stdout.contains("every node holds every entry"), "{stdout}");
    assert!(
        stdout.contains("all 7 nodes hold identical logs"),
        "{stdout}"
    );
    for state in ["br", "cl", "co", "mx", "pe"] {
        let origin = origin(state);
        assert!(
            stdout.contains(&origin),
            "{state} published nothing: {stdout}"
        );
        assert!(
            stdout.contains(&format!("un1540  received  {state}#0")),
            "the observer missed {state}: {stdout}"
        );
        // The publisher stores its own entries; it receives none of them.
        assert!(
            stdout.contains(&format!("{state:<7} stored    {state}#0")),
            "{state} did not report storing its own entry: {stdout}"
        );
        assert!(
            !stdout.contains(&format!("{state:<7} received  {state}#")),
            "{state} reported receiving its own entry: {stdout}"
        );
    }
    // Every node process was stopped: their stores open again.
    for id in ["cl", "co", "mx", "pe", "br", "un1540", "wco"] {
        Store::open(&fed.join(id).join("db")).expect("the node stopped and released its store");
    }
}

/// A `concord demo` running in the background: its directory and its
/// nodes' API addresses, read from what it printed as it started them.
struct RunningDemo {
    child: std::process::Child,
    dir: std::path::PathBuf,
    apis: Vec<String>,
}

impl RunningDemo {
    /// Starts the demo in a temporary directory of its own choosing, with
    /// `global` options before `demo`, and returns once it has started all
    /// seven nodes.
    fn start(global: &[&str]) -> RunningDemo {
        use std::io::BufRead as _;
        let mut command = concord().command();
        command
            .env("CONCORD_LOG", "info,libp2p=warn")
            .args(global)
            .args(["demo", "--timeout-secs", "120"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let mut child = command.spawn().expect("start the demo");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut dir = None;
        let mut apis = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("the demo's output");
            if let Some(at) = line.strip_prefix("Creating the Pacific Alliance federation in ") {
                dir = Some(std::path::PathBuf::from(at));
            }
            if let Some((_, api)) = line.split_once("api http://") {
                apis.push(api.trim().to_owned());
            }
            if apis.len() == 7 {
                break;
            }
        }
        assert_eq!(apis.len(), 7, "the demo did not start seven nodes");
        RunningDemo {
            child,
            dir: dir.expect("the demo names its directory"),
            apis,
        }
    }

    fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{name}");
    }

    /// Waits for the demo to end, then for every node's API to stop
    /// answering.
    fn assert_everything_stops(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().expect("the demo's state").is_none() {
            assert!(Instant::now() < deadline, "the demo did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
        for api in &self.apis {
            wait_until(
                Duration::from_secs(30),
                &format!("node at {api} stops"),
                || std::net::TcpStream::connect(api).is_err(),
            );
        }
    }
}

/// SIGTERM (as SIGINT and SIGHUP) stops the demo and every node it
/// started, even while it is still starting them, and its temporary
/// directory goes with it.
#[test]
fn the_demo_stops_every_node_on_sigterm_and_removes_its_directory() {
    let mut demo = RunningDemo::start(&[]);
    demo.signal("TERM");
    demo.assert_everything_stops();
    assert!(!demo.dir.exists(), "{} was left behind", demo.dir.display());
}

/// A demo killed outright cannot stop its nodes: they notice that the
/// process that started them is gone and stop on their own.
#[test]
fn the_nodes_of_a_killed_demo_stop_on_their_own() {
    let mut demo = RunningDemo::start(&["--log-format", "json"]);
    demo.signal("KILL");
    demo.assert_everything_stops();
    // Every node says why it stops, however far its start had come (a node
    // not listening yet looks stopped to the port check above), and
    // `--log-format json` reached it: each line of its log is JSON.
    for id in ["cl", "co", "mx", "pe", "br", "un1540", "wco"] {
        let path = demo.dir.join(id).join("node.log");
        let read = || std::fs::read_to_string(&path).unwrap_or_default();
        wait_until(
            Duration::from_secs(60),
            &format!("{id} stops cleanly"),
            || read().contains("node stopped cleanly"),
        );
        let log = read();
        assert!(
            log.contains("the process that started this node ended; stopping"),
            "{log}"
        );
        for line in log.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{id}'s log line is no JSON ({e}): {line}"));
        }
    }
    // Each node ended and released its store.
    for id in ["cl", "co", "mx", "pe", "br", "un1540", "wco"] {
        let db = demo.dir.join(id).join("db");
        wait_until(
            Duration::from_secs(30),
            &format!("{id} releases its store"),
            || Store::open(&db).is_ok(),
        );
    }
    // Nothing ran to remove it.
    std::fs::remove_dir_all(&demo.dir).expect("remove the demo's directory");
}

fn roster_of(net: &Testnet, id: &str) -> Roster {
    Home::new(&net.home(id)).roster().expect("roster")
}

/// An in-process libp2p peer that misbehaves on purpose: it speaks the
/// federation's protocols with whatever transport key it is given.
struct Rogue {
    runtime: tokio::runtime::Runtime,
    handle: net::NetHandle,
    shutdown: tokio_util::sync::CancellationToken,
    events: tokio::sync::mpsc::Receiver<NetEvent>,
}

impl Rogue {
    /// Starts on a free loopback port and dials `target` (a node's peer id
    /// and address).
    fn start(
        keypair: libp2p::identity::Keypair,
        roster: &Roster,
        target: (PeerId, Multiaddr),
    ) -> Rogue {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (events_tx, events) = tokio::sync::mpsc::channel(256);
        let config = NetConfig {
            keypair,
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
            bootstrap: vec![target],
            allowed: roster
                .members
                .iter()
                .filter_map(|m| Some((m.peer_id.parse().ok()?, m.id.to_string())))
                .collect(),
            federation: roster.federation.clone(),
            mdns: false,
        };
        let token = shutdown.clone();
        let (handle, _task) = runtime
            .block_on(async move {
                let mut registry = prometheus_client::registry::Registry::default();
                net::spawn(config, events_tx, token, &mut registry)
            })
            .expect("rogue network starts");
        Rogue {
            runtime,
            handle,
            shutdown,
            events,
        }
    }

    /// Publishes `message` once the gossip mesh of its topic has a peer.
    fn gossip(&self, message: &Gossip) {
        let topic = net::Topic::of(message);
        let handle = self.handle.clone();
        let message = message.clone();
        self.runtime.block_on(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while handle.mesh_peers(topic).await.is_empty() {
                assert!(Instant::now() < deadline, "no gossip mesh formed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            handle.publish(topic, &message).await.expect("publish");
        });
    }

    fn connected_peers(&self) -> usize {
        let handle = self.handle.clone();
        self.runtime
            .block_on(async move { handle.peers().await.len() })
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A member's peer id and first address, from the roster.
fn address_of(roster: &Roster, id: &str) -> (PeerId, Multiaddr) {
    let member = roster
        .members
        .iter()
        .find(|m| m.id.as_str() == id)
        .expect("member");
    (
        member.peer_id.parse().expect("peer id"),
        member.addrs[0].parse().expect("addr"),
    )
}
