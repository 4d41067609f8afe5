//! Store benchmarks; prints numbers and ratios, asserts nothing.
//!
//! `cargo bench -p concord-node --bench store` (scale the counts with
//! `CONCORD_BENCH_SCALE`, default 1.0):
//! - durable own-log publishes per second through the group-commit writer
//!   with 1, 8 and 64 concurrent publishers, ack latency p50/p99, beside raw
//!   sled insert+flush per second;
//! - verified replica ingest per second beside Ed25519 batch verification of
//!   the same signatures on one core (the store's own batches, and
//!   ed25519-dalek's `verify_batch` for comparison): with the sample payloads (which repeat
//!   every 20 entries), with every payload and party name distinct, and
//!   headers only; each in calls of one sync range and in calls as large as
//!   catching up makes them;
//! - durable publishes by 8 publishers while the same node ingests that
//!   log in catch-up calls, and the ingest rate beside them;
//! - inclusion-proof time from the store at 1M entries, in two passes,
//!   beside the same proofs over an in-memory hash list (also for the
//!   first 1,000 alone, which find the machine cold), and beside groups
//!   of in-memory proofs as long as one store proof (the machine's own tail
//!   for memory-bound work of that length); then reopened: the first proof,
//!   which caches the log's hashes again, and a pass after it.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use concord_node::home::Home;
use concord_node::own_log::{ForkRisk, OwnLog};
use concord_node::publish::{self, OwnEntry, Writer};
use concord_node::replicate::CATCH_UP_BATCH;
use concord_node::store::Store;
use concord_protocol::entry::{self, SignedEntry, Visibility};
use concord_protocol::merkle::{self, Hash};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};
use concord_protocol::wire::MAX_RANGE_ENTRIES;
use sha2::Digest as _;

use common::{
    Flush, cores, dalek_verify_batch, distinct_payloads, ingest_rate, payloads_of, percentile,
    sample_records, scale, sign_range, signed_messages,
};

/// Pairs each entry with its sample payload.
fn with_payloads(
    payloads: &[(Kind, Vec<u8>)],
    entries: Vec<SignedEntry>,
) -> Vec<(SignedEntry, Option<Vec<u8>>)> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (e, Some(payloads[i % payloads.len()].1.clone())))
        .collect()
}

/// Rounds of the replica ingest measurement, each with its own baselines.
const INGEST_ROUNDS: usize = 3;

/// The median, lowest and highest of `values`.
fn spread(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    (
        percentile(&sorted, 0.5),
        sorted[0],
        sorted[sorted.len() - 1],
    )
}

/// One round of the ingest measurement: both verification baselines, then
/// each case's ingest rate in both call sizes.
struct IngestRound {
    verify: f64,
    dalek: f64,
    ingest: [[f64; 2]; 3],
}

/// Inclusion proofs timed in each pass, and how many of the first count as cold.
const PROOFS: usize = 20_000;
const COLD_PROOFS: usize = 1_000;

/// A random index below `size` (xorshift64).
fn next_index(seed: &mut u64, size: u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed % size
}

/// Times `PROOFS` inclusion proofs at random indexes, from the store and
/// over the in-memory hash list, and checks that they agree.
fn time_proofs(
    store: &Store,
    origin: &Origin,
    stored: &[Hash],
    size: u64,
    seed: &mut u64,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut store_times = Vec::with_capacity(PROOFS);
    let mut memory_times = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        let index = next_index(seed, size);
        let t = Instant::now();
        let proof = store.inclusion_proof(origin, index, size).expect("proof");
        store_times.push(t.elapsed());
        let t = Instant::now();
        let memory = merkle::inclusion_proof(size, index, stored).expect("proof");
        memory_times.push(t.elapsed());
        assert_eq!(proof, memory);
    }
    (store_times, memory_times)
}

fn raw_sled_flushes(dir: &Path, n: usize, value: &[u8]) -> f64 {
    let db = sled::open(dir.join("raw")).expect("sled");
    let start = Instant::now();
    for i in 0..n as u64 {
        db.insert(i.to_be_bytes(), value).expect("insert");
        db.flush().expect("flush");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Entries per second sled takes when given only the writes an ingest
/// cannot avoid: each entry's bytes by (log, index) and its payload by
/// digest, in batches of 1,024, flushed at the end. No verification.
fn raw_sled_entry_writes(dir: &Path, log: &[(SignedEntry, Option<Vec<u8>>)]) -> f64 {
    let db = sled::open(dir).expect("sled");
    let start = Instant::now();
    for (chunk_index, chunk) in log.chunks(1024).enumerate() {
        let mut batch = sled::Batch::default();
        for (offset, (entry, payload)) in chunk.iter().enumerate() {
            let index = (chunk_index * 1024 + offset) as u64;
            let mut value = entry.signature.to_vec();
            value.extend_from_slice(&entry.header_bytes);
            batch.insert(&[&b"E"[..], &index.to_be_bytes()].concat()[..], value);
            if let Some(payload) = payload {
                let digest = sha2::Sha256::digest(payload);
                batch.insert(&[&b"P"[..], &digest[..]].concat()[..], &payload[..]);
            }
        }
        db.apply_batch(batch).expect("batch");
    }
    db.flush().expect("flush");
    log.len() as f64 / start.elapsed().as_secs_f64()
}

/// When each publisher stops: after so many publishes, or once a job
/// running beside them has ended.
#[derive(Clone)]
enum Until {
    Count(usize),
    Done(Arc<AtomicBool>),
}

impl Until {
    fn going(&self, published: usize) -> bool {
        match self {
            Until::Count(n) => published < *n,
            Until::Done(done) => !done.load(Ordering::Acquire),
        }
    }
}

/// Publishes by `concurrency` tasks through mx's group-commit writer on
/// `store`; rate and ack latency p50/p99.
fn publish_rate(
    dir: &Path,
    store: Store,
    concurrency: usize,
    until: &Until,
    records: &[Record],
) -> (f64, Duration, Duration) {
    let home = Home::new(&dir.join("mx"));
    let identity = home.identity().expect("identity");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let origin = Origin::new("pacific-alliance.concord/mx").expect("origin");
        let roster = home.roster().expect("roster");
        let writer = Writer {
            store,
            origin: origin.clone(),
            country: Country::new("MX").expect("a country"),
            key: identity.log_key.clone(),
            clock: concord_node::clock::now,
            // The writer alone, as on a stopped node: no peer to ask.
            own_log: OwnLog::stopped(origin, &roster, "mx", ForkRisk::Accepted),
            roster: std::sync::Arc::new(roster),
        };
        let (publisher, task) = publish::spawn(writer, None, shutdown.clone());
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|t| {
                let publisher = publisher.clone();
                let records = records.to_vec();
                let until = until.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = 0;
                    while until.going(i) {
                        let record = records[(t + i) % records.len()].clone();
                        let sent = Instant::now();
                        publisher
                            .publish(OwnEntry {
                                record,
                                visibility: Visibility::Federation,
                                refers_to: None,
                            })
                            .await
                            .expect("publish");
                        latencies.push(sent.elapsed());
                        i += 1;
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("task"));
        }
        let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
        shutdown.cancel();
        let _ = task.await;
        latencies.sort();
        (
            rate,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        )
    })
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    common::two_members(dir.path());
    let roster = Home::new(&dir.path().join("mx")).roster().expect("roster");
    // mx publishes its own; cl's log is signed for ingest.
    let mx_records = sample_records("MX");
    let records = sample_records("CL");
    let payloads = payloads_of(&records);
    let cores = cores();
    println!(
        "machine: {cores} cores (nproc); sample records: {} denials and notices",
        records.len()
    );

    let value = records[0].to_canonical_bytes();
    let raw_flush = raw_sled_flushes(dir.path(), scale(500.0), &value);
    println!("\nraw baseline: sled insert+flush            {raw_flush:>10.0} /s");
    println!("durable publishes (group commit):");
    for concurrency in [1usize, 8, 64] {
        let total = scale(if concurrency == 1 { 500.0 } else { 6400.0 });
        let store = Store::open(&dir.path().join(format!("db-{concurrency}"))).expect("store");
        let until = Until::Count(total / concurrency);
        let (rate, p50, p99) = publish_rate(dir.path(), store, concurrency, &until, &mx_records);
        println!(
            "  {concurrency:>2} publishers  {rate:>8.0} /s  ack p50 {:>7.2} ms  p99 {:>7.2} ms  ratio to raw insert+flush {:.2}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            rate / raw_flush
        );
    }

    let n = scale(50_000.0);
    let signing_key = Home::new(&dir.path().join("cl"))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let origin = Origin::new("pacific-alliance.concord/cl").expect("origin");
    let log = with_payloads(
        &payloads,
        sign_range(&signing_key, &origin, &payloads, 0..n),
    );
    let headers: Vec<_> = log
        .iter()
        .map(|(e, _)| e.decode_header().expect("header"))
        .collect();
    let key = signing_key.verifying_key();
    let signed = signed_messages(log.iter().map(|(e, _)| e));
    let bare: Vec<_> = log.iter().map(|(e, _)| (e.clone(), None)).collect();
    // The samples repeat every 20 entries, so their payloads and party
    // names are stored once per group; a real log's differ entry by entry.
    let unique = distinct_payloads(&records, n);
    let unique_log = with_payloads(&unique, sign_range(&signing_key, &origin, &unique, 0..n));
    let cases = [
        ("with payloads", &log),
        ("every payload and party name distinct", &unique_log),
        ("headers only", &bare),
    ];
    // One sync range per call, and as many as catching up takes in one call
    // when its peer answers faster than the store ingests.
    let calls = [MAX_RANGE_ENTRIES as usize, CATCH_UP_BATCH];
    // Each round measures both baselines and then every ingest, so that a
    // ratio compares figures taken seconds apart: this machine's speed
    // drifts by a fifth from one minute to the next.
    let rounds: Vec<IngestRound> = (0..INGEST_ROUNDS)
        .map(|round| {
            let start = Instant::now();
            for chunk in log.iter().zip(&headers).collect::<Vec<_>>().chunks(1024) {
                let batch: Vec<_> = chunk.iter().map(|((e, _), h)| (e, *h, key)).collect();
                entry::verify_batch(&batch).expect("valid");
            }
            let verify = n as f64 / start.elapsed().as_secs_f64();
            // The library's own batch (cofactorless, one key term per
            // signature), for comparison: the store's batches are faster.
            let start = Instant::now();
            for batch in signed.chunks(1024) {
                dalek_verify_batch(batch, key);
            }
            let dalek = n as f64 / start.elapsed().as_secs_f64();
            let ingest = cases.map(|(name, items)| {
                calls.map(|call| {
                    let path = dir.path().join(format!("replica-{round}-{name}-{call}"));
                    let store = Store::open(&path).expect("store");
                    let rate = ingest_rate(&store, &origin, &roster, items, call, Flush::AtEnd);
                    drop(store);
                    std::fs::remove_dir_all(&path).expect("remove replica");
                    rate
                })
            });
            IngestRound {
                verify,
                dalek,
                ingest,
            }
        })
        .collect();
    let sled_full = raw_sled_entry_writes(&dir.path().join("raw-entries"), &log);
    let sled_bare = raw_sled_entry_writes(&dir.path().join("raw-headers"), &bare);
    let (verify, _, _) = spread(rounds.iter().map(|r| r.verify));
    let (dalek, _, _) = spread(rounds.iter().map(|r| r.dalek));
    println!(
        "\nraw baseline: Ed25519 batch verify, 1 core {verify:>10.0} /s  ({n} entries, batches of 1,024; ed25519-dalek's verify_batch {dalek:.0} /s; medians of {INGEST_ROUNDS} rounds)"
    );
    println!(
        "raw baseline: sled writes of entry+payload {sled_full:>10.0} /s, entry alone {sled_bare:.0} /s"
    );
    println!(
        "verified replica ingest, in calls of {} | {} entries (medians of {INGEST_ROUNDS} rounds; a ratio is taken within each round, its median and range shown):",
        calls[0], calls[1]
    );
    let sleds = [Some(sled_full), None, Some(sled_bare)];
    for (case, ((what, _), sled)) in cases.iter().zip(sleds).enumerate() {
        let rates = [0, 1].map(|c| spread(rounds.iter().map(|r| r.ingest[case][c])).0);
        let ratios = |baseline: fn(&IngestRound) -> f64| {
            [0, 1].map(|c| {
                let (median, low, high) =
                    spread(rounds.iter().map(|r| r.ingest[case][c] / baseline(r)));
                format!("{median:.2} ({low:.2}-{high:.2})")
            })
        };
        let [own_range, own_batch] = ratios(|r| r.verify);
        let [dalek_range, dalek_batch] = ratios(|r| r.dalek);
        print!(
            "  {what:<38} {:>8.0} | {:>8.0} /s  ratio to verify {own_range} | {own_batch} (to ed25519-dalek's {dalek_range} | {dalek_batch})",
            rates[0], rates[1]
        );
        match sled {
            Some(sled) => println!(
                ", to sled writes {:.2} | {:.2}",
                rates[0] / sled,
                rates[1] / sled
            ),
            None => println!(),
        }
    }
    drop(unique_log);

    // Publishing while the node catches up another member's log: appends
    // to different logs take different locks, but share the two cores.
    let store = Store::open(&dir.path().join("db-catching-up")).expect("store");
    let done = Arc::new(AtomicBool::new(false));
    let (rate, p50, p99, ingest_beside) = std::thread::scope(|scope| {
        let catching_up = scope.spawn(|| {
            let rate = ingest_rate(&store, &origin, &roster, &log, CATCH_UP_BATCH, Flush::AtEnd);
            done.store(true, Ordering::Release);
            rate
        });
        let (rate, p50, p99) = publish_rate(
            dir.path(),
            store.clone(),
            8,
            &Until::Done(done.clone()),
            &mx_records,
        );
        (rate, p50, p99, catching_up.join().expect("ingest thread"))
    });
    println!(
        "\n 8 publishers while the same node ingests the {n} entries in calls of {CATCH_UP_BATCH}: {rate:.0} /s  ack p50 {:.2} ms  p99 {:.2} ms | ingest beside them {ingest_beside:.0} /s",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );

    // The proof store is built in slices, signed and ingested headers only,
    // so that a million entries never sit in memory at once.
    let big = scale(1_000_000.0);
    let mut stored: Vec<Hash> = Vec::with_capacity(2 * big);
    let store = Store::open(&dir.path().join("proofs")).expect("store");
    let start = Instant::now();
    let mut offset = 0;
    while offset < big {
        let end = (offset + 65_536).min(big);
        let slice = sign_range(&signing_key, &origin, &payloads, offset..end);
        for (i, e) in slice.iter().enumerate() {
            let new = merkle::stored_hashes_for_record((offset + i) as u64, e.leaf_hash(), &stored)
                .expect("hashes");
            stored.extend(new);
        }
        for chunk in slice.chunks(1024) {
            let bare = chunk.iter().map(|e| (e.clone(), None)).collect();
            store
                .ingest(&origin, bare, &roster, concord_node::clock::now())
                .expect("ingest");
        }
        offset = end;
    }
    store.flush_blocking().expect("flush");
    let size = offset as u64;
    let built = start.elapsed();
    // The store cached every hash as it committed the build, so these proofs
    // read none from sled; the first ones still find the CPU's caches cold.
    // A second pass over other random indexes shows the steady state.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut first_pass, mut memory) = time_proofs(&store, &origin, &stored, size, &mut seed);
    // The same first proofs over the in-memory list: a tail both have is
    // the machine's just after the build, not the store's.
    let mut cold = first_pass[..COLD_PROOFS].to_vec();
    let mut memory_cold = memory[..COLD_PROOFS].to_vec();
    let (mut second_pass, memory_again) = time_proofs(&store, &origin, &stored, size, &mut seed);
    memory.extend(memory_again);
    for times in [
        &mut first_pass,
        &mut cold,
        &mut memory_cold,
        &mut second_pass,
        &mut memory,
    ] {
        times.sort();
    }
    // A tail is the store's only if memory-bound work of the same length
    // does not have it: groups of in-memory proofs as long as one store
    // proof, timed the same way.
    let group = (percentile(&second_pass, 0.5).as_secs_f64()
        / percentile(&memory, 0.5).as_secs_f64().max(1e-9))
    .round()
    .max(1.0) as usize;
    let mut groups: Vec<Duration> = (0..PROOFS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..group {
                let index = next_index(&mut seed, size);
                std::hint::black_box(
                    merkle::inclusion_proof(size, index, &stored[..]).expect("proof"),
                );
            }
            t.elapsed()
        })
        .collect();
    groups.sort();
    // Reopened, the store caches the log's hashes again on the first read
    // that needs them: that proof reads every entry once.
    drop(store);
    let t = Instant::now();
    let store = Store::open(&dir.path().join("proofs")).expect("reopen");
    let reopen = t.elapsed();
    let t = Instant::now();
    let index = next_index(&mut seed, size);
    store.inclusion_proof(&origin, index, size).expect("proof");
    let refill = t.elapsed();
    let (mut reopened, _) = time_proofs(&store, &origin, &stored, size, &mut seed);
    reopened.sort();
    let p = |times: &[Duration]| {
        format!(
            "p50 {:.1} µs p99 {:.1} µs",
            percentile(times, 0.5).as_secs_f64() * 1e6,
            percentile(times, 0.99).as_secs_f64() * 1e6
        )
    };
    println!(
        "\ninclusion proof at {size} entries (store signed and built in {:.1} s), two passes of {PROOFS} random indexes:\n  store, first pass {} (its first {COLD_PROOFS}: {}, the same over the in-memory list: {}); second pass {}\n  in-memory, both passes {}; ratio of p50s (second pass) {:.1}\n  in-memory, groups of {group} proofs (as long as one store proof) {}\n  reopened in {:.0} ms; its first proof {:.0} ms (caches the log's hashes), then {}",
        built.as_secs_f64(),
        p(&first_pass),
        p(&cold),
        p(&memory_cold),
        p(&second_pass),
        p(&memory),
        percentile(&second_pass, 0.5).as_secs_f64()
            / percentile(&memory, 0.5).as_secs_f64().max(1e-9),
        p(&groups),
        reopen.as_secs_f64() * 1e3,
        refill.as_secs_f64() * 1e3,
        p(&reopened),
    );
}
