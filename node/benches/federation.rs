//! Federation benchmarks over real `concord run` processes on 127.0.0.1;
//! prints numbers and ratios, asserts nothing.
//!
//! `cargo bench -p concord-node --bench federation` (scale the counts with
//! `CONCORD_BENCH_SCALE`, default 1.0):
//! - propagation latency, from sending a publish to the moment the last
//!   other member stored the entry, p50/p99, in a 5-node and a 30-node
//!   federation;
//! - catch-up throughput of a member 100,000 entries behind, beside the raw
//!   replica-ingest rate of the same build (`Store::ingest` in calls as
//!   large as catching up makes them, in this process) as a ratio;
//! - catch-up after a burst: 64 clients publish 10,000 entries to one
//!   member of four, the member is restarted, and the benchmark measures
//!   when every replica holds the whole log, and the bytes the publisher's
//!   transports sent (its `/metrics`), beside the entries' own bytes times
//!   the number of replicas.
//!
//! Name scenarios as arguments (`propagation`, `catch-up`, `burst`) to run
//! only those.
//!
//! Arrival is read from each node's JSON log: the node reports every growth
//! of a replica (`replica grew`, with the new size) at debug level, stamped
//! by the node's own clock to the microsecond; publishes are stamped by this
//! process with the same system clock.

mod common;

use std::collections::HashMap;
use std::io::BufRead as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::replicate::CATCH_UP_BATCH;
use concord_node::store::Store;
use concord_protocol::entry::Visibility;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind};
use concord_scenarios::process::{Concord, NodeOptions};
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;

use common::{Flush, cores, ingest_rate, percentile, sample_payloads, sample_records, scale};

const FEDERATION: &str = "pacific-alliance";

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Microseconds since the epoch of an RFC 3339 UTC timestamp as
/// tracing-subscriber writes it (`2026-11-24T04:40:00.123456Z`).
fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let micros: i64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    // Days from the civil date (proleptic Gregorian), 1970-01-01 = 0.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + min * 60 + s) * 1_000_000) + micros)
}

/// A federation of `members` (ids as `concord testnet create` takes them),
/// its nodes stopped when it drops.
fn federation(members: &[String]) -> Testnet {
    Testnet::create_with(
        &Concord::isolated(env!("CARGO_BIN_EXE_concord")),
        &TestnetSpec {
            members: members.to_vec(),
            observers: Vec::new(),
            sync_interval_ms: 1000,
        },
    )
}

/// Starts `id` logging JSON, with every growth of a replica at debug level,
/// and waits until its API answers.
fn start(net: &mut Testnet, id: &str) {
    net.start_with(
        id,
        &NodeOptions {
            global_args: vec!["--log-format".into(), "json".into()],
            envs: vec![(
                "CONCORD_LOG".into(),
                "info,concord_node::replicate=debug,libp2p=warn".into(),
            )],
            ..NodeOptions::default()
        },
    );
}

/// Publishes through `id`'s API; the entry's index.
fn publish(net: &Testnet, id: &str, kind: Kind, body: &[u8]) -> u64 {
    net.api(id).publish(&kind.to_string(), body).index
}

/// When each replica of `node` reached each size, from its log.
fn growth(net: &Testnet, node: &str) -> HashMap<String, Vec<(u64, i64)>> {
    let file = std::fs::File::open(net.log_path(node)).expect("log");
    let mut out: HashMap<String, Vec<(u64, i64)>> = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = line else { continue };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] != "replica grew" {
            continue;
        }
        let (Some(origin), Some(size), Some(at)) = (
            event["fields"]["origin"].as_str(),
            event["fields"]["size"].as_u64(),
            event["timestamp"].as_str().and_then(parse_timestamp),
        ) else {
            continue;
        };
        out.entry(origin.to_owned()).or_default().push((size, at));
    }
    out
}

fn origin(id: &str) -> String {
    format!("{FEDERATION}.concord/{id}")
}

/// Publishes `n` entries round-robin over the members, one every `gap`,
/// and measures when the last other member stored each.
fn propagation(n_nodes: usize, n: usize, gap: Duration) -> (f64, f64, usize) {
    // Every node of the benchmark sits in one country; ids must only be
    // distinct.
    let ids: Vec<String> = (0..n_nodes).map(|i| format!("m{i:02}:CL")).collect();
    let names: Vec<String> = (0..n_nodes).map(|i| format!("m{i:02}")).collect();
    let mut net = federation(&ids);
    for id in &names {
        start(&mut net, id);
    }
    let bodies = sample_payloads("CL");
    // Warm-up: one entry per member, until every node holds them all, so
    // the gossip mesh is formed before anything is timed.
    for id in &names {
        publish(&net, id, bodies[0].0, &bodies[0].1);
    }
    wait_until(Duration::from_secs(120), "the federation forms", || {
        names
            .iter()
            .all(|reader| names.iter().all(|log| net.log_size(reader, log) >= 1))
    });
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let id = &names[i % n_nodes];
        let (kind, body) = &bodies[i % bodies.len()];
        let at = now_micros();
        let index = publish(&net, id, *kind, body);
        sent.push((id.clone(), index, at));
        std::thread::sleep(gap);
    }
    // Let the last ones arrive (anti-entropy would carry any gossip missed).
    std::thread::sleep(Duration::from_secs(3));
    let growth: Vec<_> = names.iter().map(|id| (id, growth(&net, id))).collect();
    let mut latencies = Vec::with_capacity(n);
    let mut missing = 0;
    for (publisher, index, at) in &sent {
        let log = origin(publisher);
        let mut last = None::<i64>;
        for (reader, grown) in &growth {
            if *reader == publisher {
                continue;
            }
            let arrival = grown
                .get(&log)
                .and_then(|g| g.iter().find(|(size, _)| *size > *index))
                .map(|(_, t)| *t);
            match arrival {
                Some(t) => last = Some(last.map_or(t, |l| l.max(t))),
                None => {
                    missing += 1;
                    last = None;
                    break;
                }
            }
        }
        if let Some(last) = last {
            latencies.push((last - at) as f64 / 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        missing,
    )
}

/// Catch-up of a member `n` entries behind, and raw ingest of the same
/// entries in this process.
fn catch_up(n: usize) -> (f64, f64, f64) {
    let mut net = federation(&["cl".into(), "mx".into()]);
    let cl_origin = Origin::new(&origin("cl")).expect("origin");
    let records = sample_records("CL");
    let cl = Home::new(&net.home("cl"));
    let roster = cl.roster().expect("roster");
    let key = cl.identity().expect("keys").log_key.clone();
    let entries = {
        let store = Store::open(&cl.db_path()).expect("cl store");
        for start in (0..n).step_by(1000) {
            let group: Vec<OwnEntry> = (start..(start + 1000).min(n))
                .map(|i| OwnEntry {
                    record: records[i % records.len()].clone(),
                    visibility: Visibility::Federation,
                    refers_to: None,
                })
                .collect();
            publish::append_own(
                &store,
                &cl_origin,
                Country::new("CL").expect("a country"),
                &key,
                1_763_935_200,
                &group,
            )
            .expect("append");
        }
        store.flush_blocking().expect("flush");
        let mut entries = Vec::with_capacity(n);
        for start in (0..n as u64).step_by(1024) {
            for entry in store.entries(&cl_origin, start, 1024).expect("read") {
                let header = entry.decode_header().expect("header");
                let payload = store.payload(&header.payload.sha256.0).expect("read");
                entries.push((entry, payload));
            }
        }
        entries
    };
    // Raw replica ingest of the same build: what catching up could reach.
    let raw = {
        let store = Store::open(&net.root().join("raw-db")).expect("raw store");
        ingest_rate(
            &store,
            &cl_origin,
            &roster,
            &entries,
            CATCH_UP_BATCH,
            Flush::EachCall,
        )
    };
    drop(entries);
    start(&mut net, "cl");
    let spawned = now_micros();
    start(&mut net, "mx");
    wait_until(Duration::from_secs(600), "mx catches up", || {
        net.log_size("mx", "cl") >= n as u64
    });
    let grown = growth(&net, "mx")
        .remove(cl_origin.as_str())
        .expect("growth");
    let first = grown.first().map(|(_, t)| *t).expect("grew");
    let last = grown
        .iter()
        .find(|(size, _)| *size >= n as u64)
        .map(|(_, t)| *t)
        .expect("caught up");
    let transfer = n as f64 / ((last - first) as f64 / 1e6);
    let from_spawn = n as f64 / ((last - spawned) as f64 / 1e6);
    (transfer, from_spawn, raw)
}

/// Bytes the transports of running node `id` sent since it started
/// (`libp2p_bandwidth_bytes_total`, outbound, every protocol stack).
fn bytes_sent(net: &Testnet, id: &str) -> u64 {
    net.api(id)
        .get("/metrics")
        .body
        .lines()
        .filter(|line| {
            line.starts_with("libp2p_bandwidth_bytes_total{")
                && line.contains("direction=\"Outbound\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// What the burst scenario measured.
struct Burst {
    n: usize,
    /// Seconds the clients took to publish the burst.
    publish_s: f64,
    /// Seconds from the restarted publisher answering until each replica
    /// held the whole log.
    converged_s: Vec<f64>,
    /// The publisher's transports: bytes sent during the burst and until
    /// it stopped, then from its restart until every replica converged.
    sent_before: u64,
    sent_after: u64,
    /// The entries as the wire carries them (JSON, base64: PROTOCOL.md
    /// §3.4), and their raw header, signature and payload bytes.
    wire_bytes: u64,
    raw_bytes: u64,
    /// Entries that catch-up ranges brought which a replica already held,
    /// summed over the replicas.
    duplicates: u64,
}

/// `n` entries published by 64 clients at once to one member of four,
/// the member restarted (SIGTERM, then started again), until every replica
/// holds its whole log.
fn burst(n: usize) -> Burst {
    const CLIENTS: usize = 64;
    let ids = ["cl", "mx", "pe", "br"];
    let replicas = &ids[1..];
    let mut net = federation(&ids.map(String::from));
    // The publish rate per token would hold the burst back.
    let unlimited = i64::from(u32::MAX);
    net.set_api_limits(
        "cl",
        &[
            ("publish_per_second", unlimited),
            ("publish_burst", unlimited),
        ],
    );
    for id in ids {
        start(&mut net, id);
    }
    let bodies = sample_payloads("CL");
    // Warm-up, as for propagation: the mesh forms before anything counts.
    publish(&net, "cl", bodies[0].0, &bodies[0].1);
    wait_until(Duration::from_secs(120), "the federation forms", || {
        replicas.iter().all(|id| net.log_size(id, "cl") >= 1)
    });
    let total = n as u64 + 1;
    let sent_at_start = bytes_sent(&net, "cl");
    let records: Vec<(String, Vec<u8>)> = bodies
        .iter()
        .map(|(kind, body)| (kind.to_string(), body.clone()))
        .collect();
    let began = Instant::now();
    net.publish_concurrently("cl", CLIENTS, n, &records);
    let publish_s = began.elapsed().as_secs_f64();
    let sent_before = bytes_sent(&net, "cl") - sent_at_start;
    net.stop("cl");
    start(&mut net, "cl");
    let restarted = now_micros();
    wait_until(Duration::from_secs(900), "every replica converges", || {
        replicas.iter().all(|id| net.log_size(id, "cl") >= total)
    });
    let sent_after = bytes_sent(&net, "cl");
    let converged_s = replicas
        .iter()
        .map(|id| {
            let reached = growth(&net, id)
                .remove(&origin("cl"))
                .and_then(|g| g.into_iter().find(|(size, _)| *size >= total))
                .map(|(_, at)| at)
                .expect("the replica's log reports reaching the size");
            (reached - restarted) as f64 / 1e6
        })
        .collect();
    let duplicates = replicas
        .iter()
        .map(|id| {
            net.status(id)["sync"]["synced_duplicates"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    net.stop("cl");
    let (mut wire_bytes, mut raw_bytes) = (0, 0);
    let store = Store::open(&Home::new(&net.home("cl")).db_path()).expect("cl store");
    let cl_origin = Origin::new(&origin("cl")).expect("origin");
    for start in (1..total).step_by(1024) {
        for entry in store.entries(&cl_origin, start, 1024).expect("read") {
            let header = entry.decode_header().expect("header");
            let payload = store.payload(&header.payload.sha256.0).expect("read");
            let wire = serde_json::to_vec(&entry.to_wire(payload.as_deref())).expect("json");
            wire_bytes += wire.len() as u64;
            raw_bytes += (entry.header_bytes.len() + 64 + payload.map_or(0, |p| p.len())) as u64;
        }
    }
    Burst {
        n,
        publish_s,
        converged_s,
        sent_before,
        sent_after,
        wire_bytes,
        raw_bytes,
        duplicates,
    }
}

fn main() {
    let cores = cores();
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    println!("machine: {cores} cores (nproc); every node a `concord run` process on 127.0.0.1");
    if runs("burst") {
        let b = burst(scale(10_000.0));
        let replicas = b.converged_s.len() as u64;
        let sent = b.sent_before + b.sent_after;
        let slowest = b.converged_s.iter().copied().fold(0.0, f64::max);
        println!(
            "burst of {} entries from 64 clients ({:.1} s) to one member of four, then the member restarted: every replica converged {slowest:.1} s after the restart (each: {}; target <= 15 s) | the publisher sent {:.1} MB ({:.1} MB until it stopped, {:.1} MB after its restart) | raw baseline, same run: the entries' wire bytes x {replicas} replicas {:.1} MB (raw header, signature and payload bytes x {replicas}: {:.1} MB) | ratio {:.2} to wire bytes, {:.2} to raw (target <= 1.5) | entries catch-up brought that a replica held: {}",
            b.n,
            b.publish_s,
            b.converged_s
                .iter()
                .map(|s| format!("{s:.1} s"))
                .collect::<Vec<_>>()
                .join(", "),
            sent as f64 / 1e6,
            b.sent_before as f64 / 1e6,
            b.sent_after as f64 / 1e6,
            (b.wire_bytes * replicas) as f64 / 1e6,
            (b.raw_bytes * replicas) as f64 / 1e6,
            sent as f64 / (b.wire_bytes * replicas) as f64,
            sent as f64 / (b.raw_bytes * replicas) as f64,
            b.duplicates,
        );
    }
    for (nodes, count, gap_ms) in [(5, scale(300.0), 20), (30, scale(150.0), 40)] {
        if !runs("propagation") {
            break;
        }
        let (p50, p99, missing) = propagation(nodes, count, Duration::from_millis(gap_ms));
        println!(
            "propagation, {nodes} nodes: {count} publishes (one every {gap_ms} ms), publish sent -> last other member stored: p50 {p50:.1} ms, p99 {p99:.1} ms{}",
            if missing > 0 {
                format!(" ({missing} not everywhere within 3 s)")
            } else {
                String::new()
            }
        );
    }
    if !runs("catch-up") {
        return;
    }
    let n = scale(100_000.0);
    let (transfer, from_spawn, raw) = catch_up(n);
    println!(
        "catch-up of a member {n} entries behind: {transfer:.0} entries/s (first to last stored; {from_spawn:.0}/s from process start) | raw replica ingest, same build, calls of {CATCH_UP_BATCH}: {raw:.0} entries/s | ratio {:.2} (target >= 0.5)",
        transfer / raw
    );
}
