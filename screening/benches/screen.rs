//! Screening benchmark: 100,000 synthetic active denials in an [`Index`];
//! applications of 5 parties and 3 items screened one at a time (p50, p99)
//! beside a scan of every denial in the same run, a batch's throughput, and
//! the index's memory, counted.
//!
//! `cargo bench -p concord-screening --bench screen [-- N_DENIALS]`

use std::time::{Duration, Instant};

use concord_protocol::record::{Denial, Kind, Record};
use concord_screening::score::{PreparedApplication, PreparedDenial, score_denial};
use concord_screening::{Application, DEFAULT_THRESHOLD, Index};

const N_DENIALS: usize = 100_000;
const N_APPLICATIONS: usize = 400;
const N_SCANS: usize = 3;
const N_BATCH: usize = 2_000;

/// xorshift64*: seeded, so every run screens the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

const SYLLABLES: &[&str] = &[
    "an", "bar", "ca", "dor", "el", "fa", "gan", "hu", "ix", "ja", "kov", "lu", "mar", "na", "or",
    "pa", "qui", "ro", "sa", "ta", "ur", "va", "wen", "xi", "ya", "zan", "lin", "mo", "te", "ri",
    "sol", "ber", "chen", "dra", "go", "hai", "ko", "mir", "nes", "pol",
];
const GENERIC: &[&str] = &[
    "Trading",
    "Comercial",
    "Industrial",
    "Grupo",
    "Servicios",
    "International",
    "Química",
    "Metalúrgica",
    "Electrónica",
    "Logistics",
    "Technologies",
    "Importadora",
];
const FORMS: &[&str] = &[
    "S.A. de C.V.",
    "Ltda.",
    "S.A.C.",
    "S.A.S.",
    "E.I.R.L.",
    "GmbH",
    "LLC",
    "Co., Ltd.",
    "FZE",
    "",
];
const COUNTRIES: &[&str] = &[
    "MX", "CL", "CO", "PE", "BR", "AE", "CN", "RU", "IR", "KR", "TR", "IN",
];
const ENTRIES: &[&str] = &[
    "1C350",
    "1C350.a",
    "1C351",
    "1C011",
    "1C116",
    "2B001",
    "2B001.b.2",
    "2B350",
    "3A001.a",
    "5A002",
    "6A003",
    "9A004",
    "9A012",
    "ML8",
    "ML10.a",
];
const HS: &[&str] = &[
    "2930.90", "2812.10", "8457.10", "8479.89", "8526.91", "9013.80",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut word: String = (0..n).map(|_| rng.pick(SYLLABLES)).collect();
    word[..1].make_ascii_uppercase();
    word
}

fn name(rng: &mut Rng) -> String {
    let mut parts = vec![word(rng), word(rng)];
    if rng.below(2) == 0 {
        parts.insert(0, rng.pick(GENERIC).to_owned());
    }
    parts.push(rng.pick(FORMS).to_owned());
    parts.join(" ").trim().to_owned()
}

fn party_json(rng: &mut Rng, role: &str, name: &str) -> String {
    let alias = if rng.below(4) == 0 {
        format!(r#", "aliases": ["{} {}"]"#, word(rng), word(rng))
    } else {
        String::new()
    };
    let identifier = if rng.below(3) == 0 {
        format!(
            r#", "identifiers": [{{"scheme": "tax_id", "value": "{:011}"}}]"#,
            rng.next() % 100_000_000_000
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"role": "{role}", "name": "{name}", "country": "{}"{alias}{identifier}}}"#,
        rng.pick(COUNTRIES)
    )
}

fn denial(rng: &mut Rng) -> Denial {
    let roles = ["consignee", "end_user", "intermediary"];
    let parties: Vec<String> = (0..1 + rng.below(3))
        .map(|i| {
            let name = name(rng);
            party_json(rng, roles[i], &name)
        })
        .collect();
    let items: Vec<String> = (0..1 + rng.below(2))
        .map(|_| {
            format!(
                r#"{{"description": "item", "control_entries": ["{}"], "hs_code": "{}"}}"#,
                rng.pick(ENTRIES),
                rng.pick(HS)
            )
        })
        .collect();
    let json = format!(
        r#"{{"denying_state": "{}", "authority": "A", "reference": "R", "decision_date": "2026-01-15",
            "regimes": ["wassenaar"], "items": [{}], "parties": [{}], "reason": "r"}}"#,
        rng.pick(&["MX", "CL", "CO", "PE", "BR"]),
        items.join(","),
        parties.join(",")
    );
    match Record::parse(Kind::Denial, json.as_bytes()) {
        Ok(Record::Denial(denial)) => denial,
        other => panic!("synthetic denial: {other:?}"),
    }
}

/// Five parties (two of them denied names with a typo), three items.
fn application(rng: &mut Rng, denials: &[Denial]) -> Application {
    let roles = [
        "consignee",
        "end_user",
        "intermediary",
        "purchaser",
        "supplier",
    ];
    let parties: Vec<String> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let name = if i < 2 {
                let denied: Vec<char> = denials[rng.below(denials.len())].parties[0]
                    .name
                    .as_str()
                    .chars()
                    .collect();
                // A typo: one of the first letters dropped.
                let at = 1 + rng.below(denied.len().min(6) - 1);
                denied[..at].iter().chain(&denied[at + 1..]).collect()
            } else {
                name(rng)
            };
            party_json(rng, role, &name)
        })
        .collect();
    let items: Vec<String> = (0..3)
        .map(|_| {
            format!(
                r#"{{"description": "item", "control_entries": ["{}"], "hs_codes": ["{}"]}}"#,
                rng.pick(ENTRIES),
                rng.pick(HS)
            )
        })
        .collect();
    let json = format!(
        r#"{{"reference": "L", "parties": [{}], "items": [{}], "destination": "{}"}}"#,
        parties.join(","),
        items.join(","),
        rng.pick(COUNTRIES)
    );
    Application::parse(json.as_bytes()).expect("synthetic application")
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

    let mut rng = Rng(0x5EED_C0DE_2026);
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

    let applications: Vec<Application> = (0..N_APPLICATIONS)
        .map(|_| application(&mut rng, &denials))
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
