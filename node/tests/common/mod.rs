//! Shared harness of the black-box tests: a testnet of real `concord`
//! processes on loopback, their APIs, and polling with deadlines.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use concord_node::home::Home;
use concord_protocol::entry::{NewEntry, SignedEntry, Visibility, sign_entry};
use concord_protocol::equivocation::EquivocationProof;
use concord_protocol::origin::Origin;
use concord_protocol::record::Kind;

pub const CONCORD: &str = env!("CARGO_BIN_EXE_concord");

pub struct Fed {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    nodes: std::sync::Mutex<HashMap<String, Child>>,
}

impl Fed {
    pub fn create(members: &str, observers: &str) -> Fed {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("fed");
        let status = Command::new(CONCORD)
            .args(["testnet", "create", "--dir"])
            .arg(&root)
            .args([
                "--members",
                members,
                "--observers",
                observers,
                "--sync-interval-ms",
                "300",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("testnet create runs");
        assert!(status.success());
        Fed {
            _dir: dir,
            root,
            nodes: Default::default(),
        }
    }

    pub fn home(&self, id: &str) -> Home {
        Home::new(&self.root.join(id))
    }

    pub fn start(&self, id: &str) {
        let log = std::fs::File::create(self.root.join(format!("{id}.log"))).expect("log file");
        let child = Command::new(CONCORD)
            .args(["run", "--home"])
            .arg(self.root.join(id))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("node starts");
        self.nodes
            .lock()
            .expect("nodes")
            .insert(id.to_owned(), child);
        wait_until(
            Duration::from_secs(30),
            &format!("{id}'s API answers"),
            || self.get(id, "/v1/health").is_some(),
        );
    }

    pub fn stop(&self, id: &str) {
        let child = self.nodes.lock().expect("nodes").remove(id);
        if let Some(mut child) = child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn get(&self, id: &str, path: &str) -> Option<serde_json::Value> {
        let home = self.home(id);
        let config = home.config().ok()?;
        let token = home.token().ok()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut response = agent
            .get(format!("http://{}{path}", config.api.listen))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()
    }

    pub fn log_size(&self, id: &str, origin: &str) -> u64 {
        self.get(id, "/v1/status")
            .and_then(|s| {
                s["logs"]
                    .as_array()?
                    .iter()
                    .find(|l| l["origin"] == origin)
                    .and_then(|l| l["size"].as_u64())
            })
            .unwrap_or(0)
    }

    pub fn publish_offline(&self, id: &str, file: &Path) {
        let status = Command::new(CONCORD)
            .args(["publish", "denial", "--home"])
            .arg(self.root.join(id))
            .arg("--file")
            .arg(file)
            .stdout(Stdio::null())
            .status()
            .expect("publish runs");
        assert!(status.success());
    }

    pub fn evidence(&self, id: &str) -> Vec<EquivocationProof> {
        self.get(id, "/v1/evidence")
            .and_then(|e| e["evidence"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|record| serde_json::from_value(record["proof"].clone()).ok())
            .collect()
    }

    pub fn quarantined(&self, id: &str, origin: &str) -> bool {
        self.get(id, "/v1/status")
            .and_then(|s| s["quarantined"].as_array().cloned())
            .is_some_and(|q| q.iter().any(|o| o == origin))
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        for (_, mut child) in self.nodes.lock().expect("nodes").drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {limit:?} waiting until {what}");
}

pub fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records/denials");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("samples")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

impl Fed {
    /// Publishes a record through `id`'s API; the answer, or the HTTP status.
    pub fn publish(&self, id: &str, kind: &str, body: &[u8]) -> Result<serde_json::Value, u16> {
        let home = self.home(id);
        let config = home.config().expect("config");
        let token = home.token().expect("token");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut response = agent
            .post(format!("http://{}/v1/records/{kind}", config.api.listen))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|_| 0u16)?;
        let status = response.status().as_u16();
        if status != 201 {
            return Err(status);
        }
        Ok(
            serde_json::from_str(&response.body_mut().read_to_string().map_err(|_| status)?)
                .expect("json answer"),
        )
    }

    /// Size and root of `origin` at every node in `ids`.
    pub fn views(&self, ids: &[&str], origin: &str) -> Vec<Option<(u64, String)>> {
        ids.iter()
            .map(|id| {
                let status = self.get(id, "/v1/status")?;
                let log = status["logs"]
                    .as_array()?
                    .iter()
                    .find(|l| l["origin"] == origin)?
                    .clone();
                Some((log["size"].as_u64()?, log["root"].as_str()?.to_owned()))
            })
            .collect()
    }

    pub fn status(&self, id: &str) -> serde_json::Value {
        self.get(id, "/v1/status")
            .unwrap_or(serde_json::Value::Null)
    }
}

/// An in-process libp2p peer that misbehaves on purpose: it speaks the
/// federation's protocols with whatever transport key it is given.
pub struct Rogue {
    pub runtime: tokio::runtime::Runtime,
    pub handle: concord_node::net::NetHandle,
    shutdown: tokio_util::sync::CancellationToken,
    pub events: tokio::sync::mpsc::Receiver<concord_node::net::NetEvent>,
}

impl Rogue {
    /// Starts on a free loopback port and dials `target` (a node's peer id
    /// and address).
    pub fn start(
        keypair: libp2p::identity::Keypair,
        roster: &concord_keys::roster::Roster,
        target: (libp2p::PeerId, libp2p::Multiaddr),
    ) -> Rogue {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (events_tx, events) = tokio::sync::mpsc::channel(256);
        let config = concord_node::net::NetConfig {
            keypair,
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
            bootstrap: vec![target],
            allowed: roster
                .members
                .iter()
                .filter_map(|m| m.peer_id.parse().ok())
                .collect(),
            federation: roster.federation.clone(),
            mdns: false,
        };
        let token = shutdown.clone();
        let (handle, _task) = runtime
            .block_on(async move { concord_node::net::spawn(config, events_tx, token) })
            .expect("rogue network starts");
        Rogue {
            runtime,
            handle,
            shutdown,
            events,
        }
    }

    /// Publishes `message` once the gossip mesh of its topic has a peer.
    pub fn gossip(&self, message: &concord_protocol::wire::Gossip) {
        let topic = concord_node::net::Topic::of(message);
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

    pub fn connected_peers(&self) -> usize {
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
pub fn address_of(
    roster: &concord_keys::roster::Roster,
    id: &str,
) -> (libp2p::PeerId, libp2p::Multiaddr) {
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

/// One `concord run` process, outside a [`Fed`]; stopped (SIGTERM, then
/// SIGKILL) when dropped.
pub struct NodeProcess(pub Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the node of `home`, logging to `home/node.log`, and waits until its
/// API answers.
pub fn start_node(home: &Path) -> NodeProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("node.log"))
        .expect("log");
    let child = Command::new(CONCORD)
        .args(["run", "--home"])
        .arg(home)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("node starts");
    let node = NodeProcess(child);
    let config = Home::new(home).config().expect("config");
    wait_until(Duration::from_secs(30), "the node's API answers", || {
        ureq::get(format!("http://{}/v1/health", config.api.listen))
            .call()
            .is_ok()
    });
    node
}

/// `concord testnet create` of `members` without observers under `root`.
pub fn create_testnet(root: &Path, members: &str) {
    let status = Command::new(CONCORD)
        .args(["testnet", "create", "--dir"])
        .arg(root)
        .args(["--members", members, "--observers", ""])
        .stdout(Stdio::null())
        .status()
        .expect("testnet create runs");
    assert!(status.success());
}

/// Entry `index` of `origin`'s log: a denial of `payload` visible to the
/// federation, signed by `key`, stamped a second per index after a fixed
/// time.
pub fn signed_denial(
    origin: &Origin,
    key: &ed25519_dalek::SigningKey,
    index: u64,
    payload: &[u8],
) -> SignedEntry {
    let new = NewEntry {
        origin,
        index,
        time: 1_763_935_200 + index,
        kind: Kind::Denial,
        refers_to: None,
        payload,
        visibility: Visibility::Federation,
    };
    sign_entry(&new, key).expect("signs")
}

/// Begins `origin`'s section of a bundle: its head of `size` entries with
/// `root`, and a checkpoint of that tree signed by `key`.
pub fn begin_log<W: std::io::Write>(
    writer: &mut concord_node::bundle::BundleWriter<W>,
    origin: &Origin,
    size: u64,
    root: concord_protocol::merkle::Hash,
    key: &ed25519_dalek::SigningKey,
) {
    use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
    writer
        .log(origin, concord_node::store::LogHead { size, root })
        .expect("log");
    writer
        .checkpoint(&SignedCheckpoint::sign(
            Checkpoint::new(origin.clone(), size, root),
            key,
        ))
        .expect("checkpoint");
}

/// Opens a store's sled database raw, behind the store's back. A store
/// this process just dropped is released a moment later.
pub fn raw_sled(path: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if Instant::now() > deadline => panic!("raw open: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

/// Where each record of a page's value lies: records are sixteen entries
/// to a page (key `store::keys::entry_page_key(log, index / 16)` for
/// entries), each after its length (u32, big-endian).
pub fn page_records(page: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < page.len() {
        let len = u32::from_be_bytes(page[at..at + 4].try_into().expect("length")) as usize;
        records.push(at + 4..at + 4 + len);
        at += 4 + len;
    }
    records
}

/// Where entry `index`'s record starts in the value of its page.
pub fn entry_in_page(page: &[u8], index: u64) -> usize {
    page_records(page)[(index % 16) as usize].start
}

/// Turns pages `first_page` and later of the store at `path` back into
/// format 1's keys (one per entry and one per denial status: `E` or `T`,
/// log id, index) and marks the store format 1, as an upgrade cut short
/// after `first_page` pages would leave it.
pub fn to_format_1(path: &Path, first_page: u64) {
    let db = raw_sled(path);
    let data = db.open_tree("data").expect("data");
    for (paged, legacy) in [(b'B', b'E'), (b'D', b'T')] {
        for item in data.scan_prefix([paged]) {
            let (key, page) = item.expect("page");
            let number = u64::from_be_bytes(key[5..13].try_into().expect("page number"));
            if number < first_page {
                continue;
            }
            for (index, record) in (number * 16..).zip(page_records(&page)) {
                // A status page's empty record stands for an entry that is no denial.
                if !record.is_empty() {
                    let mut key_1 = key[..5].to_vec();
                    key_1[0] = legacy;
                    key_1.extend_from_slice(&index.to_be_bytes());
                    data.insert(key_1, &page[record]).expect("write");
                }
            }
            data.remove(key).expect("remove");
        }
    }
    db.open_tree("meta")
        .expect("meta")
        .insert("format", &1u32.to_be_bytes())
        .expect("write");
    db.flush().expect("flush");
}
