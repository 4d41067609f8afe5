//! `concord audit` over a real store: clean when honest, and each kind of
//! tampering found and located.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use concord_node::home::Home;
use concord_node::store::{Store, keys};

const CONCORD: &str = env!("CARGO_BIN_EXE_concord");

fn concord(args: &[&str], home: &Path) -> Output {
    Command::new(CONCORD)
        .args(args)
        .arg("--home")
        .arg(home)
        .output()
        .expect("concord runs")
}

fn samples(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/records")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("samples")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// A member home with denials, a notice, an amendment and a revocation.
fn populated() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    let status = Command::new(CONCORD)
        .args(["testnet", "create", "--dir"])
        .arg(&root)
        .args(["--members", "mx,cl", "--observers", ""])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("testnet");
    assert!(status.success());
    let home = root.join("mx");
    for file in samples("denials")
        .iter()
        .take(4)
        .chain(samples("notices").iter().take(1))
    {
        let kind = if file.to_string_lossy().contains("notices") {
            "notice"
        } else {
            "denial"
        };
        let out = concord(
            &["publish", kind, "--file", file.to_str().expect("utf-8")],
            &home,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let denial: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&samples("denials")[0]).expect("read"))
            .expect("json");
    let amend = dir.path().join("amend.json");
    std::fs::write(
        &amend,
        serde_json::json!({"reason": "end user renamed", "denial": denial}).to_string(),
    )
    .expect("write");
    assert!(
        concord(
            &[
                "amend",
                "--index",
                "0",
                "--file",
                amend.to_str().expect("utf-8")
            ],
            &home
        )
        .status
        .success()
    );
    let revoke = dir.path().join("revoke.json");
    std::fs::write(&revoke, r#"{"reason":"appeal upheld","date":"2026-05-04"}"#).expect("write");
    assert!(
        concord(
            &[
                "revoke",
                "--index",
                "1",
                "--file",
                revoke.to_str().expect("utf-8")
            ],
            &home
        )
        .status
        .success()
    );
    (dir, home)
}

fn audit_json(home: &Path) -> (i32, serde_json::Value) {
    let out = concord(&["audit", "--json"], home);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report parses ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
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
    let human = concord(&["audit"], &home);
    assert!(String::from_utf8_lossy(&human.stdout).contains("CLEAN"));
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

#[test]
fn a_running_node_holds_the_store_and_audit_says_so() {
    let (_dir, home) = populated();
    let _store = Store::open(&Home::new(&home).db_path()).expect("open");
    let out = concord(&["audit"], &home);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop the node"));
}

/// The audit engine over one chunk of 200 entries, one signature batch: a
/// forged signature is named at its own index and nowhere else, and a
/// log of an observer, whose key signs no entries, is unauthorised at
/// every index.
#[test]
fn the_audit_engine_names_each_bad_signature_and_each_unauthorised_key_where_it_is() {
    use concord_node::audit::{CheckedChunk, Item, LogAudit};
    use concord_node::store::LogHead;
    use concord_node::testnet::{self, Plan};
    use concord_protocol::merkle::RootBuilder;
    use concord_protocol::origin::Origin;

    let dir = tempfile::tempdir().expect("temp dir");
    testnet::build(&Plan {
        dir: dir.path().to_path_buf(),
        members: vec!["cl".into()],
        observers: vec!["un1540:US".into()],
        federation: "pacific-alliance".into(),
        sync_interval_ms: 1000,
    })
    .expect("testnet");
    let roster = Home::new(&dir.path().join("cl")).roster().expect("roster");
    let payload = std::fs::read(&samples("denials")[0]).expect("sample");
    for (id, forged) in [("cl", Some(77u64)), ("un1540", None)] {
        let origin = Origin::for_member("pacific-alliance", id).expect("origin");
        let mut tree = RootBuilder::default();
        let items: Vec<Item> = signed_denials(dir.path(), id, 200, &payload)
            .into_iter()
            .zip(0u64..)
            .map(|(mut signed, index)| {
                if forged == Some(index) {
                    signed.signature[5] ^= 0x10;
                }
                tree.push(signed.leaf_hash());
                Item {
                    entry: signed,
                    header: None,
                    payload: None,
                    purge: None,
                    line: Some(index + 1),
                }
            })
            .collect();
        let chunk = CheckedChunk::new(&origin, &roster, 0, items, false);
        let mut audit = LogAudit::new(&roster, origin);
        audit.apply(chunk);
        let (_, findings) = audit.finish(
            LogHead {
                size: 200,
                root: tree.root(),
            },
            None,
        );
        let found: Vec<(&str, Option<u64>)> = findings.iter().map(|f| (f.what, f.index)).collect();
        match forged {
            Some(index) => assert_eq!(found, [("bad_signature", Some(index))]),
            None => {
                assert_eq!(found.len(), 200, "{found:?}");
                for (position, (what, index)) in found.iter().enumerate() {
                    assert_eq!((*what, *index), ("unauthorised_key", Some(position as u64)));
                }
            }
        }
    }
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
    let payload = std::fs::read(&samples("denials")[0]).expect("sample");
    let n = 2 * CHUNK as u64 + 100;
    let items: Vec<_> = signed_denials(dir.path(), "cl", n, &payload)
        .into_iter()
        .map(|signed| (signed, None))
        .collect();
    {
        let store = Store::open(&Home::new(&home).db_path()).expect("open");
        let outcome = store.ingest(&origin, items, &roster).expect("ingest");
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

/// Entries `0..n` of `id`'s log in the testnet under `dir`: denials of
/// `payload`, signed by its log key.
fn signed_denials(
    dir: &Path,
    id: &str,
    n: u64,
    payload: &[u8],
) -> Vec<concord_protocol::entry::SignedEntry> {
    let key = Home::new(&dir.join(id))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let origin =
        concord_protocol::origin::Origin::for_member("pacific-alliance", id).expect("origin");
    (0..n)
        .map(|index| common::signed_denial(&origin, &key, index, payload))
        .collect()
}
