//! `concord audit`, `export` and `import` over real stores and bundles: a
//! store is clean when honest, and each kind of tampering with it is found
//! and located; signed bundles travel between real nodes (exported from a
//! replica, audited offline, imported by a member that was never online),
//! every changed byte of one is found at its line, and a bundle with any
//! finding stores nothing.

#[path = "../node/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use concord_node::audit::Progress;
use concord_node::bundle;
use concord_node::home::Home;
use concord_node::store::{Store, keys};
use concord_protocol::origin::Origin;
use concord_protocol::record::Date;
use concord_scenarios::process::{Concord, Run};
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;

/// The binary Cargo built for these tests.
fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

/// `concord ARGS` to completion.
fn run(args: &[&str]) -> Run {
    concord().run(args)
}

/// `concord ARGS --home HOME` to completion.
fn cli(args: &[&str], home: &Path) -> Run {
    let mut command = concord().command();
    command.args(args).arg("--home").arg(home);
    Run::of(command)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn origin(id: &str) -> Origin {
    Origin::new(&format!("pacific-alliance.concord/{id}")).expect("origin")
}

fn report(out: &Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON report ({e}): {}{}", out.stdout, out.stderr))
}

/// Size and root of every log in a stopped node's store.
fn heads(net: &Testnet, id: &str) -> Vec<(String, u64, [u8; 32])> {
    let store = Store::open(&Home::new(&net.home(id)).db_path()).expect("open");
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
fn federation() -> Testnet {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "cl", "pe"], &["un1540"]).sync_interval_ms(300),
    );
    for id in ["mx", "cl", "un1540"] {
        net.start(id);
    }
    let denials = records::denials();
    for (i, denial) in denials.iter().enumerate() {
        let (id, state) = if i % 2 == 0 {
            ("mx", "MX")
        } else {
            ("cl", "CL")
        };
        let body = &denial.stated_by(state);
        let kind = match i % 3 {
            0 => "denial?visibility=public",
            1 => "denial?visibility=members",
            _ => "denial",
        };
        net.api(id).publish(kind, body);
    }
    let mx_size = denials.len().div_ceil(2) as u64;
    wait_until(
        Duration::from_secs(60),
        "cl holds mx's log, cosigned",
        || {
            net.status("cl")["logs"].as_array().is_some_and(|logs| {
                logs.iter().any(|l| {
                    l["origin"] == origin("mx").as_str()
                        && l["size"] == mx_size
                        && l["checkpoint_size"] == mx_size
                        && l["cosigned_by"].as_array().is_some_and(|c| !c.is_empty())
                })
            })
        },
    );
    for id in ["mx", "cl", "un1540"] {
        net.stop(id);
    }
    // By mid-2028 some sample denials have expired; purge cl's copies then.
    let store = Store::open(&Home::new(&net.home("cl")).db_path()).expect("open");
    let future = Date::parse("2028-06-01").expect("date");
    let then = 1_843_430_400; // 2028-06-01T00:00:00Z
    let purged = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(store.purge_expired(&future, 0, then))
        .expect("purge");
    assert!(purged > 0, "some payloads were purged");
    drop(store);
    net
}

/// Also: a payload or a cosignature stripped from a bundle made `--for pe`
/// is refused by `concord audit --bundle` and by `concord import`.
#[test]
fn bundles_travel_offline_and_every_changed_byte_is_found_at_its_line() {
    let net = federation();
    let dir = tempfile::tempdir().expect("temp dir");
    let cl = net.home("cl");
    let pe = net.home("pe");
    let bundle = dir.path().join("cl.bundle");
    let out = run(&[
        "export",
        "--home",
        path(&cl),
        "--out",
        path(&bundle),
        "--for",
        "pe",
        "--json",
    ]);
    assert!(out.code == Some(0), "{}", out.stderr);
    let exported = report(&out);
    assert_eq!(exported["logs"].as_array().expect("logs").len(), 2);

    // Audited offline against the roster it carries: clean.
    let out = run(&["audit", "--bundle", path(&bundle), "--json"]);
    let audited = report(&out);
    assert_eq!(out.code, Some(0), "{audited:#}");
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
    let out = run(&["audit", "--bundle", path(&bad), "--json"]);
    assert_eq!(out.code, Some(6));
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
    // Entry and checkpoint lines are not under the end line's digests: a
    // signature changed only in its padding bits, which a lenient base64
    // decoder would read as the same bytes, is found at its line.
    let text = String::from_utf8(bytes.clone()).expect("a bundle is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    let checkpoint_line = lines
        .iter()
        .position(|l| l.starts_with("{\"note\":"))
        .expect("a checkpoint line");
    let entry_line = first_entry_line(&bytes);
    let signature_at = |line: &str| {
        let field = "\"signature\":\"";
        line.find(field).expect("a signature") + field.len()
    };
    // The first signature line of the note, after its key name.
    let note_signature_at = |line: &str| {
        let block = "\\n\\n— ";
        let name = line.find(block).expect("a signature line") + block.len();
        name + line[name..].find(' ').expect("a key name") + 1
    };
    for (line_idx, at) in [
        (entry_line, signature_at(lines[entry_line])),
        (checkpoint_line, note_signature_at(lines[checkpoint_line])),
    ] {
        let mut changed: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        common::set_padding_bit(&mut changed[line_idx], at);
        let padded = dir.path().join("padding.bundle");
        std::fs::write(&padded, changed.join("\n") + "\n").expect("write");
        let out = run(&["audit", "--bundle", path(&padded), "--json"]);
        assert_eq!(out.code, Some(6), "{}", out.stderr);
        let findings = report(&out)["findings"].clone();
        let line = line_idx as u64 + 1;
        assert!(
            findings
                .as_array()
                .expect("findings")
                .iter()
                .any(|f| f["line"] == line),
            "expected a finding at line {line}: {findings:#}"
        );
    }
    let truncated = dir.path().join("truncated.bundle");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    // A payload, or a witness's cosignature, removed on the way: what
    // remains of the entry and the checkpoint still verifies, but the
    // exporter signed what it sent.
    let (no_payload, no_cosignature) = stripped(&text);
    let mut refused = vec![bad, truncated];
    for (name, changed, what) in [
        ("no-payload.bundle", no_payload, "payload_missing"),
        (
            "no-cosignature.bundle",
            no_cosignature,
            "checkpoints_changed",
        ),
    ] {
        let changed_path = dir.path().join(name);
        std::fs::write(&changed_path, changed).expect("write");
        let out = run(&["audit", "--bundle", path(&changed_path), "--json"]);
        assert_eq!(out.code, Some(6), "{}", out.stderr);
        let found = report(&out)["findings"].clone();
        assert!(
            found
                .as_array()
                .expect("findings")
                .iter()
                .any(|f| f["what"] == what),
            "{name}: expected {what}: {found:#}"
        );
        refused.push(changed_path);
    }
    for refused in &refused {
        let out = run(&["import", "--home", path(&pe), path(refused)]);
        assert_eq!(out.code, Some(6), "{}", out.stderr);
        assert!(out.stderr.contains("nothing was imported"));
        assert!(
            heads(&net, "pe").iter().all(|(_, size, _)| *size == 0),
            "nothing stored"
        );
    }

    // The honest bundle imports into a member that was never online, which
    // then holds exactly cl's view of both logs and audits clean.
    let out = run(&["import", "--home", path(&pe), path(&bundle), "--json"]);
    assert!(out.code == Some(0), "{}", out.stderr);
    let cl_heads = heads(&net, "cl");
    let pe_heads: Vec<_> = heads(&net, "pe")
        .into_iter()
        .filter(|(_, size, _)| *size > 0)
        .collect();
    assert_eq!(pe_heads, cl_heads);
    let out = run(&["audit", "--home", path(&pe), "--json"]);
    assert_eq!(out.code, Some(0), "{:#}", report(&out));
    // Importing again changes nothing.
    let out = run(&["import", "--home", path(&pe), path(&bundle), "--json"]);
    assert!(out.code == Some(0));
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
    let out = run(&[
        "export",
        "--home",
        path(&cl),
        "--out",
        path(&headers),
        "--headers-only",
        "--log",
        "mx",
    ]);
    assert!(out.code == Some(0), "{}", out.stderr);
    let out = run(&["audit", "--bundle", path(&headers), "--json"]);
    let audited = report(&out);
    assert_eq!(out.code, Some(0), "{audited:#}");
    assert_eq!(audited["logs"][0]["payloads_checked"], 0);
    assert_eq!(audited["logs"].as_array().expect("logs").len(), 1);

    // One line deleted: the report names the cause first and counts what
    // follows from it, rather than a page of findings.
    let entry_line = first_entry_line(text.as_bytes());
    let deleted: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != entry_line)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let deleted_path = dir.path().join("deleted.bundle");
    std::fs::write(&deleted_path, deleted).expect("write");
    let out = run(&["audit", "--bundle", path(&deleted_path), "--json"]);
    assert_eq!(out.code, Some(6), "{}", out.stderr);
    let cascade = report(&out);
    let findings = cascade["findings"].as_array().expect("findings").len();
    assert!(
        findings > 2,
        "a deleted line puts more out of place: {cascade:#}"
    );
    let groups = cascade["groups"].as_array().expect("groups");
    let grouped: usize = groups
        .iter()
        .map(|g| g["follows"].as_array().expect("follows").len())
        .sum();
    assert!(grouped >= findings - groups.len() - 1, "{cascade:#}");
    let text_report = run(&["audit", "--bundle", path(&deleted_path)]);
    let shown = text_report.stdout.matches("FINDING").count();
    assert!(
        shown < findings && text_report.stdout.contains("that follow from it"),
        "{}",
        text_report.stdout
    );
}

/// `text` (a bundle) without the payload of its first entry line that has
/// one, and without the un1540 cosignature of its first checkpoint line
/// that has one.
fn stripped(text: &str) -> (String, String) {
    let payload_field = ",\"payload\":\"";
    let payload_at = text
        .find(payload_field)
        .expect("an entry line with a payload");
    let payload_end = payload_at
        + payload_field.len()
        + text[payload_at + payload_field.len()..]
            .find('"')
            .expect("the payload's end")
        + 1;
    let no_payload = format!("{}{}", &text[..payload_at], &text[payload_end..]);
    let witness = "— pacific-alliance.concord/un1540 ";
    let cosignature_at = text.find(witness).expect("a cosigned checkpoint");
    let cosignature_end = cosignature_at + text[cosignature_at..].find("\\n").expect("its end") + 2;
    let no_cosignature = format!("{}{}", &text[..cosignature_at], &text[cosignature_end..]);
    (no_payload, no_cosignature)
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
                        concord_node::clock::now(),
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

/// A `concord-bundle/v1` bundle, as exporters wrote before v2, still
/// audits (with a note that it does not sign which payloads and
/// cosignatures it carries) and imports.
#[test]
fn a_v1_bundle_still_audits_and_imports() {
    use concord_node::bundle::{BundleWriter, Head, Version};
    use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint, cosign};
    use concord_protocol::merkle::RootBuilder;

    let net = Testnet::create(&concord(), &["mx", "pe"], &["un1540"]);
    let mx = Home::new(&net.home("mx"));
    let key = mx.identity().expect("identity").log_key.clone();
    let witness_key = Home::new(&net.home("un1540"))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let mx_log = origin("mx");
    let denial = records::denials_of("MX").swap_remove(0);
    let entries: Vec<_> = (0..3)
        .map(|index| common::signed_denial(&mx_log, &key, index, &denial))
        .collect();
    let mut tree = RootBuilder::default();
    for entry in &entries {
        tree.push(entry.leaf_hash());
    }
    let mut checkpoint =
        SignedCheckpoint::sign(Checkpoint::new(mx_log.clone(), 3, tree.root()), &key);
    checkpoint
        .add_cosignature(cosign(
            &checkpoint,
            origin("un1540").as_str(),
            &witness_key,
            1_763_935_300,
        ))
        .expect("room");
    let head = Head {
        format: Version::V1.format().into(),
        ..common::exporter_head(&mx, &mx_log)
    };
    let mut writer = BundleWriter::new(Vec::new(), &head).expect("head");
    writer
        .log(
            &mx_log,
            concord_node::store::LogHead {
                size: 3,
                root: tree.root(),
            },
        )
        .expect("log");
    writer.checkpoint(&checkpoint).expect("checkpoint");
    for entry in &entries {
        writer.entry(entry, Some(&denial)).expect("entry");
    }
    let bytes = writer.finish(&key, mx_log.as_str()).expect("end");
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path().join("mx-v1.bundle");
    std::fs::write(&bundle, &bytes).expect("write");

    let out = run(&["audit", "--bundle", path(&bundle), "--json"]);
    let audited = report(&out);
    assert_eq!(out.code, Some(0), "{audited:#}");
    assert_eq!(audited["logs"][0]["payloads_checked"], 3);
    assert_eq!(
        audited["logs"][0]["cosigners"].as_array().map(Vec::len),
        Some(1)
    );
    let notes = audited["notes"].as_array().expect("notes");
    assert!(
        notes.len() == 1
            && notes[0]
                .as_str()
                .is_some_and(|n| n.starts_with("concord-bundle/v1: ")),
        "{audited:#}"
    );
    let out = run(&["audit", "--bundle", path(&bundle)]);
    assert!(
        out.stdout.contains("NOTE concord-bundle/v1: "),
        "{}",
        out.stdout
    );

    let out = run(&["import", "--home", path(&net.home("pe")), path(&bundle)]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("note: concord-bundle/v1: "),
        "{}",
        out.stderr
    );
    let pe_heads = heads(&net, "pe");
    assert!(
        pe_heads
            .iter()
            .any(|(o, size, root)| o == mx_log.as_str() && *size == 3 && *root == tree.root()),
        "{pe_heads:?}"
    );
}

/// mx's log of three denials whose second payload matches its signed
/// digest but is no denial. Integrity holds, so a plain audit is clean and
/// says records were not validated; `--records` finds that payload at its
/// index and line; import, which validates records as the replica path
/// does, refuses the bundle whole.
#[test]
fn a_signed_payload_that_is_no_record_is_found_with_records_and_refused_by_import() {
    use concord_node::bundle::BundleWriter;
    use concord_protocol::merkle::RootBuilder;

    let net = Testnet::create(&concord(), &["mx", "pe"], &[]);
    let mx = Home::new(&net.home("mx"));
    let key = mx.identity().expect("identity").log_key.clone();
    let mx_log = origin("mx");
    let denial = records::denials_of("MX").swap_remove(0);
    let payloads = [denial.clone(), br#"{"sample":1}"#.to_vec(), denial];
    let entries: Vec<_> = (0..)
        .zip(&payloads)
        .map(|(index, payload)| common::signed_denial(&mx_log, &key, index, payload))
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
    for (entry, payload) in entries.iter().zip(&payloads) {
        writer.entry(entry, Some(payload)).expect("entry");
    }
    let bytes = writer.finish(&key, mx_log.as_str()).expect("end");
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path().join("mx.bundle");
    std::fs::write(&bundle, &bytes).expect("write");

    let out = run(&["audit", "--bundle", path(&bundle), "--json"]);
    let plain = report(&out);
    assert_eq!(out.code, Some(0), "{plain:#}");
    assert_eq!(plain["records_validated"], false);
    assert_eq!(plain["logs"][0]["payloads_checked"], 3);

    let out = run(&["audit", "--bundle", path(&bundle), "--records", "--json"]);
    let deep = report(&out);
    assert_eq!(out.code, Some(6), "{deep:#}");
    assert_eq!(deep["records_validated"], true);
    let findings = deep["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{deep:#}");
    assert_eq!(findings[0]["what"], "record_invalid");
    assert_eq!(findings[0]["index"], 1);
    assert_eq!(findings[0]["line"], 2 + first_entry_line(&bytes) as u64);

    let out = run(&["import", "--home", path(&net.home("pe")), path(&bundle)]);
    let stderr = &out.stderr;
    assert_eq!(out.code, Some(6), "{stderr}");
    assert!(stderr.contains("record_invalid") && stderr.contains("nothing was imported"));
    assert!(heads(&net, "pe").iter().all(|(_, size, _)| *size == 0));
}

/// A member home (of a testnet that lives as long as the first value)
/// with denials, a notice, an amendment and a revocation.
fn populated() -> (Testnet, PathBuf) {
    let net = Testnet::create(&concord(), &["mx", "cl"], &[]);
    let home = net.home("mx");
    let samples = records::samples();
    let denials = samples.iter().filter(|r| r.kind == "denial").take(4);
    let notice = samples
        .iter()
        .find(|r| r.kind == "notice")
        .expect("a notice");
    // Written into mx's stopped store, with no peer running to confirm
    // its log with: the operator accepts the risk.
    for record in denials.chain([notice]) {
        let file = net.root().join(&record.name);
        std::fs::write(&file, record.stated_by("MX")).expect("write");
        cli(
            &[
                "publish",
                record.kind,
                "--file",
                path(&file),
                "--accept-fork-risk",
            ],
            &home,
        )
        .ok();
    }
    let denial: serde_json::Value =
        serde_json::from_slice(&samples[0].stated_by("MX")).expect("json");
    let amend = net.root().join("amend.json");
    std::fs::write(
        &amend,
        serde_json::json!({"reason": "end user renamed", "denial": denial}).to_string(),
    )
    .expect("write");
    cli(
        &[
            "amend",
            "--index",
            "0",
            "--file",
            path(&amend),
            "--accept-fork-risk",
        ],
        &home,
    )
    .ok();
    let revoke = net.root().join("revoke.json");
    std::fs::write(&revoke, r#"{"reason":"appeal upheld","date":"2026-05-04"}"#).expect("write");
    cli(
        &[
            "revoke",
            "--index",
            "1",
            "--file",
            path(&revoke),
            "--accept-fork-risk",
        ],
        &home,
    )
    .ok();
    (net, home)
}

fn audit_json(home: &Path) -> (i32, serde_json::Value) {
    let out = cli(&["audit", "--json"], home);
    (out.code.expect("exit code"), report(&out))
}

fn finding_codes(report: &serde_json::Value) -> Vec<(String, Option<u64>)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["what"].as_str().expect("what").to_owned(),
                f["index"].as_u64(),
            )
        })
        .collect()
}

/// Changes one byte of the raw value under `key` in the store's data tree,
/// at `offset` from the value's start.
fn tamper(home: &Path, key: &[u8], offset: usize) {
    tamper_with(home, key, |value| value[offset] ^= 0x01);
}

/// Rewrites the raw value under `key` in the store's data tree.
fn tamper_with(home: &Path, key: &[u8], change: impl FnOnce(&mut Vec<u8>)) {
    raw_data(home, |data| {
        let mut value = data
            .get(key)
            .expect("read")
            .expect("the key exists")
            .to_vec();
        change(&mut value);
        data.insert(key, value).expect("write");
    });
}

/// Runs `change` on the store's data tree opened raw, then flushes it.
fn raw_data(home: &Path, change: impl FnOnce(&sled::Tree)) {
    let db = common::raw_sled(&Home::new(home).db_path());
    change(&db.open_tree("data").expect("data"));
    db.flush().expect("flush");
}

/// The key of the page holding entry `index` of the first log the store
/// registered (its own log once it published): id 0.
fn page_key(index: u64) -> [u8; 13] {
    keys::entry_page_key(0, index / 16)
}

/// Changes one byte of entry `index`'s record, at `offset` from its start.
fn tamper_entry(home: &Path, index: u64, offset: usize) {
    tamper_with(home, &page_key(index), |page| {
        let at = common::entry_in_page(page, index) + offset;
        page[at] ^= 0x01;
    });
}

#[test]
fn an_honest_store_audits_clean() {
    let (_dir, home) = populated();
    let (code, report) = audit_json(&home);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verdict"], "clean");
    assert_eq!(report["logs"][0]["size"], 7);
    let human = cli(&["audit"], &home);
    assert!(human.stdout.contains("CLEAN"), "{}", human.stdout);
}

#[test]
fn a_changed_signature_byte_is_found_at_its_index() {
    let (_dir, home) = populated();
    tamper_entry(&home, 2, 10);
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6);
    assert!(
        finding_codes(&report).contains(&("bad_signature".into(), Some(2))),
        "{report:#}"
    );
}

#[test]
fn a_changed_payload_byte_is_found_at_its_index() {
    let (_dir, home) = populated();
    let store = Store::open(&Home::new(&home).db_path()).expect("open");
    let origin =
        concord_protocol::origin::Origin::new("pacific-alliance.concord/mx").expect("origin");
    let header = store
        .entry(&origin, 3)
        .expect("read")
        .expect("entry")
        .decode_header()
        .expect("header");
    drop(store);
    let mut key = vec![b'P'];
    key.extend_from_slice(&header.payload.sha256.0);
    tamper(&home, &key, 20);
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6);
    assert!(
        finding_codes(&report).contains(&("payload_digest".into(), Some(3))),
        "{report:#}"
    );
}

fn checkpoint_key(size: u64) -> Vec<u8> {
    let mut key = vec![b'C'];
    key.extend_from_slice(&0u32.to_be_bytes());
    key.extend_from_slice(&size.to_be_bytes());
    key
}

/// Offset of a character inside the root line of the stored note (origin
/// line, size line, root).
const ROOT_CHAR: usize = "pacific-alliance.concord/mx\n7\n".len() + 3;

#[test]
fn a_changed_checkpoint_root_is_found() {
    let (_dir, home) = populated();
    // Another base64 letter: the note still parses, but names another root.
    tamper_with(&home, &checkpoint_key(7), |value| {
        value[ROOT_CHAR] = if value[ROOT_CHAR] == b'A' { b'B' } else { b'A' };
    });
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6);
    let codes = finding_codes(&report);
    assert!(
        codes.iter().any(|(what, _)| what == "checkpoint_signature"),
        "{report:#}"
    );
}

#[test]
fn a_checkpoint_that_no_longer_parses_is_found() {
    let (_dir, home) = populated();
    // Not a base64 character: the note itself is broken.
    tamper_with(&home, &checkpoint_key(7), |value| value[ROOT_CHAR] = b'!');
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6, "{report:#}");
    assert!(
        finding_codes(&report).contains(&("checkpoint_malformed".into(), None)),
        "{report:#}"
    );
    assert_eq!(
        report["logs"][0]["size"], 7,
        "the entries are still audited"
    );
}

#[test]
fn purges_are_checked_against_retention() {
    let (_dir, home) = populated();
    let store = Store::open(&Home::new(&home).db_path()).expect("open");
    let origin =
        concord_protocol::origin::Origin::new("pacific-alliance.concord/mx").expect("origin");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Entry 2 is a denial still in force: purging it breaks the rule.
    assert!(
        runtime
            .block_on(store.purge_payload(&origin, 2, "operator error", 1_795_000_000))
            .expect("purge")
    );
    drop(store);
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6);
    assert!(
        finding_codes(&report).contains(&("purge_before_expiry".into(), Some(2))),
        "{report:#}"
    );
}

/// A store held by a process whose API does not answer (a node still
/// starting, or stuck): the audit is asked of the node, which cannot be
/// reached, rather than of a store another process writes.
#[test]
fn a_held_store_whose_node_does_not_answer_is_unavailable_to_audit() {
    let (_dir, home) = populated();
    let _store = Store::open(&Home::new(&home).db_path()).expect("open");
    let out = cli(&["audit"], &home);
    assert_eq!(out.code, Some(5));
    assert!(out.stderr.contains("cannot be reached"), "{}", out.stderr);
}

/// A replica log of more chunks than the audit checks at once: a changed
/// signature in the second chunk and an entry missing from the third are
/// each found where they are, in index order, and the audit stops at the
/// gap.
#[test]
fn an_audit_of_a_store_of_many_chunks_finds_each_problem_where_it_is() {
    use concord_node::audit::CHUNK;
    use concord_node::testnet::{self, Plan};
    use concord_protocol::origin::Origin;

    let dir = tempfile::tempdir().expect("temp dir");
    testnet::build(&Plan {
        dir: dir.path().to_path_buf(),
        members: vec!["mx".into(), "cl".into()],
        observers: vec![],
        federation: "pacific-alliance".into(),
        sync_interval_ms: 1000,
    })
    .expect("testnet");
    let home = dir.path().join("mx");
    let roster = Home::new(&home).roster().expect("roster");
    let origin = Origin::for_member("pacific-alliance", "cl").expect("origin");
    let payload = records::denials().swap_remove(0).bytes;
    let n = 2 * CHUNK as u64 + 100;
    let items: Vec<_> = common::signed_denials(dir.path(), "cl", n, &payload)
        .into_iter()
        .map(|signed| (signed, None))
        .collect();
    {
        let store = Store::open(&Home::new(&home).db_path()).expect("open");
        let outcome = store
            .ingest(&origin, items, &roster, concord_node::clock::now())
            .expect("ingest");
        assert_eq!(outcome.appended, n);
        store.flush_blocking().expect("flush");
    }
    let (code, report) = audit_json(&home);
    assert_eq!(code, 0, "{report:#}");

    // mx has published nothing: cl's is the first log the store met, id 0.
    // The entries from `missing` on are lost with their page.
    let (changed, missing) = (CHUNK as u64 + 5, 2 * CHUNK as u64 + 48);
    tamper_entry(&home, changed, 10);
    raw_data(&home, |data| {
        data.remove(page_key(missing))
            .expect("remove")
            .expect("the page was there");
    });
    let (code, report) = audit_json(&home);
    assert_eq!(code, 6, "{report:#}");
    let found = finding_codes(&report);
    let at = |what: &str, index| found.iter().position(|f| *f == (what.into(), Some(index)));
    let signature = at("bad_signature", changed).unwrap_or_else(|| panic!("{report:#}"));
    let gap = at("index_gap", missing).unwrap_or_else(|| panic!("{report:#}"));
    assert!(signature < gap, "{report:#}");
    assert!(
        found
            .iter()
            .all(|(_, index)| index.is_none_or(|i| i <= missing)),
        "{report:#}"
    );
}
