//! Durability of the own log under crashes and shutdowns, with a real
//! `concord run` and its sled store: whatever the node acknowledged (HTTP
//! 201) is there after a `SIGKILL` at a random moment of a concurrent burst,
//! at its acknowledged index with its acknowledged leaf hash, in a contiguous
//! log whose root recomputes from the leaves; `SIGTERM` stops the node
//! promptly and cleanly; and `concord audit` finds the store clean.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::merkle::RootBuilder;
use concord_tests::{Api, Published, Reply, Rng, SampleRecord, Testnet, sample_records};

const NODE: &str = "cl";

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
                        let len = u64::try_from(records.len()).expect("few records");
                        let record = &records[usize::try_from(rng.range(0, len)).expect("small")];
                        match api.try_publish(record.kind, &record.bytes) {
                            Ok(published) => acked.lock().expect("acks").push(published),
                            Err(Ok(reply)) => {
                                refused.lock().expect("refusals").push(reply);
                                return;
                            }
                            // The node is gone (killed, or stopped): an
                            // unanswered publish is not acknowledged.
                            Err(Err(_)) => return,
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

#[track_caller]
fn assert_audit_clean(net: &Testnet) {
    let audit = net.cli(NODE, ["audit"]);
    assert_eq!(
        audit.code,
        Some(0),
        "concord audit of the stopped node is not clean:\nstdout: {}\nstderr: {}",
        audit.stdout,
        audit.stderr
    );
}

#[test]
fn acknowledged_entries_survive_sigkill_at_random_moments() {
    const ROUNDS: usize = 6;
    const THREADS: usize = 16;
    let mut rng = Rng::from_env(0x00C0_FFEE_D15C_0B0B);
    let records = sample_records();
    let mut net = Testnet::create(&[NODE, "mx", "pe"], &[]);
    let api = net.api(NODE);
    let mut acked: Vec<Published> = Vec::new();
    let mut size = 0;
    net.start(NODE);
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

        // The restarted node holds everything acknowledged, in all rounds.
        net.start(NODE);
        let restarted = check_acknowledged(&api, &acked);
        assert!(restarted >= size, "round {round}: the log shrank");
        size = restarted;
    }
    net.stop(NODE);
    assert_audit_clean(&net);
}

#[test]
fn sigterm_stops_the_node_cleanly_with_everything_acknowledged() {
    let mut rng = Rng::from_env(0x5167_7E53_0000_0001);
    let records = sample_records();
    let mut net = Testnet::create(&[NODE], &[]);
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
        let published = &acked[usize::try_from(rng.range(0, acked.len() as u64)).expect("small")];
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
            concord_tests::decode_hash(show["leaf_hash"].as_str().expect("leaf_hash")),
            published.leaf_hash,
            "entry {} read from the stopped node's store",
            published.index
        );
    }
    assert_audit_clean(&net);

    net.start(NODE);
    check_acknowledged(&api, &acked);
    net.stop(NODE);
}
