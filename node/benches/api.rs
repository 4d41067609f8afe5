//! The API's read and screening latency under 64 concurrent clients, over
//! a real `concord run` process on 127.0.0.1, beside the same calls made
//! directly on its store in this process (the raw baseline); prints
//! figures, asserts nothing.
//!
//! `cargo bench -p concord-node --bench api` (scale the counts with
//! `CONCORD_BENCH_SCALE`, default 1.0): co holds 1,000 of mx's denials,
//! synthetic ones (`concord_scenarios::synthetic`, each with names of its
//! own); 64 clients read entries (`GET /v1/logs/mx/entries/{i}`) and
//! screen applications that each name two of the denied parties with a
//! typo (`POST /v1/screen`), then co is stopped and 64 threads make the
//! same calls on its store through the query service.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use concord_node::home::Home;
use concord_node::query::Queries;
use concord_node::screening::{self, Request};
use concord_node::store::Store;
use concord_scenarios::process::Concord;
use concord_scenarios::rng::Rng;
use concord_scenarios::synthetic;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use concord_screening::Application;

use common::{cores, percentile, scale};

const CLIENTS: usize = 64;
/// Distinct applications, screened in turn.
const APPLICATIONS: usize = 64;
const SEED: u64 = 0xA91_2026;

/// Runs `call` `n` times over `CLIENTS` threads, each with the client
/// `client` makes for it (its own connections); the sorted latencies.
fn concurrently<C>(
    n: usize,
    client: impl Fn() -> C + Sync,
    call: impl Fn(&C, usize) + Sync,
) -> Vec<Duration> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let took = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                let mine_client = client();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let started = Instant::now();
                    call(&mine_client, i);
                    mine.push(started.elapsed());
                }
                took.lock().expect("latencies").extend(mine);
            });
        }
    });
    let mut took = took.into_inner().expect("latencies");
    took.sort_unstable();
    took
}

fn show(what: &str, api: &[Duration], store: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}, {CLIENTS} clients: API p50 {:.2} ms, p99 {:.2} ms | raw baseline, same run, the query service on the store: p50 {:.2} ms, p99 {:.2} ms | p99 ratio {:.1}",
        ms(percentile(api, 0.5)),
        ms(percentile(api, 0.99)),
        ms(percentile(store, 0.5)),
        ms(percentile(store, 0.99)),
        ms(percentile(api, 0.99)) / ms(percentile(store, 0.99)),
    );
}

fn main() {
    println!("machine: {} cores (nproc)", cores());
    let denials = scale(1_000.0);
    let reads = scale(20_000.0);
    let screens = scale(2_000.0);
    let mut net = Testnet::create_with(
        &Concord::new(env!("CARGO_BIN_EXE_concord")),
        &TestnetSpec::new(&["mx", "co"], &[]).sync_interval_ms(300),
    );
    net.start("mx");
    net.start("co");
    let mut rng = Rng::new(SEED);
    let mut denied = Vec::new();
    let bodies: Vec<(String, Vec<u8>)> = (0..denials)
        .map(|n| {
            let mut denial: serde_json::Value =
                serde_json::from_str(&synthetic::denial_json(&mut rng)).expect("JSON");
            // mx may publish only its own state's denials.
            denial["denying_state"] = "MX".into();
            denial["reference"] = format!("SE-API-{n}").into();
            for party in denial["parties"].as_array().expect("parties") {
                denied.push(party["name"].as_str().expect("name").to_owned());
            }
            (
                "denial".to_owned(),
                serde_json::to_vec(&denial).expect("JSON"),
            )
        })
        .collect();
    net.publish_concurrently("mx", 16, denials, &bodies);
    wait_until(Duration::from_secs(600), "co holds mx's denials", || {
        net.log_size("co", "mx") == denials as u64
    });
    let denied: Vec<&str> = denied.iter().map(String::as_str).collect();
    let applications: Vec<String> = (0..APPLICATIONS)
        .map(|_| synthetic::application_json(&mut rng, &denied))
        .collect();

    let read_api = concurrently(
        reads,
        || net.api("co"),
        |co, i| {
            let reply = co
                .try_get(&format!("/v1/logs/mx/entries/{}", i % denials))
                .expect("reachable");
            assert_eq!(reply.status, 200);
        },
    );
    let screen_api = concurrently(
        screens,
        || net.api("co"),
        |co, i| {
            let application = applications[i % APPLICATIONS].as_bytes();
            let reply = co.try_post("/v1/screen", application).expect("reachable");
            assert_eq!(reply.status, 200);
        },
    );

    net.stop("co");
    let home = Home::new(&net.home("co"));
    let store = Store::open(&home.db_path()).expect("co's store");
    let queries = Queries::of_home(store, &home).expect("co's queries");
    let parsed: Vec<Application> = applications
        .iter()
        .map(|json| Application::parse(json.as_bytes()).expect("application"))
        .collect();
    let read_store = concurrently(
        reads,
        || queries.clone(),
        |queries, i| {
            queries.entry("mx", (i % denials) as u64).expect("entry");
        },
    );
    let screen_store = concurrently(
        screens,
        || queries.clone(),
        |queries, i| {
            let request = Request {
                application: parsed[i % APPLICATIONS].clone(),
                at: None,
                threshold: None,
            };
            screening::screen(queries, &request, concord_node::clock::now()).expect("screens");
        },
    );
    println!("{denials} denials of mx held by co; {reads} reads, {screens} screenings");
    show("read one entry", &read_api, &read_store);
    show("screen one application", &screen_api, &screen_store);
}
