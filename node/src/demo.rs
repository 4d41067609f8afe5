//! `concord demo`: the Pacific Alliance federation on loopback, one process
//! per node, publishing the sample records and showing them spread.
//!
//! Chile, Colombia, Mexico, Peru and Brazil are members; the UN 1540
//! Committee's experts and the World Customs Organization observe. Each
//! state's node publishes the sample denials and notices of that state; the
//! demo prints which node received which entry and when, checks that every
//! node holds identical logs, and runs until SIGINT (Ctrl-C), SIGTERM or
//! SIGHUP, or until one of its nodes dies, then stops every process it
//! started. Its nodes also stop on their own should the demo die
//! (`concord run --stop-with-parent PID`). A temporary directory goes with it
//! unless `--keep`.

use crate::stdout::StdoutError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use concord_scenarios as scenarios;
use scenarios::api::Api;
use scenarios::process::{Concord, NodeOptions, Process};

use crate::query::StatusView;
use crate::testnet::{self, NewHomeView, Plan};

/// Pause between two publishes of the demo.
const PUBLISH_PACE: Duration = Duration::from_millis(150);
/// How often the watcher reads every node's status.
const WATCH_POLL: Duration = Duration::from_millis(20);

/// The sample records compiled into the binary: (kind, file name, JSON).
pub const SAMPLES: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/samples.rs"));

/// What the demo is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to put the federation's homes; `None`: a new temporary
    /// directory.
    pub dir: Option<PathBuf>,
    /// Stop after showing convergence instead of running until Ctrl-C.
    pub exit_after_sync: bool,
    /// How long to wait for every node to hold every entry.
    pub timeout: Duration,
    /// Keep a temporary directory after the demo stops.
    pub keep: bool,
    /// Every node logs JSON lines (`--log-format json`), as the demo does.
    pub log_json: bool,
}

/// Set once SIGINT, SIGTERM or SIGHUP reached the demo.
static STOP: AtomicBool = AtomicBool::new(false);

/// Why the demo stopped before the end of a step.
const INTERRUPTED: &str = "stopped by a signal";

fn stop_asked() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Turns SIGINT, SIGTERM and SIGHUP into [`STOP`], which every wait of the
/// demo checks, so that each ends by stopping the nodes and cleaning up
/// rather than by dying with them running.
fn listen_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal listener")?;
    // Registered here, before any node starts, so no signal is missed.
    let (mut int, mut term, mut hup) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        STOP.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// How long each node gets to stop after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The demo's node processes, stopped (SIGTERM, then SIGKILL) when dropped.
struct Nodes {
    /// (member id, process)
    processes: Vec<(String, Process)>,
}

impl Nodes {
    /// Fails, naming the node and quoting its log, once any node has exited.
    fn check_running(&mut self) -> Result<(), scenarios::Error> {
        self.processes
            .iter_mut()
            .try_for_each(|(_, process)| process.check_running())
    }

    /// The end of every node's log, for a failure nobody exited over.
    fn logs(&self) -> String {
        self.processes
            .iter()
            .map(|(id, process)| format!("\n--- {id}{}", process.log_tail()))
            .collect()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        // Every node is asked first, so that they all flush and close their
        // stores at once rather than one after another.
        for (id, process) in &self.processes {
            if let Err(e) = process.sigterm() {
                eprintln!("node {id}: {e}");
            }
        }
        let deadline = Instant::now() + STOP_LIMIT;
        for (id, mut process) in self.processes.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(process.wait_exit(left), Ok(Some(_))) {
                eprintln!("node {id} did not stop in time; killing it");
            }
            // Dropping the process kills and reaps whatever is left of it.
        }
    }
}

/// `GET /v1/status` of one node, as the API documents it.
fn status(api: &Api) -> anyhow::Result<StatusView> {
    let reply = api.try_get("/v1/status")?;
    Ok(serde_json::from_str(&reply.body)?)
}

/// `concord demo`.
///
/// # Errors
/// Failure to create the federation, start a node or see it converge.
pub fn run(options: &Options) -> anyhow::Result<()> {
    listen_for_stop()?;
    let (dir, keep) = match &options.dir {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("concord-demo-{}", std::process::id())),
            options.keep,
        ),
    };
    let result = run_in(&dir, options);
    // The nodes are stopped by now; a failure keeps their logs to read.
    let failed = result.is_err() && !stop_asked();
    if keep || failed {
        outln!(
            "The federation's homes and node logs are in {}",
            dir.display()
        )?;
    } else if let Err(e) = std::fs::remove_dir_all(&dir) {
        outln!("could not remove {}: {e}", dir.display())?;
    }
    match result {
        Err(_) if stop_asked() => Ok(()),
        other => other,
    }
}

fn run_in(dir: &Path, options: &Options) -> anyhow::Result<()> {
    outln!(
        "Creating the Pacific Alliance federation in {}",
        dir.display()
    )?;
    let homes = testnet::build(&Plan {
        dir: dir.to_path_buf(),
        members: ["cl", "co", "mx", "pe", "br"].map(String::from).to_vec(),
        observers: ["un1540:US", "wco:BE"].map(String::from).to_vec(),
        federation: "pacific-alliance".into(),
        sync_interval_ms: 1000,
    })?;
    let concord = Concord::new(std::env::current_exe().context("locating the concord binary")?);
    let mut nodes = Nodes {
        processes: Vec::new(),
    };
    for home in &homes {
        let id = home.member.id.to_string();
        let dir = &home.home.dir;
        let process = concord.spawn_node(
            &format!("node {id}"),
            dir,
            &dir.join("node.log"),
            &NodeOptions {
                global_args: if options.log_json {
                    vec!["--log-format".to_owned(), "json".to_owned()]
                } else {
                    Vec::new()
                },
                run_args: vec![
                    "--stop-with-parent".to_owned(),
                    std::process::id().to_string(),
                ],
                ..NodeOptions::default()
            },
        )?;
        nodes.processes.push((id.clone(), process));
        outln!(
            "  started {:<7} {}  api http://{}",
            id,
            home.member.name,
            home.config.api.listen
        )?;
    }
    let clients: Vec<(String, Api)> = homes
        .iter()
        .map(|h| {
            let api = Api::connect(&h.config.api.listen.to_string(), &h.home.dir)?;
            Ok((h.member.id.to_string(), api))
        })
        .collect::<anyhow::Result<_>>()?;
    wait_until(&mut nodes, "every node's API answers", || {
        clients.iter().all(|(_, api)| status(api).is_ok())
    })?;
    wait_until(&mut nodes, "every node sees a peer", || {
        clients
            .iter()
            .all(|(_, api)| status(api).is_ok_and(|s| !s.peers.is_empty()))
    })?;

    // Publishing runs beside the watcher, paced, so that the spread of each
    // entry to every node can be seen as it happens.
    let start = Instant::now();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut plan = Vec::new();
    for (kind, name, body) in SAMPLES {
        let state = state_of(body).with_context(|| format!("sample {name} names no state"))?;
        if clients.iter().any(|(id, _)| id.as_str() == state) {
            *expected
                .entry(format!("pacific-alliance.concord/{state}"))
                .or_default() += 1;
            plan.push((state, *kind, *name, *body));
        }
    }
    let published: Mutex<BTreeMap<(String, u64), Instant>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let publisher = scope.spawn(|| -> anyhow::Result<()> {
            for (state, kind, name, body) in &plan {
                anyhow::ensure!(!stop_asked(), INTERRUPTED);
                let client = &clients
                    .iter()
                    .find(|(id, _)| id == state)
                    .expect("planned for a known node")
                    .1;
                let index = client
                    .try_publish(kind, body.as_bytes())
                    .with_context(|| format!("publishing {name} on {state}"))?
                    .index;
                lock(&published).insert((state.clone(), index), Instant::now());
                outln!(
                    "{:>7.3}s  {state:<7} published {kind:<7} {state}#{index}  {name}",
                    start.elapsed().as_secs_f64()
                )?;
                std::thread::sleep(PUBLISH_PACE);
            }
            Ok(())
        });
        let watched = watch_convergence(&clients, &expected, &published, start, options.timeout);
        publisher
            .join()
            .map_err(|_| anyhow::anyhow!("the publishing thread panicked"))??;
        watched
    })?;
    check_identical(&clients)?;
    if options.exit_after_sync {
        return Ok(());
    }
    print_usage(dir, &homes)?;
    let outcome = wait_for_stop(&mut nodes);
    outln!("stopping every node…")?;
    drop(nodes);
    outcome
}

/// Runs until a signal asks the demo to stop (`Ok`) or a node dies (its
/// name and log).
fn wait_for_stop(nodes: &mut Nodes) -> anyhow::Result<()> {
    while !stop_asked() {
        if let Err(e) = nodes.check_running() {
            anyhow::bail!("{e}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// The member id that publishes a sample: its denying or issuing state.
fn state_of(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let state = value
        .get("denying_state")
        .or_else(|| value.get("issuing_state"))?
        .as_str()?;
    Some(state.to_lowercase())
}

/// How long the nodes get to start and to find a peer.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Waits until `done` holds, failing as soon as any node exits.
fn wait_until(nodes: &mut Nodes, what: &str, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let waited = scenarios::wait::poll(START_LIMIT, what, || {
        Ok(stop_asked() || done() || {
            nodes.check_running()?;
            false
        })
    });
    anyhow::ensure!(!stop_asked(), INTERRUPTED);
    match waited {
        Err(timeout @ scenarios::Error::Timeout { .. }) => {
            anyhow::bail!("{timeout}{}", nodes.logs())
        }
        other => Ok(other?),
    }
}

/// Prints each (node, log) size change as it happens until every node holds
/// every published entry.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn watch_convergence(
    clients: &[(String, Api)],
    expected: &BTreeMap<String, u64>,
    published: &Mutex<BTreeMap<(String, u64), Instant>>,
    start: Instant,
    limit: Duration,
) -> anyhow::Result<()> {
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    let deadline = Instant::now() + limit;
    loop {
        let mut complete = true;
        for (id, client) in clients {
            let Ok(status) = status(client) else {
                complete = false;
                continue;
            };
            for (origin, want) in expected {
                let size = status
                    .logs
                    .iter()
                    .find(|l| &l.origin == origin)
                    .map_or(0, |l| l.size);
                let before = seen.insert((id.clone(), origin.clone()), size).unwrap_or(0);
                if size > before {
                    let log_id = origin.rsplit('/').next().unwrap_or(origin);
                    for index in before..size {
                        let after = lock(published)
                            .get(&(log_id.to_owned(), index))
                            .map(|t| format!("  ({} ms after publish)", t.elapsed().as_millis()))
                            .unwrap_or_default();
                        // A node's own log grows when its publish commits,
                        // not by receiving anything.
                        let what = if log_id == id { "stored" } else { "received" };
                        outln!(
                            "{:>7.3}s  {id:<7} {what:<8}  {log_id}#{index}{after}",
                            start.elapsed().as_secs_f64()
                        )?;
                    }
                }
                complete &= size >= *want;
            }
        }
        if complete {
            outln!(
                "{:>7.3}s  every node holds every entry",
                start.elapsed().as_secs_f64()
            )?;
            return Ok(());
        }
        anyhow::ensure!(!stop_asked(), INTERRUPTED);
        anyhow::ensure!(
            Instant::now() < deadline,
            "nodes did not converge within {limit:?}"
        );
        std::thread::sleep(WATCH_POLL);
    }
}

/// Every node must report the same size and root for every log.
fn check_identical(clients: &[(String, Api)]) -> anyhow::Result<()> {
    let mut reference: Option<BTreeMap<String, (u64, String)>> = None;
    for (id, client) in clients {
        let status = status(client)?;
        let logs: BTreeMap<String, (u64, String)> = status
            .logs
            .into_iter()
            .map(|l| (l.origin, (l.size, l.root)))
            .collect();
        match &reference {
            None => reference = Some(logs),
            Some(r) => anyhow::ensure!(
                r == &logs,
                "node {id} holds different logs: {logs:?} vs {r:?}"
            ),
        }
    }
    if let Some(r) = reference {
        outln!("all {} nodes hold identical logs:", clients.len())?;
        for (origin, (size, root)) in r {
            outln!("  {origin:<40} size {size:>3}  root {root}")?;
        }
    }
    Ok(())
}

fn print_usage(dir: &Path, homes: &[NewHomeView]) -> Result<(), StdoutError> {
    let mx = dir.join("mx");
    let un = dir.join("un1540");
    outln!()?;
    outln!("The federation keeps running. Try, in another terminal:")?;
    outln!("  concord status --home {}", mx.display())?;
    outln!("  concord list --home {} --log cl", mx.display())?;
    outln!(
        "  concord show --home {} --log br --index 0 --json",
        un.display()
    )?;
    outln!("  concord checkpoint --home {} --log pe", un.display())?;
    outln!(
        "  concord proof inclusion --home {} --log co --index 0",
        mx.display()
    )?;
    outln!(
        "  concord publish denial --home {} --file scenarios/records/denials/mx-<file>.json",
        mx.display()
    )?;
    outln!(
        "  concord screen --home {} --file scenarios/records/applications/co-2026-thiodiglycol.json",
        dir.join("co").display()
    )?;
    if let Some(co) = homes.iter().find(|h| h.member.id.as_str() == "co") {
        outln!(
            "Or open co's web page, http://{}/, and sign in with the token in {}",
            co.config.api.listen,
            co.home.token_path().display()
        )?;
    }
    outln!(
        "Nodes: {}",
        homes
            .iter()
            .map(|h| h.member.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    outln!("Press Ctrl-C (or send SIGTERM) to stop every node.")
}
