//! The command line's refusals: bad records change nothing, through the store
//! and through the running node's API alike; a full disk fails publishes
//! clearly and loses nothing acknowledged; a held store and missing secrets
//! are named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use concord_node::home::Home;

use common::start_node;

const CONCORD: &str = env!("CARGO_BIN_EXE_concord");

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(CONCORD)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("concord runs");
    let input = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let mut pipe = child.stdin.take().expect("stdin");
    std::thread::spawn(move || {
        use std::io::Write as _;
        let _ = pipe.write_all(&input);
    });
    child.wait_with_output().expect("output")
}

fn testnet(root: &Path, members: &str) {
    let out = run(
        &[
            "testnet",
            "create",
            "--dir",
            root.to_str().expect("utf-8"),
            "--members",
            members,
            "--observers",
            "",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn log_size(home: &Path) -> u64 {
    let out = run(
        &["status", "--json", "--home", home.to_str().expect("utf-8")],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
    status["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|l| l["size"].as_u64())
        .sum()
}

fn records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records")
}

/// (name, kind, bytes, what the error must say) for every class of bad input.
fn bad_inputs() -> Vec<(String, String, Vec<u8>, String)> {
    let good = std::fs::read(
        records_dir()
            .join("denials")
            .read_dir()
            .expect("dir")
            .next()
            .expect("a sample")
            .expect("entry")
            .path(),
    )
    .expect("read");
    let mut cases = vec![
        (
            "malformed".into(),
            "denial".into(),
            b"{\"denying_state\": \"MX\",, }".to_vec(),
            "line 1".into(),
        ),
        (
            "truncated".into(),
            "denial".into(),
            good[..good.len() / 2].to_vec(),
            "EOF".into(),
        ),
        (
            "binary".into(),
            "denial".into(),
            vec![0xff, 0xfe, 0x00, 0x9c, 0x01],
            "UTF-8".into(),
        ),
        (
            "oversized".into(),
            "denial".into(),
            vec![b' '; 600 * 1024],
            "larger".into(),
        ),
        (
            "unknown kind".into(),
            "permit".into(),
            good.clone(),
            "unknown record kind".into(),
        ),
    ];
    let mut unknown: serde_json::Value = serde_json::from_slice(&good).expect("json");
    unknown["sharing_notes"] = serde_json::json!("extra");
    cases.push((
        "unknown field".into(),
        "denial".into(),
        unknown.to_string().into_bytes(),
        "unknown field `sharing_notes`".into(),
    ));
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(records_dir().join("invalid/expected.json")).expect("read"),
    )
    .expect("json");
    for (file, want) in expected.as_object().expect("object") {
        let bytes = std::fs::read(records_dir().join("invalid").join(file)).expect("read");
        cases.push((
            file.clone(),
            want["kind"].as_str().expect("kind").into(),
            bytes,
            want["error_contains"].as_str().expect("text").into(),
        ));
    }
    cases
}

fn assert_refused(home: &Path, path: &str) {
    let home_arg = home.to_str().expect("utf-8");
    for (name, kind, bytes, says) in bad_inputs() {
        let out = run(
            &["publish", &kind, "--home", home_arg, "--file", "-"],
            Some(&bytes),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{path}: {name} was not refused as input: {stderr}"
        );
        assert!(
            stderr.contains(&says),
            "{path}: {name}: the error does not say {says:?}: {stderr}"
        );
    }
}

#[test]
fn bad_records_are_refused_and_change_nothing_offline_and_online() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    testnet(&root, "mx");
    let home = root.join("mx");
    let good = records_dir()
        .join("denials")
        .read_dir()
        .expect("dir")
        .next()
        .expect("sample")
        .expect("entry")
        .path();
    let published = run(
        &[
            "publish",
            "denial",
            "--home",
            home.to_str().expect("utf-8"),
            "--file",
            good.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(published.status.success());
    assert_refused(&home, "store");
    assert_eq!(log_size(&home), 1);
    let _node = start_node(&home);
    assert_refused(&home, "api");
    assert_eq!(log_size(&home), 1);
}

#[test]
fn a_held_store_missing_secrets_and_unknown_positions_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    testnet(&root, "mx");
    let home = root.join("mx");
    let home_arg = home.to_str().expect("utf-8");
    let node = start_node(&home);
    let second = run(&["run", "--home", home_arg], None);
    assert_eq!(
        second.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));
    let missing = run(
        &["show", "--home", home_arg, "--log", "mx", "--index", "9"],
        None,
    );
    assert_eq!(missing.status.code(), Some(4));
    let unknown = run(
        &["show", "--home", home_arg, "--log", "zz", "--index", "0"],
        None,
    );
    assert_eq!(unknown.status.code(), Some(4));
    drop(node);

    let fresh = dir.path().join("fresh");
    let init = Command::new(CONCORD)
        .args(["init", "--home"])
        .arg(&fresh)
        .args([
            "--id",
            "mx-se",
            "--name",
            "Secretaría de Economía",
            "--country",
            "MX",
        ])
        .env_remove("CONCORD_PASSPHRASE")
        .output()
        .expect("init runs");
    assert_eq!(
        init.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(String::from_utf8_lossy(&init.stderr).contains("CONCORD_PASSPHRASE"));
    let init = Command::new(CONCORD)
        .args(["init", "--home"])
        .arg(&fresh)
        .args([
            "--id",
            "mx-se",
            "--name",
            "Secretaría de Economía",
            "--country",
            "MX",
        ])
        .env("CONCORD_PASSPHRASE", "correct horse battery staple")
        .output()
        .expect("init runs");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(fresh.join("identity.key"))
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let wrong = Command::new(CONCORD)
        .args(["run", "--home"])
        .arg(&fresh)
        .env("CONCORD_PASSPHRASE", "wrong")
        .output()
        .expect("status runs");
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("passphrase"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

/// A small tmpfs under the store: publishes fail with exit 7 once it is full,
/// and everything acknowledged before is there after room is made.
#[test]
fn a_full_disk_fails_publishes_clearly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    testnet(&root, "mx");
    let home = root.join("mx");
    let db = Home::new(&home).db_path();
    std::fs::create_dir_all(&db).expect("db dir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&db)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert_eq!(
            std::env::var("CONCORD_TEST_NO_MOUNT").as_deref(),
            Ok("1"),
            "mounting a tmpfs needs root; set CONCORD_TEST_NO_MOUNT=1 to skip this test knowingly"
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(db.clone());
    // A filler file leaves little room; removing it later makes room again.
    let filler = db.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=4"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let home_arg = home.to_str().expect("utf-8");
    let samples: Vec<PathBuf> = records_dir()
        .join("denials")
        .read_dir()
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    let mut acknowledged = Vec::new();
    let mut failure = None;
    for attempt in 0..4000 {
        let file = &samples[attempt % samples.len()];
        let out = run(
            &[
                "publish",
                "denial",
                "--json",
                "--home",
                home_arg,
                "--file",
                file.to_str().expect("utf-8"),
            ],
            None,
        );
        if out.status.success() {
            let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            acknowledged.push((
                answer["index"].as_u64().expect("index"),
                answer["leaf_hash"].as_str().expect("leaf").to_owned(),
            ));
        } else {
            failure = Some(out);
            break;
        }
    }
    let failure = failure.expect("the disk filled up");
    let stderr = String::from_utf8_lossy(&failure.stderr);
    assert_eq!(
        failure.status.code(),
        Some(7),
        "not a storage failure: {stderr}"
    );
    assert!(!acknowledged.is_empty());
    std::fs::remove_file(&filler).expect("make room");
    let store =
        concord_node::store::Store::open(&db).expect("the store opens after the disk filled");
    let origin =
        concord_protocol::origin::Origin::new("pacific-alliance.concord/mx").expect("origin");
    for (index, leaf) in &acknowledged {
        use base64::Engine as _;
        let entry = store
            .entry(&origin, *index)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged entry {index} lost"));
        assert_eq!(
            &base64::engine::general_purpose::STANDARD.encode(entry.leaf_hash()),
            leaf
        );
    }
    drop(store);
    let audit = run(&["audit", "--home", home_arg], None);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}
