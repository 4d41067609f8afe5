//! Screening over a real store; prints numbers beside same-run baselines,
//! asserts nothing.
//!
//! `cargo bench -p concord-node --bench screening` (scale the counts with
//! `CONCORD_BENCH_SCALE`, default 1.0). An observer's store takes 100,000
//! synthetic active denials (`concord_scenarios::synthetic`, the data of
//! screening's in-memory benchmark) from the logs of the five members that
//! denied them, by replica ingest in catch-up calls, each log's checkpoint
//! after it. A second store takes the same entries with the screening
//! index skipped ([`Store::skip_screening_index`]), alternating log by log
//! with the first. Then:
//! - replica ingest per second with the screening index, beside the same
//!   ingest without it;
//! - the sled directory's size of each store, the index's rows, and its
//!   memory;
//! - one application (5 parties, 3 items) through
//!   `concord_node::screening::screen`, checkpoints and proofs included:
//!   p50, p99, max, in two passes, beside a scan that reads, parses and
//!   scores every stored denial; and the posting reads of candidate
//!   selection alone;
//! - applications per second through `screen`, on one thread and on two;
//! - the store opened again: the index read from its rows, every version
//!   prepared again ([`Store::warm_screening`]), and a third pass.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use concord_keys::roster::Roster;
use concord_node::home::Home;
use concord_node::query::Queries;
use concord_node::replicate::CATCH_UP_BATCH;
use concord_node::screening::{self, Request};
use concord_node::store::keys;
use concord_node::store::{Store, open_sled};
use concord_node::testnet::{self, Plan};
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::SignedEntry;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Date, Kind, Record};
use concord_scenarios::rng::Rng;
use concord_scenarios::synthetic::{self, DENYING_STATES};
use concord_screening::index::MAX_POSTINGS;
use concord_screening::{
    Application, DEFAULT_THRESHOLD, PreparedApplication, PreparedDenial, score_denial,
};

use common::{Flush, cores, ingest_rate, percentile, scale, sign_range};

const N_DENIALS: f64 = 100_000.0;
const N_APPLICATIONS: f64 = 400.0;
const N_SCANS: usize = 3;
const N_BATCH: f64 = 2_000.0;
/// The seed of screening's in-memory benchmark: the same denials.
const SEED: u64 = 0x5EED_C0DE_2026;
const FEDERATION: &str = "pacific-alliance";
/// The screening node: an observer (of the US), whose store holds every
/// member's log as a replica.
const OBSERVER: &str = "un1540";
/// 2026-12-02: every synthetic denial (decided 2026-01-15) is in force.
const TODAY: u64 = 1_796_212_800;

/// One member's log as a replica receives it.
struct Log {
    id: String,
    origin: Origin,
    items: Vec<(SignedEntry, Option<Vec<u8>>)>,
    key: ed25519_dalek::SigningKey,
}

/// The synthetic denials, signed into the log of the member whose state
/// denied each, and the first party name of every denial.
fn logs(root: &Path, n_denials: usize) -> (Vec<Log>, Vec<String>) {
    let mut rng = Rng::new(SEED);
    let json: Vec<String> = (0..n_denials)
        .map(|_| synthetic::denial_json(&mut rng))
        .collect();
    let records = concord_node::parallel::par_map(&json, |json| {
        Record::parse(Kind::Denial, json.as_bytes()).expect("synthetic denial")
    });
    let denied = records
        .iter()
        .map(|record| match record {
            Record::Denial(denial) => denial.parties[0].name.as_str().to_owned(),
            _ => unreachable!("parsed as a denial"),
        })
        .collect();
    let logs = DENYING_STATES
        .iter()
        .map(|state| {
            let id = state.to_ascii_lowercase();
            let origin = Origin::for_member(FEDERATION, &id).expect("origin");
            let payloads: Vec<(Kind, Vec<u8>)> = records
                .iter()
                .filter(|record| match record {
                    Record::Denial(denial) => denial.denying_state.as_str() == *state,
                    _ => false,
                })
                .map(|record| (Kind::Denial, record.to_canonical_bytes()))
                .collect();
            let key = Home::new(&root.join(&id))
                .identity()
                .expect("identity")
                .log_key
                .clone();
            let entries = sign_range(&key, &origin, &payloads, 0..payloads.len());
            let items = entries
                .into_iter()
                .zip(payloads)
                .map(|(entry, (_, payload))| (entry, Some(payload)))
                .collect();
            Log {
                id,
                origin,
                items,
                key,
            }
        })
        .collect();
    (logs, denied)
}

/// Signs the checkpoint of `log`'s stored tree, as its member would, and
/// gives it to `store`: screening reads each log up to its checkpoint.
fn checkpoint(store: &Store, log: &Log, roster: &Roster) {
    let head = store.head(&log.origin).expect("head");
    let note = SignedCheckpoint::sign(
        Checkpoint::new(log.origin.clone(), head.size, head.root),
        &log.key,
    );
    store
        .accept_checkpoint(&note.to_bytes(), roster)
        .expect("store")
        .expect("the checkpoint of the stored tree");
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|entry| {
            let entry = entry.expect("dir entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dir_size(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// The screening index's rows in the store at `path` (closed), and the
/// bytes of their keys and values.
fn screening_rows(path: &Path) -> (usize, u64) {
    let db = open_sled(path).expect("raw sled");
    let data = db.open_tree("data").expect("data tree");
    data.scan_prefix([keys::SCREEN_ROW])
        .map(|item| item.expect("posting"))
        .fold((0, 0), |(n, bytes), (key, value)| {
            (n + 1, bytes + (key.len() + value.len()) as u64)
        })
}

/// Every stored denial read, parsed, prepared and scored against
/// `application`: what screening costs without an index. Returns the hits.
fn scan(store: &Store, origins: &[Origin], application: &Application) -> Vec<(Origin, u64)> {
    let prepared = PreparedApplication::new(application);
    let mut hits = Vec::new();
    for origin in origins {
        let size = store.head(origin).expect("head").size;
        for start in (0..size).step_by(1024) {
            for entry in store.entries(origin, start, 1024).expect("entries") {
                let header = entry.decode_header().expect("header");
                let payload = store
                    .payload(&header.payload.sha256.0)
                    .expect("read")
                    .expect("payload");
                let Ok(Record::Denial(denial)) = Record::parse(header.kind, &payload) else {
                    continue;
                };
                let denial = PreparedDenial::new(&denial);
                if let Some(hit) = score_denial(&prepared, header.index, &denial)
                    && hit.score >= DEFAULT_THRESHOLD
                {
                    hits.push((origin.clone(), header.index));
                }
            }
        }
    }
    hits
}

/// One pass of `requests` through `screen`, each timed.
struct Pass {
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Hits per application.
    hits: f64,
}

fn screen_pass(queries: &Queries, requests: &[Request]) -> Pass {
    let mut latencies = Vec::with_capacity(requests.len());
    let mut n_hits = 0;
    for request in requests {
        let started = Instant::now();
        let result = screening::screen(queries, request, TODAY).expect("screens");
        latencies.push(started.elapsed());
        n_hits += result.hits.len();
    }
    latencies.sort_unstable();
    Pass {
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        max: latencies[latencies.len() - 1],
        hits: n_hits as f64 / requests.len() as f64,
    }
}

/// The posting reads of candidate selection alone, per application.
struct Reads {
    p50: Duration,
    p99: Duration,
    terms: f64,
    postings: f64,
}

/// Times the store's posting reads for every term each application's
/// parties look up, with the limits `concord_screening::candidates` uses.
fn posting_reads(store: &Store, requests: &[Request]) -> Reads {
    let mut times = Vec::with_capacity(requests.len());
    let (mut n_terms, mut n_postings) = (0, 0);
    for request in requests {
        let started = Instant::now();
        for party in concord_screening::query_terms(&request.application) {
            let limited = party.names.iter().map(|term| (term, MAX_POSTINGS));
            let always = party.always.iter().map(|term| (term, usize::MAX));
            for (term, limit) in limited.chain(always) {
                n_terms += 1;
                if let Some(posted) = store.screen_postings(term, limit).expect("postings") {
                    n_postings += posted.len();
                }
            }
        }
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Reads {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        terms: n_terms as f64 / requests.len() as f64,
        postings: n_postings as f64 / requests.len() as f64,
    }
}

/// The process's peak resident memory (`VmHWM`), in MiB.
fn peak_resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn main() {
    let n_denials = scale(N_DENIALS);
    let n_applications = scale(N_APPLICATIONS);
    let n_batch = scale(N_BATCH);
    let cores = cores();
    println!("cores: {cores}; load average {}", load_average());

    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    testnet::build(&Plan {
        dir: root.to_path_buf(),
        members: DENYING_STATES
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        observers: vec![format!("{OBSERVER}:US")],
        federation: FEDERATION.into(),
        sync_interval_ms: 1000,
    })
    .expect("testnet");
    let roster = Home::new(&root.join("mx")).roster().expect("roster");

    let started = Instant::now();
    let (logs, denied) = logs(root, n_denials);
    println!(
        "{n_denials} synthetic denials signed into {} logs ({}) in {:.1} s",
        logs.len(),
        logs.iter()
            .map(|log| format!("{} {}", log.id, log.items.len()))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );

    // Log by log, alternating which store goes first, so that both see the
    // machine alike.
    let with_path = root.join("indexed.db");
    let without_path = root.join("unindexed.db");
    let with = Store::open(&with_path).expect("store");
    let without = Store::open(&without_path).expect("store");
    without.skip_screening_index().expect("skip");
    // As on a running node, the index in memory is up before the entries
    // arrive, so the ingest keeps it too.
    with.warm_screening().expect("index");
    let (mut with_secs, mut without_secs) = (0.0, 0.0);
    let mut ratios = Vec::new();
    for (n, log) in logs.iter().enumerate() {
        let n_items = log.items.len() as f64;
        let rate = |store: &Store| {
            ingest_rate(
                store,
                &log.origin,
                &roster,
                &log.items,
                CATCH_UP_BATCH,
                Flush::AtEnd,
            )
        };
        let (indexed, unindexed) = if n % 2 == 0 {
            let indexed = rate(&with);
            (indexed, rate(&without))
        } else {
            let unindexed = rate(&without);
            (rate(&with), unindexed)
        };
        with_secs += n_items / indexed;
        without_secs += n_items / unindexed;
        ratios.push(indexed / unindexed);
        println!(
            "ingest of {}'s {} entries: {indexed:.0} /s with the screening index, {unindexed:.0} /s without; ratio {:.2}",
            log.id,
            log.items.len(),
            indexed / unindexed
        );
        checkpoint(&with, log, &roster);
        checkpoint(&without, log, &roster);
    }
    let ingest_with = n_denials as f64 / with_secs;
    let ingest_without = n_denials as f64 / without_secs;
    ratios.sort_by(f64::total_cmp);
    println!(
        "ingest, all logs, calls of {CATCH_UP_BATCH}: {ingest_with:.0} /s with the index, \
         {ingest_without:.0} /s without; ratio {:.2} (logs {:.2}–{:.2})",
        ingest_with / ingest_without,
        ratios[0],
        ratios[ratios.len() - 1]
    );
    with.flush_blocking().expect("flush");
    without.flush_blocking().expect("flush");
    let (index_memory, _) = with.screening_memory().expect("index");
    println!(
        "index memory, counted (lists and map entries, prepared denials not): {:.0} MiB; \
         process peak resident {:.0} MiB",
        index_memory as f64 / f64::from(1 << 20),
        peak_resident_mib()
    );
    let (with_bytes, without_bytes) = (dir_size(&with_path), dir_size(&without_path));
    drop(without);

    let queries = Queries::of_home(with.clone(), &Home::new(&root.join(OBSERVER)))
        .expect("the observer's queries");
    let at = Some(Date::parse("2026-12-02").expect("date"));
    let mut rng = Rng::new(SEED ^ 0xA11);
    let denied: Vec<&str> = denied.iter().map(String::as_str).collect();
    let requests: Vec<Request> = (0..n_applications)
        .map(|_| {
            let json = synthetic::application_json(&mut rng, &denied);
            Request {
                application: Application::parse(json.as_bytes()).expect("synthetic application"),
                at,
                threshold: None,
            }
        })
        .collect();
    // The first pass finds sled still freeing what the ingest left behind
    // (its epoch-deferred garbage, collected by whichever thread pins next);
    // the second, the store as a node serving queries sees it.
    let first = screen_pass(&queries, &requests);
    let second = screen_pass(&queries, &requests);
    for (pass, name) in [
        (&first, "first pass, just after the ingest"),
        (&second, "second pass"),
    ] {
        println!(
            "screen, one application (5 parties, 3 items), {} applications, {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.1} hits each",
            requests.len(),
            ms(pass.p50),
            ms(pass.p99),
            ms(pass.max),
            pass.hits
        );
    }

    let reads = posting_reads(&with, &requests);
    println!(
        "of which the posting reads alone (every term of every party, as candidate selection \
         looks them up): p50 {:.2} ms, p99 {:.2} ms; {:.0} terms and {:.0} postings per application",
        ms(reads.p50),
        ms(reads.p99),
        reads.terms,
        reads.postings
    );

    let origins: Vec<Origin> = logs.iter().map(|log| log.origin.clone()).collect();
    let mut scans = Vec::with_capacity(N_SCANS);
    let (mut n_scanned, mut n_missed) = (0, 0);
    for request in requests.iter().take(N_SCANS) {
        let started = Instant::now();
        let scanned = scan(&with, &origins, &request.application);
        scans.push(started.elapsed());
        let screened: Vec<(Origin, u64)> = screening::screen(&queries, request, TODAY)
            .expect("screens")
            .hits
            .into_iter()
            .map(|hit| (hit.entry.origin, hit.entry.index))
            .collect();
        n_scanned += scanned.len();
        n_missed += scanned.iter().filter(|hit| !screened.contains(hit)).count();
    }
    scans.sort_unstable();
    let scan_p50 = percentile(&scans, 0.5);
    println!(
        "scan reading, parsing and scoring all {n_denials} stored denials, one application: \
         p50 {:.0} ms over {} runs; {n_scanned} hits, of which screen missed {n_missed}",
        ms(scan_p50),
        scans.len()
    );

    let batch: Vec<&Request> = requests.iter().cycle().take(n_batch).collect();
    let started = Instant::now();
    for request in &batch {
        std::hint::black_box(screening::screen(&queries, request, TODAY).expect("screens"));
    }
    let one_thread = n_batch as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for chunk in batch.chunks(n_batch.div_ceil(2)) {
            let queries = &queries;
            scope.spawn(move || {
                for request in chunk {
                    std::hint::black_box(
                        screening::screen(queries, request, TODAY).expect("screens"),
                    );
                }
            });
        }
    });
    let two_threads = n_batch as f64 / started.elapsed().as_secs_f64();
    println!(
        "batch of {n_batch} applications through screen: {one_thread:.0} /s on one thread, {two_threads:.0} /s on two"
    );

    // A node started again reads the index from its rows, and prepares
    // every version in the background before its first screenings.
    drop(queries);
    drop(with);
    let started = Instant::now();
    let with = Store::open(&with_path).expect("store");
    let opened = started.elapsed();
    let started = Instant::now();
    with.screening_memory().expect("index");
    let read = started.elapsed();
    let started = Instant::now();
    let prepared = with.warm_screening().expect("warm");
    let warmed = started.elapsed();
    let queries = Queries::of_home(with.clone(), &Home::new(&root.join(OBSERVER)))
        .expect("the observer's queries");
    let third = screen_pass(&queries, &requests);
    println!(
        "opened again in {:.2} s; index read from its rows in {:.2} s; {prepared} versions \
         prepared in {:.1} s; third pass: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        opened.as_secs_f64(),
        read.as_secs_f64(),
        warmed.as_secs_f64(),
        ms(third.p50),
        ms(third.p99),
        ms(third.max)
    );
    drop(queries);
    drop(with);
    let (n_keys, key_bytes) = screening_rows(&with_path);
    let per_100k = |bytes: f64| bytes / f64::from(1 << 20) * 100_000.0 / n_denials as f64;
    let index_bytes = with_bytes.saturating_sub(without_bytes) as f64;
    println!(
        "disk: {:.0} MiB with the screening index, {:.0} MiB without: the index {:.0} MiB \
         per 100,000 denials; {n_keys} screening rows holding {:.0} MiB of keys and values",
        with_bytes as f64 / f64::from(1 << 20),
        without_bytes as f64 / f64::from(1 << 20),
        per_100k(index_bytes),
        key_bytes as f64 / f64::from(1 << 20)
    );
    println!("load average {}", load_average());

    println!();
    println!("| figure | current | raw baseline, same run | target | met |");
    println!("|---|---|---|---|---|");
    for (pass, name) in [
        (&first, "first pass, just after the ingest"),
        (&second, "second pass"),
        (&third, "third pass, the store opened again"),
    ] {
        println!(
            "| one application through `screen`, {} applications, {n_denials} denials, {name} | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | scan reading, parsing and scoring every stored denial: p50 {:.0} ms ({} runs) | p99 ≤ 10 ms | {} |",
            requests.len(),
            ms(pass.p50),
            ms(pass.p99),
            ms(pass.max),
            ms(scan_p50),
            scans.len(),
            if ms(pass.p99) <= 10.0 {
                "yes"
            } else {
                "**no**"
            }
        );
    }
    println!(
        "| batch throughput through `screen`, {n_batch} applications | {one_thread:.0} /s on one thread, {two_threads:.0} /s on two | — | ≥ 500 /s | {} |",
        if one_thread.max(two_threads) >= 500.0 {
            "yes"
        } else {
            "**no**"
        }
    );
    println!(
        "| disk per 100,000 denials, the index's share | {:.0} MiB ({n_keys} rows, {:.0} MiB of keys and values) | the store without the index: {:.0} MiB | — | — |",
        per_100k(index_bytes),
        key_bytes as f64 / f64::from(1 << 20),
        per_100k(without_bytes as f64)
    );
    println!(
        "| replica ingest with the screening index, calls of {CATCH_UP_BATCH} | {ingest_with:.0} /s | the same ingest without it: {ingest_without:.0} /s | ratio ≥ 0.8 | {} ({:.2}) |",
        if ingest_with / ingest_without >= 0.8 {
            "yes"
        } else {
            "**no**"
        },
        ingest_with / ingest_without
    );
}
