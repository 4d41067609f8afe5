//! Durability under SIGKILL: a node publishing a burst from many concurrent
//! clients is killed at random moments, again and again; after each restart
//! every acknowledged entry is present at its acknowledged index with its
//! acknowledged leaf hash, the log is contiguous, its root matches a
//! recomputation, and `concord audit` is clean.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::Store;
use concord_protocol::entry::Visibility;
use concord_protocol::merkle::RootBuilder;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Kind, Record};

use common::{create_testnet, start_node};

const CONCORD: &str = env!("CARGO_BIN_EXE_concord");
const CLIENTS: usize = 16;
const ROUNDS: usize = 8;

/// A small seeded generator: the kill moments are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn samples() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records/denials");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("samples")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect()
}

/// (index, base64 leaf hash) of every acknowledged publish.
type Acks = Arc<Mutex<Vec<(u64, String)>>>;

fn publish_until_killed(
    home: &Path,
    stop: &Arc<AtomicBool>,
    acks: &Acks,
) -> Vec<std::thread::JoinHandle<()>> {
    let config = Home::new(home).config().expect("config");
    let token = Home::new(home).token().expect("token");
    let records = Arc::new(samples());
    (0..CLIENTS)
        .map(|client| {
            let (stop, acks, records, token) =
                (stop.clone(), acks.clone(), records.clone(), token.clone());
            let url = format!("http://{}/v1/records/denial", config.api.listen);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let mut i = client;
                while !stop.load(Ordering::Relaxed) {
                    let body = &records[i % records.len()];
                    i += 1;
                    let Ok(mut response) = agent
                        .post(&url)
                        .header("Authorization", format!("Bearer {token}"))
                        .header("Content-Type", "application/json")
                        .send(&body[..])
                    else {
                        continue;
                    };
                    if response.status() == 201
                        && let Ok(text) = response.body_mut().read_to_string()
                        && let Ok(answer) = serde_json::from_str::<serde_json::Value>(&text)
                    {
                        let index = answer["index"].as_u64().expect("index");
                        let leaf = answer["leaf_hash"].as_str().expect("leaf").to_owned();
                        acks.lock().expect("acks").push((index, leaf));
                    }
                }
            })
        })
        .collect()
}

/// `concord audit` finds nothing in the store of `home` after `when`.
fn assert_audit_clean(home: &Path, when: &str) {
    let audit = Command::new(CONCORD)
        .args(["audit", "--home"])
        .arg(home)
        .output()
        .expect("audit runs");
    assert!(
        audit.status.success(),
        "audit after {when}: {}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

fn check_store(home: &Path, acks: &[(u64, String)]) -> u64 {
    let store = Store::open(&Home::new(home).db_path()).expect("the store opens after SIGKILL");
    let origin = Origin::new("pacific-alliance.concord/mx").expect("origin");
    let head = store.head(&origin).expect("head");
    let entries = store.entries(&origin, 0, head.size).expect("entries");
    assert_eq!(entries.len() as u64, head.size, "the log is contiguous");
    let mut builder = RootBuilder::default();
    for entry in &entries {
        builder.push(entry.leaf_hash());
    }
    assert_eq!(
        builder.root(),
        head.root,
        "the root matches a recomputation"
    );
    for (index, leaf) in acks {
        let entry = entries
            .get(*index as usize)
            .unwrap_or_else(|| panic!("acknowledged entry {index} is missing"));
        let stored = base64::engine::general_purpose::STANDARD.encode(entry.leaf_hash());
        assert_eq!(&stored, leaf, "entry {index} is not the one acknowledged");
    }
    head.size
}

#[test]
fn acknowledged_publishes_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    create_testnet(&root, "mx");
    let home = root.join("mx");
    let mut rng = XorShift(0x5eed_c0c0_a11a_2026);
    let acks: Acks = Arc::new(Mutex::new(Vec::new()));
    let mut sizes = Vec::new();
    for round in 0..ROUNDS {
        let node = start_node(&home);
        let stop = Arc::new(AtomicBool::new(false));
        let before = acks.lock().expect("acks").len();
        let clients = publish_until_killed(&home, &stop, &acks);
        // Kill only once this round has acknowledged something.
        let deadline = Instant::now() + Duration::from_secs(30);
        while acks.lock().expect("acks").len() < before + 20 {
            assert!(
                Instant::now() < deadline,
                "round {round} acknowledged nothing"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.next() % 400));
        let mut node = node;
        node.0.kill().expect("SIGKILL");
        node.0.wait().expect("reaped");
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().expect("client thread");
        }
        let acked = acks.lock().expect("acks").clone();
        let size = check_store(&home, &acked);
        assert!(size >= acked.len() as u64);
        sizes.push(size);
        assert_audit_clean(&home, &format!("round {round}"));
    }
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "the log only grows: {sizes:?}"
    );
}

#[test]
fn sigterm_stops_the_node_cleanly_with_everything_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    create_testnet(&root, "mx");
    let home = root.join("mx");
    let mut node = start_node(&home);
    let stop = Arc::new(AtomicBool::new(false));
    let acks: Acks = Arc::new(Mutex::new(Vec::new()));
    let clients = publish_until_killed(&home, &stop, &acks);
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.lock().expect("acks").len() < 50 {
        assert!(Instant::now() < deadline, "nothing acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sigterm = Command::new("kill")
        .arg("-TERM")
        .arg(node.0.id().to_string())
        .status()
        .expect("kill");
    assert!(sigterm.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = node.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    check_store(&home, &acks.lock().expect("acks"));
}

/// Upgrading a format-1 store is killed with SIGKILL at random moments,
/// again and again (each time by a `concord status` that opens it); the
/// next open resumes the upgrade, and in the end every entry is there at
/// its index with its leaf hash, the root matches a recomputation, no
/// format-1 key is left and `concord audit` is clean.
#[test]
fn a_store_upgrade_killed_at_random_moments_resumes_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fed");
    create_testnet(&root, "mx");
    let home = root.join("mx");
    let db = Home::new(&home).db_path();
    let origin = Origin::new("pacific-alliance.concord/mx").expect("origin");
    let entries: Vec<(u64, String)> = {
        let store = Store::open(&db).expect("store");
        let key = Home::new(&home)
            .identity()
            .expect("identity")
            .log_key
            .clone();
        let records: Vec<Record> = samples()
            .iter()
            .map(|bytes| Record::parse(Kind::Denial, bytes).expect("sample validates"))
            .collect();
        for group in 0..64 {
            let group: Vec<OwnEntry> = (0..256)
                .map(|i| OwnEntry {
                    record: records[(group * 256 + i) % records.len()].clone(),
                    visibility: Visibility::Federation,
                    refers_to: None,
                })
                .collect();
            publish::append_own(&store, &origin, &key, 1_763_935_200, &group).expect("append");
        }
        store.flush_blocking().expect("flush");
        let size = store.head(&origin).expect("head").size;
        let entries = store.entries(&origin, 0, size).expect("entries");
        (0..)
            .zip(
                entries
                    .iter()
                    .map(|e| base64::engine::general_purpose::STANDARD.encode(e.leaf_hash())),
            )
            .collect()
    };
    common::to_format_1(&db, 0);
    let legacy_keys = || {
        let raw = common::raw_sled(&db);
        let data = raw.open_tree("data").expect("data");
        data.scan_prefix(b"E").count() + data.scan_prefix(b"T").count()
    };
    let all = legacy_keys();
    assert_eq!(all, 2 * entries.len(), "every entry and status in format 1");

    // Kills start early and come later each round that found the upgrade
    // not yet begun, so that some land while it runs on any machine.
    let mut rng = XorShift(0x0dd_ba11_2026_0001);
    let mut delay = 10;
    let mut cut_short = 0;
    for _ in 0..12 {
        let mut status = Command::new(CONCORD)
            .args(["status", "--home"])
            .arg(&home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("concord status starts");
        std::thread::sleep(Duration::from_millis(delay + rng.next() % delay));
        // It may have finished already; then there is nothing to kill.
        let _ = status.kill();
        status.wait().expect("reaped");
        let left = legacy_keys();
        if left == 0 {
            break;
        }
        if left < all {
            cut_short += 1;
        } else {
            delay *= 2;
        }
    }
    assert!(cut_short > 0, "no kill landed while the upgrade ran");
    check_store(&home, &entries);
    assert_eq!(legacy_keys(), 0, "the upgrade finished");
    assert_audit_clean(&home, "the upgrade");
}
