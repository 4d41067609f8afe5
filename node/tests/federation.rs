//! Whole federations of real `concord run` processes on loopback: catching
//! up after downtime, healing a partition, joining late, and refusing
//! outsiders, forged entries and observers' publications.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use common::{Fed, Rogue, address_of, samples, wait_until};
use concord_node::net::NetEvent;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::Store;
use concord_protocol::entry::Visibility;
use concord_protocol::entry::WireEntry;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Kind, Record};
use concord_protocol::wire::{Gossip, MAX_RANGE_ENTRIES, SyncRequest, SyncResponse};

fn sample_bodies() -> Vec<Vec<u8>> {
    samples()
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect()
}

fn origin(id: &str) -> String {
    format!("pacific-alliance.concord/{id}")
}

/// Waits until every node in `ids` shows the same size and root for each
/// log in `logs`, of at least `min` entries.
fn converge(fed: &Fed, ids: &[&str], logs: &[&str], min: u64, limit: Duration) {
    wait_until(limit, &format!("{ids:?} agree on {logs:?}"), || {
        logs.iter().all(|log| {
            let views = fed.views(ids, &origin(log));
            views
                .iter()
                .all(|v| v.as_ref().is_some_and(|(size, _)| *size >= min))
                && views.windows(2).all(|w| w[0] == w[1])
        })
    });
}

#[test]
fn a_node_stopped_during_a_thousand_publishes_catches_up_and_a_late_member_gets_everything() {
    let fed = Fed::create("cl,mx,pe,co", "");
    for id in ["cl", "mx", "pe"] {
        fed.start(id);
    }
    let bodies = sample_bodies();
    let n_each = 500u64;
    std::thread::scope(|scope| {
        for id in ["cl", "mx"] {
            let (fed, bodies) = (&fed, &bodies);
            scope.spawn(move || {
                for i in 0..n_each {
                    let body = &bodies[i as usize % bodies.len()];
                    fed.publish(id, "denial", body)
                        .unwrap_or_else(|status| panic!("{id} publish {i}: HTTP {status}"));
                }
            });
        }
        // pe goes down while the thousand publishes run, and comes back
        // before they end.
        wait_until(Duration::from_secs(60), "publishing is under way", || {
            fed.log_size("cl", &origin("cl")) >= 100
        });
        fed.stop("pe");
        wait_until(
            Duration::from_secs(60),
            "publishing goes on without pe",
            || fed.log_size("cl", &origin("cl")) >= 300,
        );
        fed.start("pe");
    });
    converge(
        &fed,
        &["cl", "mx", "pe"],
        &["cl", "mx"],
        n_each,
        Duration::from_secs(120),
    );
    let synced = synced_appended(&fed, "pe", 1).unwrap_or(0);
    assert!(
        synced > 0,
        "pe caught up by anti-entropy, not by re-publication"
    );

    fed.start("co");
    converge(
        &fed,
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
fn synced_appended(fed: &Fed, id: &str, at_least: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = fed.status(id)["sync"]["synced_appended"].as_u64();
        if count >= Some(at_least) || Instant::now() >= deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `n` entries of the sample denials to `id`'s own log while its
/// node is not running; returns the store, still open.
fn write_log_offline(fed: &Fed, id: &str, n: u64) -> Store {
    let home = fed.home(id);
    let store = Store::open(&home.db_path()).expect("store");
    let key = home.identity().expect("identity").log_key.clone();
    let log = Origin::new(&origin(id)).expect("origin");
    let records: Vec<Record> = sample_bodies()
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
        publish::append_own(&store, &log, &key, 1_763_935_200, group).expect("append");
    }
    store.flush_blocking().expect("flush");
    store
}

#[test]
fn a_member_joining_late_catches_up_a_log_of_many_ranges() {
    let fed = Fed::create("cl,mx", "");
    // cl's log is written before anyone runs: five whole sync ranges and part
    // of a sixth, so that catching up asks for ranges ahead of the one it
    // ingests, the last one shorter than the others.
    let n = 5 * MAX_RANGE_ENTRIES + 300;
    drop(write_log_offline(&fed, "cl", n));
    fed.start("cl");
    fed.start("mx");
    converge(&fed, &["cl", "mx"], &["cl"], n, Duration::from_secs(120));
    assert_eq!(
        synced_appended(&fed, "mx", n),
        Some(n),
        "mx fetched cl's log by anti-entropy, each entry once"
    );
}

/// A peer that answers ranges short, refuses some and answers others in
/// full: catching up asks again from where the stored log ends, and the
/// member still gets every entry of the signed log, and nothing else.
#[test]
fn catching_up_from_a_peer_that_answers_short_or_not_at_all_still_gets_everything() {
    let fed = Fed::create("cl,mx", "");
    let n = 3 * MAX_RANGE_ENTRIES + 100;
    let cl = Origin::new(&origin("cl")).expect("origin");
    let (note, head, served) = {
        let store = write_log_offline(&fed, "cl", n);
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
    fed.start("mx");
    // cl's node stays down; in its place, a peer with cl's transport key.
    let roster = fed.home("mx").roster().expect("roster");
    let identity = fed.home("cl").identity().expect("keys");
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
                fed.log_size("mx", cl.as_str()) >= n
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
        fed.views(&["mx"], cl.as_str()),
        [Some((head.size, BASE64.encode(head.root)))],
        "mx holds exactly cl's signed log"
    );
    assert_eq!(
        synced_appended(&fed, "mx", n),
        Some(n),
        "each entry was stored once"
    );
}

#[test]
fn partitioned_groups_both_publish_and_converge_after_healing() {
    let fed = Fed::create("cl,co,mx,pe", "");
    let bodies = sample_bodies();
    // One side of the partition…
    fed.start("cl");
    fed.start("co");
    for body in bodies.iter().take(5) {
        fed.publish("cl", "denial", body).expect("publish");
    }
    converge(&fed, &["cl", "co"], &["cl"], 5, Duration::from_secs(60));
    fed.stop("cl");
    fed.stop("co");
    // …and the other, which never saw the first.
    fed.start("mx");
    fed.start("pe");
    for body in bodies.iter().skip(5).take(4) {
        fed.publish("mx", "denial", body).expect("publish");
    }
    converge(&fed, &["mx", "pe"], &["mx"], 4, Duration::from_secs(60));
    assert_eq!(fed.log_size("mx", &origin("cl")), 0);
    // Heal.
    fed.start("cl");
    fed.start("co");
    converge(
        &fed,
        &["cl", "co", "mx", "pe"],
        &["cl", "mx"],
        4,
        Duration::from_secs(90),
    );
    assert_eq!(fed.log_size("pe", &origin("cl")), 5);
}

#[test]
fn outsiders_forged_entries_and_observers_are_refused() {
    let fed = Fed::create("cl,mx,br", "un1540:US");
    fed.start("cl");
    fed.start("mx");
    let roster = fed.home("cl").roster().expect("roster");
    let body = &sample_bodies()[0];
    fed.publish("cl", "denial", body).expect("publish");
    converge(&fed, &["cl", "mx"], &["cl"], 1, Duration::from_secs(60));

    // An observer's node refuses to publish.
    fed.start("un1540");
    assert_eq!(fed.publish("un1540", "denial", body).err(), Some(403));

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
    let cl_log = std::fs::read_to_string(fed.root.join("cl.log")).expect("cl's log");
    assert!(cl_log.contains("refused"), "the refusal is logged");
    drop(outsider);

    // br's transport identity, br's node not running: a forged entry for
    // mx's log (signed with br's key) reaches cl only, which rejects it.
    let br = fed.home("br").identity().expect("br's keys");
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
    let rejected_before = fed.status("cl")["sync"]["gossip_rejected"]
        .as_u64()
        .unwrap_or(0);
    rogue.gossip(&forge("mx", &br.log_key));
    wait_until(
        Duration::from_secs(30),
        "cl rejects the forged entry",
        || {
            fed.status("cl")["sync"]["gossip_rejected"]
                .as_u64()
                .unwrap_or(0)
                > rejected_before
        },
    );
    // An observer's own "entry", signed with the observer's key, is refused too.
    let un = fed.home("un1540").identity().expect("observer keys");
    rogue.gossip(&forge("un1540", &un.log_key));
    wait_until(
        Duration::from_secs(30),
        "cl rejects the observer's entry",
        || {
            fed.status("cl")["sync"]["gossip_rejected"]
                .as_u64()
                .unwrap_or(0)
                > rejected_before + 1
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    for id in ["cl", "mx", "un1540"] {
        assert_eq!(
            fed.log_size(id, &origin("mx")),
            0,
            "{id} stored a forged entry"
        );
        assert_eq!(
            fed.log_size(id, &origin("un1540")),
            0,
            "{id} stored an observer's entry"
        );
    }
    for id in ["mx", "un1540"] {
        assert_eq!(
            fed.status(id)["sync"]["gossip_rejected"].as_u64(),
            Some(0),
            "the forgery reached {id}"
        );
    }
}

#[test]
fn a_bilateral_payload_is_served_only_to_its_two_states() {
    let fed = Fed::create("cl,mx,pe", "un1540:US");
    fed.start("mx");
    let roster = fed.home("mx").roster().expect("roster");
    let body = &sample_bodies()[0];
    let home = fed.home("mx");
    let config = home.config().expect("config");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(format!(
            "http://{}/v1/records/denial?visibility=bilateral:CL,MX",
            config.api.listen
        ))
        .header(
            "Authorization",
            format!("Bearer {}", home.token().expect("token")),
        )
        .header("Content-Type", "application/json")
        .send(&body[..])
        .expect("publish");
    assert_eq!(response.status(), 201);
    let mx = Origin::new(&origin("mx")).expect("origin");
    // Each reader asks mx's node for entry 0 with its own transport identity
    // (its own node is not running).
    for (reader, may_read) in [("cl", true), ("pe", false), ("un1540", false)] {
        let identity = fed.home(reader).identity().expect("keys");
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed)
            .expect("keypair");
        let rogue = Rogue::start(keypair, &roster, address_of(&roster, "mx"));
        let (peer, _) = address_of(&roster, "mx");
        let handle = rogue.handle.clone();
        let request = concord_protocol::wire::SyncRequest::Entries {
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
                            std::time::Instant::now() < deadline,
                            "{reader} never got an answer: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let concord_protocol::wire::SyncResponse::Entries { entries, .. } = response else {
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
    let fed = Fed::create("cl,mx", "wco:BE");
    let wco = fed.home("wco");
    let mut config = wco.config().expect("config");
    config.replication.headers_only = true;
    std::fs::write(
        wco.config_path(),
        toml::to_string(&config).expect("config serialises"),
    )
    .expect("write config");
    for id in ["cl", "mx", "wco"] {
        fed.start(id);
    }
    let bodies = sample_bodies();
    for (i, body) in bodies.iter().take(6).enumerate() {
        let id = if i % 2 == 0 { "cl" } else { "mx" };
        // Public payloads too: headers-only means none at all.
        let kind = if i < 2 {
            "denial?visibility=public"
        } else {
            "denial"
        };
        fed.publish(id, kind, body)
            .unwrap_or_else(|status| panic!("publish {i}: HTTP {status}"));
    }
    converge(
        &fed,
        &["cl", "mx", "wco"],
        &["cl", "mx"],
        3,
        Duration::from_secs(60),
    );
    for id in ["cl", "mx", "wco"] {
        fed.stop(id);
    }
    let store = concord_node::store::Store::open(&wco.db_path()).expect("open");
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
    let audit = std::process::Command::new(common::CONCORD)
        .args(["audit", "--json", "--home"])
        .arg(&wco.dir)
        .output()
        .expect("audit runs");
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&audit.stdout).expect("report");
    assert_eq!(report["logs"].as_array().map(Vec::len), Some(2));
}
