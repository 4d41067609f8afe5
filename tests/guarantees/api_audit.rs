//! An observer audits without stopping its witness: `concord audit --home`,
//! `concord export` and `concord purge --dry-run` of a running node answer
//! through its API what they answer of the stopped node, with the same
//! exit codes.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use concord_scenarios::process::Run;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

use crate::evidence::{
    assert_fork_found, concord, findings, forked_federation, origin, publish_offline,
};

/// What must not depend on whether the node ran: the verdict, every log's
/// size and root, and the findings. (The store's path and the witnesses'
/// cosignatures, which a running node may still be gathering, may differ.)
fn comparable(report: &Value) -> Value {
    let logs: Vec<Value> = report["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("no logs in {report:#}"))
        .iter()
        .map(|log| serde_json::json!([log["origin"], log["size"], log["root"]]))
        .collect();
    let mut found = findings(report);
    found.sort();
    serde_json::json!({ "verdict": report["verdict"], "logs": logs, "findings": found })
}

/// The entry lines of the bundle at `path`.
fn entry_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .filter(|line| line.starts_with("{\"entry\":"))
        .map(str::to_owned)
        .collect()
}

/// `concord export --home HOME(id) --out OUT`, which must succeed.
fn export(net: &Testnet, id: &str, out: &Path) -> Run {
    net.cli(
        id,
        [OsStr::new("export"), OsStr::new("--out"), out.as_os_str()],
    )
    .ok()
}

/// `concord audit --bundle PATH --json`, which must find it clean.
fn assert_bundle_clean(path: &Path) {
    let audit = concord().run([
        OsStr::new("audit"),
        OsStr::new("--bundle"),
        path.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_eq!(audit.code, Some(0), "{}\n{}", audit.stdout, audit.stderr);
    assert_eq!(audit.json()["verdict"], "clean", "{}", audit.stdout);
}

#[test]
fn a_running_node_audits_exports_and_lists_purges_as_the_stopped_one_does() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["cl", "mx"], &["un1540:US"]).sync_interval_ms(300),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    // One denial whose validity ended, so that a purge has something to list.
    let denials = records::denials();
    let mut expired: Value =
        serde_json::from_slice(&denials[0].stated_by("CL")).expect("a sample is JSON");
    expired["decision_date"] = "2025-01-10".into();
    expired["valid_until"] = "2025-06-01".into();
    let expired_file = dir.path().join("expired.json");
    std::fs::write(&expired_file, expired.to_string()).expect("write the record");
    net.cli(
        "cl",
        [
            OsStr::new("publish"),
            OsStr::new("denial"),
            OsStr::new("--accept-fork-risk"),
            OsStr::new("--file"),
            expired_file.as_os_str(),
        ],
    )
    .ok();
    publish_offline(&net, "cl", &denials[1..3]);
    for id in ["cl", "un1540"] {
        net.start(id);
    }
    wait_until(
        Duration::from_secs(60),
        "the observer holds cl's three entries",
        || net.log_size("un1540", "cl") == 3,
    );

    // The observer keeps witnessing while it is audited and exported.
    let running_audit = net.cli("un1540", ["audit", "--json"]);
    assert_eq!(
        running_audit.code,
        Some(0),
        "{}\n{}",
        running_audit.stdout,
        running_audit.stderr
    );
    let running_report = running_audit.json();
    assert_eq!(running_report["verdict"], "clean", "{running_report:#}");
    let running_bundle = dir.path().join("running.bundle");
    export(&net, "un1540", &running_bundle);
    assert_bundle_clean(&running_bundle);
    let running_purge = net.cli("cl", ["purge", "--dry-run", "--json"]).ok().json();
    assert_eq!(
        running_purge["expired_denials"].as_array().map(Vec::len),
        Some(1),
        "{running_purge:#}"
    );
    // A refused export is refused as the stopped node refuses it, and
    // leaves nothing behind.
    let unknown = dir.path().join("unknown.bundle");
    let refused = net.cli(
        "un1540",
        [
            OsStr::new("export"),
            OsStr::new("--out"),
            unknown.as_os_str(),
            OsStr::new("--log"),
            OsStr::new("zz"),
        ],
    );
    assert_eq!(refused.code, Some(4), "{}", refused.stderr);
    assert!(!unknown.exists() && !unknown.with_extension("partial").exists());
    assert!(net.is_running("un1540") && net.is_running("cl"));

    for id in ["cl", "un1540"] {
        net.stop(id);
    }
    let stopped_audit = net.cli("un1540", ["audit", "--json"]).ok();
    assert_eq!(
        comparable(&running_report),
        comparable(&stopped_audit.json())
    );
    let stopped_bundle = dir.path().join("stopped.bundle");
    export(&net, "un1540", &stopped_bundle);
    assert_bundle_clean(&stopped_bundle);
    let lines = entry_lines(&running_bundle);
    assert_eq!(lines.len(), 3, "the bundle carries cl's three entries");
    assert_eq!(lines, entry_lines(&stopped_bundle));
    let stopped_purge = net.cli("cl", ["purge", "--dry-run", "--json"]).ok().json();
    assert_eq!(running_purge, stopped_purge);
}

#[test]
fn a_running_member_holding_a_quarantine_audits_with_exit_6_and_the_same_findings() {
    let mut net = forked_federation();
    let running = net.cli("mx", ["audit", "--json"]);
    let running_report = assert_fork_found(&running, "cl", 3, true);
    assert!(net.is_running("mx"));
    net.stop("mx");
    let stopped = net.cli("mx", ["audit", "--json"]);
    let stopped_report = assert_fork_found(&stopped, "cl", 3, true);
    assert_eq!(comparable(&running_report), comparable(&stopped_report));
    assert!(
        findings(&running_report)
            .iter()
            .any(|(_, log, _)| *log == origin("cl")),
        "{running_report:#}"
    );
}
