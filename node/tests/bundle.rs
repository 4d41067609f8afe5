//! Signed bundles between real nodes: exported from a replica, audited
//! offline, imported by a member that was never online; every changed byte
//! found at its line; a bundle with any finding stores nothing.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{CONCORD, Fed, samples, wait_until};
use concord_node::audit::Progress;
use concord_node::bundle;
use concord_node::store::Store;
use concord_protocol::origin::Origin;
use concord_protocol::record::Date;

fn concord(args: &[&str]) -> Output {
    Command::new(CONCORD)
        .args(args)
        .output()
        .expect("concord runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn origin(id: &str) -> Origin {
    Origin::new(&format!("pacific-alliance.concord/{id}")).expect("origin")
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Size and root of every log in a stopped node's store.
fn heads(fed: &Fed, id: &str) -> Vec<(String, u64, [u8; 32])> {
    let store = Store::open(&fed.home(id).db_path()).expect("open");
    store
        .logs()
        .expect("logs")
        .into_iter()
        .map(|(origin, head)| (origin.to_string(), head.size, head.root))
        .collect()
}

/// mx and cl publish (some payloads public, some for members only), an
/// observer witnesses, and cl ends up holding both logs with cosigned
/// checkpoints; then everything stops and cl purges expired denials.
fn federation() -> Fed {
    let fed = Fed::create("mx,cl,pe", "un1540");
    for id in ["mx", "cl", "un1540"] {
        fed.start(id);
    }
    let bodies: Vec<Vec<u8>> = samples()
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        let id = if i % 2 == 0 { "mx" } else { "cl" };
        let kind = match i % 3 {
            0 => "denial?visibility=public",
            1 => "denial?visibility=members",
            _ => "denial",
        };
        fed.publish(id, kind, body)
            .unwrap_or_else(|status| panic!("publish {i}: HTTP {status}"));
    }
    let mx_size = bodies.len().div_ceil(2) as u64;
    wait_until(
        Duration::from_secs(60),
        "cl holds mx's log, cosigned",
        || {
            fed.log_size("cl", origin("mx").as_str()) == mx_size
                && fed.get("cl", "/v1/status").is_some_and(|s| {
                    s["logs"].as_array().is_some_and(|logs| {
                        logs.iter().any(|l| {
                            l["origin"] == origin("mx").as_str()
                                && l["checkpoint_size"] == mx_size
                                && l["cosigned_by"].as_array().is_some_and(|c| !c.is_empty())
                        })
                    })
                })
        },
    );
    for id in ["mx", "cl", "un1540"] {
        fed.stop(id);
    }
    // By mid-2028 some sample denials have expired; purge cl's copies then.
    let store = Store::open(&fed.home("cl").db_path()).expect("open");
    let future = Date::parse("2028-06-01").expect("date");
    let then = 1_843_430_400; // 2028-06-01T00:00:00Z
    let purged = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(store.purge_expired(&future, 0, then))
        .expect("purge");
    assert!(purged > 0, "some payloads were purged");
    drop(store);
    fed
}

#[test]
fn bundles_travel_offline_and_every_changed_byte_is_found_at_its_line() {
    let fed = federation();
    let dir = tempfile::tempdir().expect("temp dir");
    let cl = fed.home("cl");
    let pe = fed.home("pe");
    let bundle = dir.path().join("cl.bundle");
    let out = concord(&[
        "export",
        "--home",
        path(&cl.dir),
        "--out",
        path(&bundle),
        "--for",
        "pe",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = report(&out);
    assert_eq!(exported["logs"].as_array().expect("logs").len(), 2);

    // Audited offline against the roster it carries: clean.
    let out = concord(&["audit", "--bundle", path(&bundle), "--json"]);
    let audited = report(&out);
    assert_eq!(out.status.code(), Some(0), "{audited:#}");
    let logs = audited["logs"].as_array().expect("logs");
    assert!(
        logs.iter()
            .all(|l| l["payloads_checked"].as_u64() > Some(0))
    );
    assert!(
        logs.iter()
            .any(|l| l["cosigners"].as_array().is_some_and(|c| !c.is_empty())),
        "{audited:#}"
    );

    // Every changed byte is found, at the line that holds it.
    let bytes = std::fs::read(&bundle).expect("read bundle");
    assert_flips_found(&bytes);

    // A changed bundle and a truncated one are refused whole by import.
    let mut flipped = bytes.clone();
    let entry_line = nth_line_start(&bytes, 2 + first_entry_line(&bytes));
    flipped[entry_line + 40] ^= 0x01;
    let bad = dir.path().join("flipped.bundle");
    std::fs::write(&bad, &flipped).expect("write");
    let out = concord(&["audit", "--bundle", path(&bad), "--json"]);
    assert_eq!(out.status.code(), Some(6));
    let findings = report(&out)["findings"].clone();
    let line = 3 + first_entry_line(&bytes) as u64;
    assert!(
        findings
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["line"] == line && f["index"].is_u64()),
        "expected a finding at line {line}: {findings:#}"
    );
    let truncated = dir.path().join("truncated.bundle");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    for refused in [&bad, &truncated] {
        let out = concord(&["import", "--home", path(&pe.dir), path(refused)]);
        assert_eq!(
            out.status.code(),
            Some(6),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was imported"));
        assert!(
            heads(&fed, "pe").iter().all(|(_, size, _)| *size == 0),
            "nothing stored"
        );
    }

    // The honest bundle imports into a member that was never online, which
    // then holds exactly cl's view of both logs and audits clean.
    let out = concord(&["import", "--home", path(&pe.dir), path(&bundle), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cl_heads = heads(&fed, "cl");
    let pe_heads: Vec<_> = heads(&fed, "pe")
        .into_iter()
        .filter(|(_, size, _)| *size > 0)
        .collect();
    assert_eq!(pe_heads, cl_heads);
    let out = concord(&["audit", "--home", path(&pe.dir), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{:#}", report(&out));
    // Importing again changes nothing.
    let out = concord(&["import", "--home", path(&pe.dir), path(&bundle), "--json"]);
    assert!(out.status.success());
    let again = report(&out);
    assert!(
        again["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .all(|l| l["appended"] == 0),
        "{again:#}"
    );

    // A headers-only bundle carries no payload and still audits clean.
    let headers = dir.path().join("headers.bundle");
    let out = concord(&[
        "export",
        "--home",
        path(&cl.dir),
        "--out",
        path(&headers),
        "--headers-only",
        "--log",
        "mx",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = concord(&["audit", "--bundle", path(&headers), "--json"]);
    let audited = report(&out);
    assert_eq!(out.status.code(), Some(0), "{audited:#}");
    assert_eq!(audited["logs"][0]["payloads_checked"], 0);
    assert_eq!(audited["logs"].as_array().expect("logs").len(), 1);
}

/// Line number (0-based) of the first entry line.
fn first_entry_line(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .position(|line| line.starts_with(b"{\"entry\":"))
        .expect("an entry line")
}

fn nth_line_start(bytes: &[u8], n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map(|(i, _)| i + 1)
        .expect("enough lines")
}

/// Flips one bit of many bytes, one at a time, and expects a finding at the
/// line holding the byte (its newline included). Short lines are tried at
/// every byte; long ones (base64 of payloads and rosters) near their ends
/// and at a stride.
fn assert_flips_found(bytes: &[u8]) {
    let mut tries = Vec::new();
    let mut line_no = 1u64;
    let mut line_start = 0;
    for i in 0..bytes.len() {
        let line_end = bytes[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |at| line_start + at);
        let long = line_end - line_start > 400;
        let near_edge = i < line_start + 24 || i + 24 > line_end;
        if !long || near_edge || i % 97 == 0 {
            tries.push((i, line_no));
        }
        if bytes[i] == b'\n' {
            line_no += 1;
            line_start = i + 1;
        }
    }
    assert!(tries.len() > 500, "{} flips to try", tries.len());
    std::thread::scope(|scope| {
        for part in tries.chunks(tries.len().div_ceil(2)) {
            scope.spawn(move || {
                for &(i, line_no) in part {
                    let mut changed = bytes.to_vec();
                    changed[i] ^= 0x01;
                    let audit = bundle::audit_reader(
                        &changed[..],
                        "flip",
                        None,
                        false,
                        &Progress::new(false),
                    )
                    .expect("in memory");
                    assert!(
                        audit
                            .report
                            .findings
                            .iter()
                            .any(|f| f.line == Some(line_no)),
                        "byte {i} (line {line_no}) changed: {:#?}",
                        audit.report.findings
                    );
                }
            });
        }
    });
}

/// mx's log of three denials whose second payload matches its signed
/// digest but is no denial. Integrity holds, so a plain audit is clean and
/// says records were not validated; `--records` finds that payload at its
/// index and line; import, which validates records as the replica path
/// does, refuses the bundle whole.
#[test]
fn a_signed_payload_that_is_no_record_is_found_with_records_and_refused_by_import() {
    use base64::Engine as _;
    use concord_node::bundle::{BundleWriter, FORMAT, Head};
    use concord_protocol::merkle::RootBuilder;

    let fed = Fed::create("mx,pe", "");
    let mx = fed.home("mx");
    let key = mx.identity().expect("identity").log_key.clone();
    let mx_log = origin("mx");
    let denial = std::fs::read(&samples()[0]).expect("sample");
    let payloads = [denial.clone(), br#"{"sample":1}"#.to_vec(), denial];
    let entries: Vec<_> = (0..)
        .zip(&payloads)
        .map(|(index, payload)| common::signed_denial(&mx_log, &key, index, payload))
        .collect();
    let mut tree = RootBuilder::default();
    for entry in &entries {
        tree.push(entry.leaf_hash());
    }
    let head = Head {
        audience: None,
        created: 1_763_935_400,
        exporter: mx_log.to_string(),
        federation: "pacific-alliance".into(),
        format: FORMAT.into(),
        headers_only: false,
        rosters: mx
            .roster_files()
            .expect("roster")
            .iter()
            .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
            .collect(),
    };
    let mut writer = BundleWriter::new(Vec::new(), &head).expect("head");
    common::begin_log(
        &mut writer,
        &mx_log,
        entries.len() as u64,
        tree.root(),
        &key,
    );
    for (entry, payload) in entries.iter().zip(&payloads) {
        writer.entry(entry, Some(payload)).expect("entry");
    }
    let bytes = writer.finish(&key, mx_log.as_str()).expect("end");
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path().join("mx.bundle");
    std::fs::write(&bundle, &bytes).expect("write");

    let out = concord(&["audit", "--bundle", path(&bundle), "--json"]);
    let plain = report(&out);
    assert_eq!(out.status.code(), Some(0), "{plain:#}");
    assert_eq!(plain["records_validated"], false);
    assert_eq!(plain["logs"][0]["payloads_checked"], 3);

    let out = concord(&["audit", "--bundle", path(&bundle), "--records", "--json"]);
    let deep = report(&out);
    assert_eq!(out.status.code(), Some(6), "{deep:#}");
    assert_eq!(deep["records_validated"], true);
    let findings = deep["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{deep:#}");
    assert_eq!(findings[0]["what"], "record_invalid");
    assert_eq!(findings[0]["index"], 1);
    assert_eq!(findings[0]["line"], 2 + first_entry_line(&bytes) as u64);

    let out = concord(&["import", "--home", path(&fed.home("pe").dir), path(&bundle)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("record_invalid") && stderr.contains("nothing was imported"));
    assert!(heads(&fed, "pe").iter().all(|(_, size, _)| *size == 0));
}
