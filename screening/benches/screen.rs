//! Screening benchmark: 100,000 synthetic active denials in an [`Index`];
//! applications of 5 parties and 3 items screened one at a time (p50, p99)
//! beside a scan of every denial in the same run, a batch's throughput, and
//! the index's memory, counted.
//!
//! `cargo bench -p concord-screening --bench screen [-- N_DENIALS]`

use std::time::{Duration, Instant};

use concord_protocol::record::{Denial, Kind, Record};
use concord_scenarios::rng::Rng;
use concord_scenarios::synthetic;
use concord_screening::score::{PreparedApplication, PreparedDenial, score_denial};
use concord_screening::{Application, DEFAULT_THRESHOLD, Index};

const N_DENIALS: usize = 100_000;
const N_APPLICATIONS: usize = 400;
const N_SCANS: usize = 3;
const N_BATCH: usize = 2_000;

fn denial(rng: &mut Rng) -> Denial {
    match Record::parse(Kind::Denial, synthetic::denial_json(rng).as_bytes()) {
        Ok(Record::Denial(denial)) => denial,
        other => panic!("synthetic denial: {other:?}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n_denials = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(N_DENIALS);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cores: {cores}");

    let mut rng = Rng::new(0x5EED_C0DE_2026);
    let started = Instant::now();
    let denials: Vec<Denial> = (0..n_denials).map(|_| denial(&mut rng)).collect();
    println!(
        "{n_denials} synthetic denials made in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut index = Index::new();
    for (key, denial) in denials.iter().enumerate() {
        index.insert(key, denial);
    }
    let build = started.elapsed();
    let bytes = index.approximate_bytes();
    println!(
        "index: built in {:.1} s ({:.0} denials/s); about {:.0} MiB, {:.0} MiB per 100,000 denials",
        build.as_secs_f64(),
        n_denials as f64 / build.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / (1 << 20) as f64 * 100_000.0 / n_denials as f64
    );

    let denied: Vec<&str> = denials.iter().map(|d| d.parties[0].name.as_str()).collect();
    let applications: Vec<Application> = (0..N_APPLICATIONS)
        .map(|_| {
            let json = synthetic::application_json(&mut rng, &denied);
            Application::parse(json.as_bytes()).expect("synthetic application")
        })
        .collect();
    let mut latencies = Vec::with_capacity(N_APPLICATIONS);
    let mut n_hits = 0;
    for application in &applications {
        let started = Instant::now();
        let hits = index.screen(application, DEFAULT_THRESHOLD);
        latencies.push(started.elapsed());
        n_hits += hits.len();
    }
    latencies.sort_unstable();
    println!(
        "index, one application (5 parties, 3 items): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.1} hits each",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("applications were screened")),
        n_hits as f64 / N_APPLICATIONS as f64
    );

    // The baseline: every denial prepared in advance and scored, no index.
    let prepared: Vec<PreparedDenial> = denials.iter().map(PreparedDenial::new).collect();
    let mut scans = Vec::with_capacity(N_SCANS);
    let (mut n_scanned, mut n_missed) = (0, 0);
    for application in applications.iter().take(N_SCANS) {
        let started = Instant::now();
        let prepared_application = PreparedApplication::new(application);
        let scanned: Vec<usize> = prepared
            .iter()
            .enumerate()
            .filter_map(|(key, denial)| score_denial(&prepared_application, key, denial))
            .filter(|hit| hit.score >= DEFAULT_THRESHOLD)
            .map(|hit| hit.denial)
            .collect();
        scans.push(started.elapsed());
        let mut indexed: Vec<usize> = index
            .screen(application, DEFAULT_THRESHOLD)
            .into_iter()
            .map(|hit| hit.denial)
            .collect();
        indexed.sort_unstable();
        n_scanned += scanned.len();
        n_missed += scanned.iter().filter(|key| !indexed.contains(key)).count();
    }
    scans.sort_unstable();
    println!(
        "scan of all {n_denials} prepared denials, one application: p50 {:.0} ms over {N_SCANS} runs; \
         {n_scanned} hits, of which the index missed {n_missed}",
        ms(percentile(&scans, 0.5)),
    );

    let batch: Vec<&Application> = applications.iter().cycle().take(N_BATCH).collect();
    let started = Instant::now();
    for application in &batch {
        std::hint::black_box(index.screen(application, DEFAULT_THRESHOLD));
    }
    let one_thread = N_BATCH as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for chunk in batch.chunks(N_BATCH.div_ceil(cores)) {
            let index = &index;
            scope.spawn(move || {
                for application in chunk {
                    std::hint::black_box(index.screen(application, DEFAULT_THRESHOLD));
                }
            });
        }
    });
    let all_cores = N_BATCH as f64 / started.elapsed().as_secs_f64();
    println!(
        "batch of {N_BATCH} applications: {one_thread:.0} /s on one thread, {all_cores:.0} /s on {cores} threads"
    );
}
