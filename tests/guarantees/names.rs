//! A member publishes only in its own state's name, and its log's times
//! neither go backwards nor run ahead of the verifier's clock
//! (PROTOCOL.md §3.3, §3.5): an officer's publish is refused, a log that
//! breaks either rule is refused by the nodes that sync it, and a bundle
//! that does is found by the audit and stores nothing.

use std::path::Path;
use std::time::Duration;

use crate::common;
use concord_node::bundle::BundleWriter;
use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::Store;
use concord_protocol::entry::{NewEntry, SignedEntry, Visibility, sign_entry};
use concord_protocol::merkle::RootBuilder;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};
use concord_scenarios::api::PublishError;
use concord_scenarios::process::{Concord, NodeOptions, Run};
use concord_scenarios::records::{self, SampleRecord};
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;

/// The binary Cargo built for these tests.
fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn origin(id: &str) -> Origin {
    Origin::for_member("pacific-alliance", id).expect("origin")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The sample record whose file name begins with `prefix`.
fn sample(prefix: &str) -> SampleRecord {
    records::samples()
        .into_iter()
        .find(|r| r.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no sample record {prefix}*"))
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("a JSON record")
}

/// Publishes `body` as `kind` (with its query) on `net`'s `id`, expecting a
/// refusal, and returns what the node said.
fn refused(net: &Testnet, id: &str, kind: &str, body: &[u8]) -> String {
    match net.api(id).try_publish(kind, body) {
        Err(PublishError::Refused(reply)) => {
            assert_eq!(reply.status, 422, "{kind}: {}", reply.body);
            reply.body
        }
        other => panic!("{kind}: published in another state's name: {other:?}"),
    }
}

#[test]
fn a_member_publishes_only_in_its_own_state_name() {
    let mut net = Testnet::create(&concord(), &["mx", "pe"], &[]);
    // pe never runs: nothing confirms mx's log, its operator accepts that.
    net.start_with("mx", &NodeOptions::accepting_fork_risk());
    let mx_denial = sample("mx-2025-thiodiglycol").bytes;
    net.api("mx").publish("denial", &mx_denial);

    let pe_denial = sample("pe-2025-machine-tools").bytes;
    let why = refused(&net, "mx", "denial", &pe_denial);
    assert!(
        why.contains(r#"denying_state \"PE\" is not this member's country \"MX\""#),
        "{why}"
    );
    let why = refused(&net, "mx", "notice", &sample("pe-2025-callao").bytes);
    assert!(why.contains(r#"issuing_state \"PE\""#), "{why}");
    let why = refused(&net, "mx", "denial?visibility=bilateral:CL,PE", &mx_denial);
    assert!(why.contains("payload.visibility.states"), "{why}");
    // An amendment cannot turn mx's denial into Peru's.
    let amend = serde_json::json!({"reason": "state changed", "denial": json(&pe_denial)});
    let why = refused(
        &net,
        "mx",
        "denial.amend?refers_to=0",
        amend.to_string().as_bytes(),
    );
    assert!(why.contains(r#"denial.denying_state \"PE\""#), "{why}");
    let request = serde_json::json!({
        "denial": {"origin": origin("pe").as_str(), "index": 0},
        "requesting_state": "CL",
        "denying_state": "PE",
        "application_reference": "SE-LIC-2026-0001",
        "question": "Is this the same consignee?"
    });
    let why = refused(
        &net,
        "mx",
        "consultation.request",
        request.to_string().as_bytes(),
    );
    assert!(why.contains(r#"requesting_state \"CL\""#), "{why}");

    // What mx may publish still goes in.
    net.api("mx")
        .publish("notice", &sample("mx-2025-manzanillo").bytes);
    net.api("mx")
        .publish("denial?visibility=bilateral:MX,PE", &mx_denial);
    assert_eq!(net.log_size("mx", "mx"), 3);
}

/// Appends `record` to `id`'s own log in its stopped node's store, with
/// the writer told the member is of `country` and the clock reads `now`:
/// what a member whose node ignored the rules would serve.
fn append_as(net: &Testnet, id: &str, country: &str, now: u64, record: &[u8], kind: Kind) {
    let home = Home::new(&net.home(id));
    let store = Store::open(&home.db_path()).expect("store");
    let key = home.identity().expect("identity").log_key.clone();
    let entry = OwnEntry {
        record: Record::parse(kind, record).expect("a valid record"),
        visibility: Visibility::Federation,
        refers_to: None,
    };
    let country = Country::new(country).expect("a country");
    let (outcomes, _) =
        publish::append_own(&store, &origin(id), country, &key, now, &[entry]).expect("append");
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    store.flush_blocking().expect("flush");
}

#[test]
fn a_log_in_another_state_name_or_dated_ahead_is_refused_by_the_nodes_that_sync_it() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "pe", "cl"], &[]).sync_interval_ms(300),
    );
    let t0 = 1_763_935_200;
    let mx_denial = sample("mx-2025-thiodiglycol").bytes;
    append_as(&net, "mx", "MX", t0, &mx_denial, Kind::Denial);
    let pe_denial = sample("pe-2025-machine-tools").bytes;
    append_as(&net, "mx", "PE", t0 + 1, &pe_denial, Kind::Denial);
    append_as(&net, "pe", "PE", t0, &pe_denial, Kind::Denial);
    let year_2100 = 4_102_444_800;
    append_as(&net, "pe", "PE", year_2100, &pe_denial, Kind::Denial);
    for id in ["mx", "pe", "cl"] {
        net.start(id);
    }
    wait_until(
        Duration::from_secs(60),
        "cl syncs both logs and refuses their second entries",
        || {
            let log = net.node_log("cl");
            log.contains(r#"denying_state "PE" is not this member's country "MX""#)
                && log.contains("ahead of this verifier's clock")
        },
    );
    assert_eq!(net.log_size("cl", "mx"), 1);
    assert_eq!(net.log_size("cl", "pe"), 1);
}

/// One entry of a hand-made log.
struct Forged {
    time: u64,
    kind: Kind,
    payload: Vec<u8>,
    visibility: Visibility,
}

impl Forged {
    fn denial(time: u64, payload: &[u8]) -> Self {
        Self {
            time,
            kind: Kind::Denial,
            payload: payload.to_vec(),
            visibility: Visibility::Federation,
        }
    }
}

/// A bundle of mx's log made of `forged`, signed with mx's own keys (as a
/// member that ignored the rules would), written under `net`'s root.
fn mx_bundle(net: &Testnet, name: &str, forged: &[Forged]) -> std::path::PathBuf {
    let mx = Home::new(&net.home("mx"));
    let key = mx.identity().expect("identity").log_key.clone();
    let mx_log = origin("mx");
    let entries: Vec<SignedEntry> = (0..)
        .zip(forged)
        .map(|(index, f)| {
            let new = NewEntry {
                origin: &mx_log,
                index,
                time: f.time,
                kind: f.kind,
                refers_to: None,
                payload: &f.payload,
                visibility: f.visibility.clone(),
            };
            sign_entry(&new, &key).expect("signs")
        })
        .collect();
    let mut tree = RootBuilder::default();
    for entry in &entries {
        tree.push(entry.leaf_hash());
    }
    let head = common::exporter_head(&mx, &mx_log);
    let mut writer = BundleWriter::new(Vec::new(), &head).expect("head");
    common::begin_log(
        &mut writer,
        &mx_log,
        entries.len() as u64,
        tree.root(),
        &key,
    );
    for (entry, f) in entries.iter().zip(forged) {
        writer.entry(entry, Some(&f.payload)).expect("entry");
    }
    let bytes = writer.finish(&key, mx_log.as_str()).expect("end");
    let bundle = net.root().join(name);
    std::fs::write(&bundle, bytes).expect("write");
    bundle
}

/// The findings of `concord audit --bundle` (with `extra` options) as
/// (code, index), after checking it exits 6.
fn findings(bundle: &Path, extra: &[&str]) -> Vec<(String, Option<u64>)> {
    let mut args = vec!["audit", "--bundle", path(bundle), "--json"];
    args.extend(extra);
    let out = concord().run(&args);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON report ({e}): {}{}", out.stdout, out.stderr));
    assert_eq!(out.code, Some(6), "{report:#}");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["what"].as_str().expect("code").to_owned(),
                f["index"].as_u64(),
            )
        })
        .collect()
}

/// Imports `bundle` into pe's home and checks that it was refused for
/// `code` and stored nothing.
fn import_refused(net: &Testnet, bundle: &Path, code: &str) {
    let out: Run = concord().run(["import", "--home", path(&net.home("pe")), path(bundle)]);
    assert_eq!(out.code, Some(6), "{}", out.stderr);
    assert!(
        out.stderr.contains(code) && out.stderr.contains("nothing was imported"),
        "{}",
        out.stderr
    );
    let store = Store::open(&Home::new(&net.home("pe")).db_path()).expect("open");
    let logs = store.logs().expect("logs");
    assert!(logs.iter().all(|(_, head)| head.size == 0), "{logs:?}");
}

#[test]
fn a_bundle_in_another_state_name_is_found_and_stores_nothing() {
    let net = Testnet::create(&concord(), &["mx", "pe"], &[]);
    let t0 = 1_763_935_200;
    let mx_denial = sample("mx-2025-thiodiglycol").bytes;
    let bilateral = Forged {
        visibility: Visibility::Bilateral {
            states: ["CL", "PE"].map(|c| Country::new(c).expect("country")),
        },
        ..Forged::denial(t0 + 2, &mx_denial)
    };
    let bundle = mx_bundle(
        &net,
        "names.bundle",
        &[
            Forged::denial(t0, &mx_denial),
            Forged::denial(t0 + 1, &sample("pe-2025-machine-tools").bytes),
            bilateral,
            Forged {
                kind: Kind::Notice,
                ..Forged::denial(t0 + 3, &sample("pe-2025-callao").bytes)
            },
        ],
    );
    // The header's visibility needs no record; the records' states do.
    let state = |index| ("foreign_state".to_owned(), Some(index));
    assert_eq!(findings(&bundle, &[]), [state(2)]);
    assert_eq!(
        findings(&bundle, &["--records"]),
        [state(1), state(2), state(3)]
    );
    import_refused(&net, &bundle, "foreign_state");
}

#[test]
fn entry_times_that_go_backwards_or_run_ahead_are_found_and_store_nothing() {
    let net = Testnet::create(&concord(), &["mx", "pe"], &[]);
    let t0 = 1_763_935_200;
    let body = sample("mx-2025-thiodiglycol").bytes;
    let year_2100 = 4_102_444_800;
    let bundle = mx_bundle(
        &net,
        "times.bundle",
        &[
            Forged::denial(t0, &body),
            Forged::denial(t0 + 60, &body),
            // 1970: before the entry it follows.
            Forged::denial(0, &body),
            // Equal times are fine: a group is stamped once.
            Forged::denial(t0 + 60, &body),
            Forged::denial(year_2100, &body),
        ],
    );
    assert_eq!(
        findings(&bundle, &[]),
        [
            ("time_backwards".to_owned(), Some(2)),
            ("time_ahead".to_owned(), Some(4))
        ]
    );
    import_refused(&net, &bundle, "time_backwards");
}
