//! Durability of the own log under crashes and shutdowns, with a real
//! `concord run` and its sled store: whatever the node acknowledged (HTTP
//! 201) is there after a `SIGKILL` at a random moment of a concurrent burst,
//! at its acknowledged index with its acknowledged leaf hash, in a contiguous
//! log whose root recomputes from the leaves; `SIGTERM` stops the node
//! promptly and cleanly; `concord audit` finds the store clean after every
//! crash; and an upgrade of an older store format killed at random moments
//! resumes and loses nothing.

#[path = "../node/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::Store;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::Visibility;
use concord_protocol::merkle::{Hash, RootBuilder};
use concord_protocol::record::{Country, Kind, Record};
use concord_scenarios::api::{Api, PublishError, Published, Reply, decode_hash};
use concord_scenarios::process::{Concord, NodeOptions, Process, Run};
use concord_scenarios::records::{self, SampleRecord};
use concord_scenarios::rng::Rng;
use concord_scenarios::testnet::Testnet;

const NODE: &str = "cl";

/// The binary Cargo built for these tests.
fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

/// Publishers posting records in a loop until stopped or the node is gone.
struct Burst {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Published>>>,
    /// Answers other than 201, with the thread that got them.
    refused: Arc<Mutex<Vec<Reply>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Burst {
    fn start(api: &Api, records: &[SampleRecord], n_threads: usize, rng: &mut Rng) -> Burst {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..n_threads)
            .map(|_| {
                let api = api.clone();
                let records = records.to_vec();
                let stop = stop.clone();
                let acked = acked.clone();
                let refused = refused.clone();
                let mut rng = Rng::new(rng.next_u64());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let record = &records[rng.index(records.len())];
                        match api.try_publish(record.kind, &record.bytes) {
                            Ok(published) => acked.lock().expect("acks").push(published),
                            Err(PublishError::Refused(reply)) => {
                                refused.lock().expect("refusals").push(reply);
                                return;
                            }
                            // The node is gone (killed, or stopped): an
                            // unanswered publish is not acknowledged.
                            Err(PublishError::Unreachable(_)) => return,
                            Err(malformed @ PublishError::Malformed(_)) => panic!("{malformed}"),
                        }
                    }
                })
            })
            .collect();
        Burst {
            stop,
            acked,
            refused,
            threads,
        }
    }

    fn n_acked(&self) -> usize {
        self.acked.lock().expect("acks").len()
    }

    fn all_done(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Stops the publishers and returns (acknowledged, refused).
    fn finish(mut self) -> (Vec<Published>, Vec<Reply>) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            thread.join().expect("a publisher thread panicked");
        }
        let acked = std::mem::take(&mut *self.acked.lock().expect("acks"));
        let refused = std::mem::take(&mut *self.refused.lock().expect("refusals"));
        (acked, refused)
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits until the burst has `target` acknowledgements in all; panics if
/// every publisher stopped first.
fn wait_for_acks(net: &Testnet, burst: &Burst, target: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while burst.n_acked() < target {
        assert!(
            !burst.all_done(),
            "every publisher stopped at {} acknowledgements (refusals: {:?}):\n{}",
            burst.n_acked(),
            burst.refused.lock().expect("refusals"),
            net.node_log(NODE)
        );
        assert!(
            Instant::now() < deadline,
            "only {} of {target} publishes acknowledged in 90 s",
            burst.n_acked()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every acknowledged entry is in the log read back (which
/// [`Api::read_log`] checked contiguous, hashed and rooted), at its index
/// with its leaf hash; the latest checkpoint covers the whole log.
fn check_acknowledged(api: &Api, acked: &[Published]) -> u64 {
    let log = api.read_log(NODE);
    for published in acked {
        assert_eq!(published.origin, log.origin, "acknowledged origin");
        let entry = log
            .entries
            .get(usize::try_from(published.index).expect("index fits usize"))
            .unwrap_or_else(|| {
                panic!(
                    "acknowledged entry {} is missing: the log has {} entries",
                    published.index, log.size
                )
            });
        assert_eq!(
            entry.leaf_hash, published.leaf_hash,
            "entry {} is not the one acknowledged",
            published.index
        );
    }
    let mut indexes: Vec<u64> = acked.iter().map(|p| p.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(
        indexes.len(),
        acked.len(),
        "two publishes acknowledged one index"
    );

    // The own log's checkpoint is signed in the batch that stores the
    // entries it covers, so after a restart it covers the whole log.
    let reply = api.get(&format!("/v1/logs/{NODE}/checkpoint"));
    assert_eq!(reply.status, 200, "checkpoint: {}", reply.body);
    let checkpoint = SignedCheckpoint::parse(reply.body.as_bytes())
        .expect("the checkpoint note parses")
        .checkpoint;
    assert_eq!(checkpoint.size, log.size, "latest checkpoint size");
    let mut builder = RootBuilder::default();
    for entry in &log.entries {
        builder.push(entry.leaf_hash);
    }
    assert_eq!(checkpoint.root, builder.root(), "latest checkpoint root");
    log.size
}

/// `concord audit` of `home`'s stopped node finds nothing after `when`.
#[track_caller]
fn assert_audit_clean(concord: &Concord, home: &Path, when: &str) {
    let mut command = concord.command();
    command.arg("audit").arg("--home").arg(home);
    let audit = Run::of(command);
    assert_eq!(
        audit.code,
        Some(0),
        "concord audit after {when} is not clean:\nstdout: {}\nstderr: {}",
        audit.stdout,
        audit.stderr
    );
}

#[test]
fn acknowledged_entries_survive_sigkill_at_random_moments() {
    const ROUNDS: usize = 6;
    const THREADS: usize = 16;
    let mut rng = Rng::from_env(0x00C0_FFEE_D15C_0B0B);
    let records = records::samples_of("CL");
    let mut net = Testnet::create(&concord(), &[NODE, "mx", "pe"], &[]);
    let api = net.api(NODE);
    let mut acked: Vec<Published> = Vec::new();
    let mut size = 0;
    // mx and pe never run: the node publishes with nothing to confirm its
    // log with, its operator accepting the risk.
    let alone = NodeOptions::accepting_fork_risk();
    net.start_with(NODE, &alone);
    for round in 0..ROUNDS {
        let burst = Burst::start(&api, &records, THREADS, &mut rng);
        // A random moment: after a random number of acknowledgements, with
        // sixteen publishes in flight and group commits under way.
        let target = usize::try_from(rng.range(20, 300)).expect("small");
        wait_for_acks(&net, &burst, target);
        net.kill(NODE);
        let (round_acked, refused) = burst.finish();
        assert!(
            refused.is_empty(),
            "round {round}: publishes refused before the kill: {refused:?}"
        );
        eprintln!(
            "round {round}: {} acknowledged, killed after {target}",
            round_acked.len()
        );
        acked.extend(round_acked);
        // The crashed store audits clean before the node opens it again.
        assert_audit_clean(net.concord(), &net.home(NODE), &format!("round {round}"));

        // The restarted node holds everything acknowledged, in all rounds.
        net.start_with(NODE, &alone);
        let restarted = check_acknowledged(&api, &acked);
        assert!(restarted >= size, "round {round}: the log shrank");
        size = restarted;
    }
    net.stop(NODE);
    assert_audit_clean(net.concord(), &net.home(NODE), "the last round");
}

#[test]
fn sigterm_stops_the_node_cleanly_with_everything_acknowledged() {
    let mut rng = Rng::from_env(0x5167_7E53_0000_0001);
    let records = records::samples_of("CL");
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    net.start(NODE);
    let api = net.api(NODE);
    let burst = Burst::start(&api, &records, 8, &mut rng);
    wait_for_acks(&net, &burst, 100);
    // Publishers keep posting while the node shuts down.
    let status = net.terminate(NODE, Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIGTERM:\n{}",
        net.node_log(NODE)
    );
    let (acked, refused) = burst.finish();
    for reply in &refused {
        assert_eq!(
            reply.status, 503,
            "a publish during shutdown got {}: {}",
            reply.body, reply.status
        );
    }

    // Offline, straight from the store: the size and a sample of entries.
    let size = net.log_size(NODE, NODE);
    let last = acked.iter().map(|p| p.index).max().expect("acknowledged");
    assert!(size > last, "size {size} but entry {last} was acknowledged");
    for _ in 0..8 {
        let published = &acked[rng.index(acked.len())];
        let show = net
            .cli(
                NODE,
                [
                    "show",
                    "--log",
                    NODE,
                    "--index",
                    &published.index.to_string(),
                    "--json",
                ],
            )
            .ok()
            .json();
        assert_eq!(
            decode_hash(show["leaf_hash"].as_str().expect("leaf_hash")),
            published.leaf_hash,
            "entry {} read from the stopped node's store",
            published.index
        );
    }
    assert_audit_clean(net.concord(), &net.home(NODE), "SIGTERM");

    net.start(NODE);
    check_acknowledged(&api, &acked);
    net.stop(NODE);
}

/// Every entry of `entries` (index, leaf hash) is in the store of `home`,
/// read straight from sled: the log is contiguous and its root matches a
/// recomputation.
fn check_store(home: &Path, origin: &str, entries: &[(u64, Hash)]) {
    let store = Store::open(&Home::new(home).db_path()).expect("the store opens after SIGKILL");
    let origin = concord_protocol::origin::Origin::new(origin).expect("origin");
    let head = store.head(&origin).expect("head");
    let stored = store.entries(&origin, 0, head.size).expect("entries");
    assert_eq!(stored.len() as u64, head.size, "the log is contiguous");
    let mut builder = RootBuilder::default();
    for entry in &stored {
        builder.push(entry.leaf_hash());
    }
    assert_eq!(
        builder.root(),
        head.root,
        "the root matches a recomputation"
    );
    for (index, leaf_hash) in entries {
        let entry = stored
            .get(usize::try_from(*index).expect("an index fits usize"))
            .unwrap_or_else(|| panic!("entry {index} is missing"));
        assert_eq!(&entry.leaf_hash(), leaf_hash, "entry {index} changed");
    }
}

/// Upgrading a format-1 store is killed with SIGKILL at random moments,
/// again and again (each time by a `concord status` that opens it); the
/// next open resumes the upgrade, and in the end every entry is there at
/// its index with its leaf hash, the root matches a recomputation, no
/// format-1 key is left and `concord audit` is clean.
#[test]
fn a_store_upgrade_killed_at_random_moments_resumes_and_loses_nothing() {
    let net = Testnet::create(&concord(), &["mx"], &[]);
    let home = net.home("mx");
    let origin = net.origin_of("mx");
    let db = Home::new(&home).db_path();
    let entries: Vec<(u64, Hash)> = {
        let store = Store::open(&db).expect("store");
        let key = Home::new(&home)
            .identity()
            .expect("identity")
            .log_key
            .clone();
        let log = concord_protocol::origin::Origin::new(&origin).expect("origin");
        let records: Vec<Record> = records::denials_of("MX")
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
            publish::append_own(
                &store,
                &log,
                Country::new("MX").expect("a country"),
                &key,
                1_763_935_200,
                &group,
            )
            .expect("append");
        }
        store.flush_blocking().expect("flush");
        let size = store.head(&log).expect("head").size;
        let stored = store.entries(&log, 0, size).expect("entries");
        (0..).zip(stored.iter().map(|e| e.leaf_hash())).collect()
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
    // not yet begun, so that some land while it runs on any machine. The
    // pause before each kill is the random moment itself, not a wait.
    let mut rng = Rng::from_env(0x0dd_ba11_2026_0001);
    let mut delay = 10;
    let mut cut_short = 0;
    for _ in 0..12 {
        let mut command = net.concord().command();
        command
            .args(["status", "--home"])
            .arg(&home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let status =
            Process::spawn(command, "concord status", None).expect("concord status starts");
        std::thread::sleep(Duration::from_millis(delay + rng.range(0, delay)));
        // It may have finished already; then there is nothing to kill.
        status.kill().expect("killed and reaped");
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
    check_store(&home, &origin, &entries);
    assert_eq!(legacy_keys(), 0, "the upgrade finished");
    assert_audit_clean(net.concord(), &home, "the upgrade");
}
