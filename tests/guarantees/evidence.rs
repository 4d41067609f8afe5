//! Evidence of equivocation wherever it arrives: a bundle whose entries or
//! checkpoints conflict with the store is kept as a proof and quarantines
//! the log, as gossip and sync do; an audit of a store or a bundle that
//! holds a proven fork is never clean; and a member whose own log is
//! quarantined is refused when it publishes, on the API and on the
//! command line.
//!
//! The fork is made the way an operator makes one: a member throws its
//! store away and publishes again, so that it signs two different entries
//! for the same indexes.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use concord_node::home::Home;
use concord_node::store::{CheckpointOutcome, Store};
use concord_protocol::origin::Origin;
use concord_scenarios::process::{Concord, Run};
use concord_scenarios::records::{self, SampleRecord};
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

/// The binary Cargo built for these tests.
pub(super) fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

/// A testnet of these members, syncing every 300 ms, no node running.
pub(super) fn federation(members: &[&str]) -> Testnet {
    Testnet::create_with(
        &concord(),
        &TestnetSpec::new(members, &[]).sync_interval_ms(300),
    )
}

pub(super) fn origin(id: &str) -> String {
    format!("pacific-alliance.concord/{id}")
}

/// `concord ARGS` to completion.
fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    concord().run(args)
}

/// Publishes `records` on `id`'s own log while its node is stopped, each
/// stated by `id`'s state (the testnet's members are named for their
/// states), accepting the risk of a fork: a stopped node asks no peer how
/// far its log goes.
pub(super) fn publish_offline(net: &Testnet, id: &str, records: &[SampleRecord]) {
    for (n, record) in records.iter().enumerate() {
        let file = net.root().join(format!("{id}-record-{n}.json"));
        std::fs::write(&file, record.stated_by(&id.to_uppercase())).expect("write a record");
        net.cli(
            id,
            [
                "publish".as_ref(),
                "denial".as_ref(),
                "--accept-fork-risk".as_ref(),
                "--file".as_ref(),
                file.as_os_str(),
            ],
        )
        .ok();
    }
}

/// `id` throws its store away and publishes `records` in its place: the
/// same indexes, other entries, all signed by its key.
fn rewrite_history(net: &Testnet, id: &str, records: &[SampleRecord]) {
    std::fs::remove_dir_all(Home::new(&net.home(id)).db_path()).expect("remove the store");
    publish_offline(net, id, records);
}

/// `concord export --home HOME(id) --out OUT` of the logs `logs` (all if
/// empty).
fn export(net: &Testnet, id: &str, out: &Path, logs: &[&str]) {
    let mut args: Vec<&OsStr> = vec!["export".as_ref(), "--out".as_ref(), out.as_os_str()];
    for log in logs {
        args.extend(["--log".as_ref(), OsStr::new(*log)]);
    }
    net.cli(id, args).ok();
}

/// cl rewrites its history with `records` and exports it, and the stopped
/// mx imports it: the import exits 6 having kept a proof, and mx then holds
/// it and quarantines cl.
fn import_rewritten_history(net: &Testnet, dir: &Path, records: &[SampleRecord]) {
    rewrite_history(net, "cl", records);
    let second = dir.join("second.bundle");
    export(net, "cl", &second, &["cl"]);
    let import = net.cli(
        "mx",
        [
            OsStr::new("import"),
            second.as_os_str(),
            OsStr::new("--json"),
        ],
    );
    assert_eq!(import.code, Some(6), "{}\n{}", import.stdout, import.stderr);
    let summary = import.json();
    assert!(
        summary["evidence"].as_u64() >= Some(1),
        "the import recorded no proof: {summary:#}"
    );
    let status = stopped_status(net, "mx");
    assert!(quarantines(&status, "cl"), "{status:#}");
    assert!(status["evidence"].as_u64() >= Some(1), "{status:#}");
}

/// The stopped node `id`'s status, from its store.
fn stopped_status(net: &Testnet, id: &str) -> Value {
    net.cli(id, ["status", "--json"]).ok().json()
}

fn quarantines(status: &Value, log: &str) -> bool {
    status["quarantined"]
        .as_array()
        .is_some_and(|q| q.iter().any(|o| *o == origin(log).as_str()))
}

/// The findings of an audit report as (code, log, index).
pub(super) fn findings(report: &Value) -> Vec<(String, String, Option<u64>)> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {report:#}"))
        .iter()
        .map(|f| {
            (
                f["what"].as_str().expect("what").to_owned(),
                f["log"].as_str().expect("log").to_owned(),
                f["index"].as_u64(),
            )
        })
        .collect()
}

/// Asserts that `run` is an audit that exits 6 with a verdict of findings
/// naming `log`'s equivocation at an index below `size`, and, with
/// `quarantined`, its quarantine there too; returns the report.
#[track_caller]
pub(super) fn assert_fork_found(run: &Run, log: &str, size: u64, quarantined: bool) -> Value {
    let report = run.json();
    assert_eq!(
        run.code,
        Some(6),
        "{}: {report:#}\n{}",
        run.what,
        run.stderr
    );
    assert_eq!(report["verdict"], "findings", "{report:#}");
    let found = findings(&report);
    let at = |code: &str| {
        found.iter().any(|(what, on, index)| {
            what == code && *on == origin(log) && index.is_some_and(|i| i < size)
        })
    };
    assert!(at("equivocation"), "no equivocation of {log}: {report:#}");
    if quarantined {
        assert!(at("quarantined"), "no quarantine of {log}: {report:#}");
    }
    report
}

#[test]
fn importing_a_bundle_that_conflicts_with_the_store_keeps_the_proof_and_quarantines_the_log() {
    let net = federation(&["cl", "mx", "pe"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let denials = records::denials();

    // mx, air-gapped, holds cl's first history from a bundle.
    publish_offline(&net, "cl", &denials[..2]);
    let first = dir.path().join("first.bundle");
    export(&net, "cl", &first, &["cl"]);
    net.cli("mx", [OsStr::new("import"), first.as_os_str()])
        .ok();
    assert!(!quarantines(&stopped_status(&net, "mx"), "cl"));

    // cl rewrites it, and mx imports the other history: mx keeps the
    // proof, quarantines cl, and kept the history it had.
    import_rewritten_history(&net, dir.path(), &denials[3..5]);
    assert_eq!(net.log_size("mx", "cl"), 2);
    // Nothing more of cl is accepted: not even the first history again.
    let again = net.cli("mx", [OsStr::new("import"), first.as_os_str()]);
    assert_eq!(again.code, Some(6), "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("quarantined"), "{}", again.stdout);

    // The proof travels on: a bundle of mx's store carries it, and the
    // member that imports it quarantines cl too.
    let evidence = dir.path().join("evidence.bundle");
    export(&net, "mx", &evidence, &[]);
    let import = net.cli("pe", [OsStr::new("import"), evidence.as_os_str()]);
    assert_eq!(import.code, Some(6), "{}\n{}", import.stdout, import.stderr);
    assert!(quarantines(&stopped_status(&net, "pe"), "cl"));
}

#[test]
fn importing_a_checkpoint_that_conflicts_with_a_held_one_keeps_the_proof_and_quarantines_the_log() {
    let net = federation(&["cl", "mx"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let denials = records::denials();
    let cl = Origin::new(&origin("cl")).expect("origin");

    // mx heard of cl's first history only by its signed checkpoint, as a
    // peer's gossip brings it: the target sync must reach.
    publish_offline(&net, "cl", &denials[..2]);
    let checkpoint = Store::open(&Home::new(&net.home("cl")).db_path())
        .expect("cl's store")
        .checkpoint(&cl)
        .expect("read")
        .expect("cl signed a checkpoint");
    let roster = Home::new(&net.home("mx")).roster().expect("roster");
    let held = Store::open(&Home::new(&net.home("mx")).db_path())
        .expect("mx's store")
        .accept_checkpoint(&checkpoint.to_bytes(), &roster)
        .expect("stored");
    assert_eq!(held, Ok(CheckpointOutcome::Ahead { have: 0, want: 2 }));

    // cl rewrites it, and mx imports the other history, whose checkpoint of
    // the same size has another root.
    import_rewritten_history(&net, dir.path(), &denials[3..5]);
}

/// A federation of cl, mx and pe in which cl rewrote its history while
/// every node ran, and every node, cl's own included, quarantined cl's log
/// on the proof; cl's log held 3 entries before and 2 after.
pub(super) fn forked_federation() -> Testnet {
    let mut net = federation(&["cl", "mx", "pe"]);
    let denials = records::denials();
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
    rewrite_history(&net, "cl", &denials[5..7]);
    net.start("cl");
    wait_until(
        Duration::from_secs(60),
        "every node, cl's own, holds the proof and quarantines cl",
        || {
            ["cl", "mx", "pe"]
                .iter()
                .all(|id| net.quarantined(id, "cl") && !net.evidence(id).is_empty())
        },
    );
    net
}

#[test]
fn an_audit_of_a_store_or_a_bundle_holding_a_proven_fork_is_not_clean() {
    let mut net = forked_federation();
    for id in ["cl", "mx", "pe"] {
        net.stop(id);
    }
    for id in ["cl", "mx", "pe"] {
        let audit = net.cli(id, ["audit", "--json"]);
        assert_fork_found(&audit, "cl", 3, true);
    }
    // A bundle carrying the proof: the finding is at the proof's line.
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path().join("mx.bundle");
    export(&net, "mx", &bundle, &[]);
    let audit = run(&[
        OsStr::new("audit"),
        OsStr::new("--bundle"),
        bundle.as_os_str(),
        OsStr::new("--json"),
    ]);
    let report = assert_fork_found(&audit, "cl", 3, false);
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["what"] == "equivocation" && f["line"].is_u64()),
        "{report:#}"
    );
}

#[test]
fn a_member_whose_own_log_is_quarantined_is_refused_when_it_publishes() {
    let mut net = forked_federation();
    let record = &records::denials()[0];

    // On the API: 409 with a stable code, saying why and what to do.
    let reply = net
        .api("cl")
        .post("/v1/records/denial", &record.stated_by("CL"));
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(
        reply.json()["error"],
        "own_log_quarantined",
        "{}",
        reply.body
    );
    for says in ["own log", "equivocation", "concord quarantine clear"] {
        assert!(reply.message().contains(says), "{}", reply.message());
    }

    // On the command line of the stopped node: exit 1, the same words.
    net.stop("cl");
    let publish = net.cli(
        "cl",
        [
            "publish".as_ref(),
            "denial".as_ref(),
            "--file".as_ref(),
            record.path.as_os_str(),
        ],
    );
    publish.fails_with(8, "concord quarantine clear");
    assert!(publish.stderr.contains("own log"), "{}", publish.stderr);
    assert_eq!(net.log_size("cl", "cl"), 2, "nothing was signed");
}
