//! A local federation of real nodes: `concord testnet create` in a temp
//! dir, then `concord run` processes that start, stop (SIGTERM), crash
//! (SIGKILL) and restart, each node's output appended to `ROOT/ID.log`
//! across restarts. Every process is killed before the directory goes.
//!
//! Test-facing: every method panics with what it was doing and, for a
//! node, the end of its log.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use concord_protocol::equivocation::EquivocationProof;
use serde_json::Value;

use crate::api::{self, Api};
use crate::process::{Concord, NodeOptions, Process, Run};
use crate::wait;

/// How long a node may take to answer `/v1/health` after it was spawned.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop cleanly after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Facts of one node the harness needs, from what `concord testnet create
/// --json` prints.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub id: String,
    pub home: PathBuf,
    pub origin: String,
    /// API listen address, `127.0.0.1:PORT`.
    pub api: String,
}

impl NodeFacts {
    #[track_caller]
    fn parse(value: &Value) -> NodeFacts {
        let text = |field: &str| {
            value[field]
                .as_str()
                .unwrap_or_else(|| panic!("testnet facts lack {field}: {value}"))
                .to_owned()
        };
        NodeFacts {
            id: text("id"),
            home: PathBuf::from(text("home")),
            origin: text("origin"),
            api: text("api"),
        }
    }
}

/// What a testnet is made of.
#[derive(Debug, Clone)]
pub struct TestnetSpec {
    /// Member ids; the first two letters name the country unless `id:CC`.
    pub members: Vec<String>,
    /// Observer ids, `id:CC` for the seat's country.
    pub observers: Vec<String>,
    /// Anti-entropy interval of every node.
    pub sync_interval_ms: u64,
}

impl TestnetSpec {
    /// These members and observers, syncing every 500 ms.
    pub fn new(members: &[&str], observers: &[&str]) -> TestnetSpec {
        TestnetSpec {
            members: members.iter().map(|s| (*s).to_owned()).collect(),
            observers: observers.iter().map(|s| (*s).to_owned()).collect(),
            sync_interval_ms: 500,
        }
    }

    pub fn sync_interval_ms(mut self, ms: u64) -> TestnetSpec {
        self.sync_interval_ms = ms;
        self
    }
}

/// One local federation from `concord testnet create`, in a temp dir that
/// is removed (after every node is killed) when this drops.
pub struct Testnet {
    concord: Concord,
    running: HashMap<String, Process>,
    nodes: Vec<NodeFacts>,
    root: PathBuf,
    // Last: dropped after the processes above are gone.
    _dir: tempfile::TempDir,
}

impl Testnet {
    /// `concord testnet create` with these members and observers, syncing
    /// every 500 ms.
    pub fn create(concord: &Concord, members: &[&str], observers: &[&str]) -> Testnet {
        Testnet::create_with(concord, &TestnetSpec::new(members, observers))
    }

    pub fn create_with(concord: &Concord, spec: &TestnetSpec) -> Testnet {
        let dir = tempfile::Builder::new()
            .prefix("concord-test-")
            .tempdir()
            .expect("a temp dir");
        let root = dir.path().join("fed");
        let facts = concord
            .run([
                OsStr::new("testnet"),
                OsStr::new("create"),
                OsStr::new("--dir"),
                root.as_os_str(),
                OsStr::new("--members"),
                OsStr::new(&spec.members.join(",")),
                OsStr::new("--observers"),
                OsStr::new(&spec.observers.join(",")),
                OsStr::new("--sync-interval-ms"),
                OsStr::new(&spec.sync_interval_ms.to_string()),
                OsStr::new("--json"),
            ])
            .ok()
            .json();
        let nodes = facts
            .as_array()
            .unwrap_or_else(|| panic!("testnet create --json printed no list: {facts}"))
            .iter()
            .map(NodeFacts::parse)
            .collect();
        Testnet {
            concord: concord.clone(),
            running: HashMap::new(),
            nodes,
            root,
            _dir: dir,
        }
    }

    /// The binary this testnet runs.
    pub fn concord(&self) -> &Concord {
        &self.concord
    }

    /// The directory holding one home per id (and the nodes' log files).
    pub fn root(&self) -> &Path {
        &self.root
    }

    #[track_caller]
    fn facts(&self, id: &str) -> &NodeFacts {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in this testnet"))
    }

    /// Where `id`'s HTTP API and web page listen, `127.0.0.1:PORT`.
    #[track_caller]
    pub fn api_address(&self, id: &str) -> &str {
        &self.facts(id).api
    }

    /// The home directory of `id`.
    #[track_caller]
    pub fn home(&self, id: &str) -> PathBuf {
        self.facts(id).home.clone()
    }

    /// The origin of member `log`, or `log` itself if it is an origin.
    pub fn origin_of(&self, log: &str) -> String {
        self.nodes
            .iter()
            .find(|n| n.id == log)
            .map_or_else(|| log.to_owned(), |n| n.origin.clone())
    }

    /// Where `id`'s stdout and stderr go, across restarts.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.log"))
    }

    /// `id`'s log file so far (its end).
    pub fn node_log(&self, id: &str) -> String {
        crate::process::log(&self.log_path(id))
    }

    /// Starts `id` and waits until its API answers `/v1/health`; panics
    /// with its log if it exits or does not answer within
    /// [`START_TIMEOUT`].
    #[track_caller]
    pub fn start(&mut self, id: &str) {
        self.start_with(id, &NodeOptions::default());
    }

    /// [`Testnet::start`] with extra arguments or environment.
    #[track_caller]
    pub fn start_with(&mut self, id: &str, options: &NodeOptions) {
        assert!(!self.is_running(id), "{id} is already running");
        let process = self
            .concord
            .spawn_node(
                &format!("node {id}"),
                &self.home(id),
                &self.log_path(id),
                options,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        self.running.insert(id.to_owned(), process);
        let api = self.api(id);
        let process = self.running.get_mut(id).expect("just inserted");
        let started = wait::poll(START_TIMEOUT, &format!("{id}'s API answers"), || {
            process.check_running()?;
            Ok(api.health())
        });
        if let Err(e) = started {
            self.running.remove(id);
            panic!("{e}\n{}", self.node_log(id));
        }
    }

    /// Whether the harness holds a running process for `id`.
    pub fn is_running(&self, id: &str) -> bool {
        self.running.contains_key(id)
    }

    /// The process of a running node, e.g. to check it has not exited.
    #[track_caller]
    pub fn process(&mut self, id: &str) -> &mut Process {
        self.running
            .get_mut(id)
            .unwrap_or_else(|| panic!("{id} is not running"))
    }

    /// SIGKILLs `id` and reaps it: a crash at whatever moment this is.
    #[track_caller]
    pub fn kill(&mut self, id: &str) {
        self.running
            .remove(id)
            .unwrap_or_else(|| panic!("{id} is not running"))
            .kill()
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// SIGTERMs `id` and returns its exit status; panics (after killing
    /// it) if it does not exit within `timeout`.
    #[track_caller]
    pub fn terminate(&mut self, id: &str, timeout: Duration) -> ExitStatus {
        let process = self
            .running
            .remove(id)
            .unwrap_or_else(|| panic!("{id} is not running"));
        process
            .terminate(timeout)
            .unwrap_or_else(|e| panic!("{e}:\n{}", self.node_log(id)))
    }

    /// SIGTERMs `id` and asserts a clean exit (code 0) within
    /// [`STOP_TIMEOUT`].
    #[track_caller]
    pub fn stop(&mut self, id: &str) {
        let status = self.terminate(id, STOP_TIMEOUT);
        assert!(
            status.success(),
            "{id} stopped with {status}:\n{}",
            self.node_log(id)
        );
    }

    /// A client of `id`'s HTTP API (the node need not be running yet).
    #[track_caller]
    pub fn api(&self, id: &str) -> Api {
        let facts = self.facts(id);
        Api::connect(&facts.api, &facts.home).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `concord ARGS --home HOME(id)` (the home is appended).
    pub fn cli<I, S>(&self, id: &str, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.concord.command();
        command.args(args).arg("--home").arg(self.home(id));
        Run::of(command)
    }

    /// `id`'s status: `GET /v1/status` while the harness runs its node,
    /// else `concord status --json` from the store.
    #[track_caller]
    pub fn status(&self, id: &str) -> Value {
        if self.is_running(id) {
            self.api(id).status()
        } else {
            self.cli(id, ["status", "--json"]).ok().json()
        }
    }

    /// Sets `[api.limits]` keys of `id`'s config (the node reads them when
    /// it starts), keeping the rest of the file.
    pub fn set_api_limits(&self, id: &str, limits: &[(&str, i64)]) {
        let path = self.home(id).join("config.toml");
        let text = std::fs::read_to_string(&path).expect("config.toml");
        let mut config: toml::Table = toml::from_str(&text).expect("config.toml parses");
        let api = config
            .get_mut("api")
            .and_then(toml::Value::as_table_mut)
            .expect("an [api] table");
        let table = api
            .entry("limits")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("[api.limits] is a table");
        for (key, value) in limits {
            table.insert((*key).to_owned(), toml::Value::Integer(*value));
        }
        std::fs::write(&path, toml::to_string(&config).expect("config serialises"))
            .expect("write config.toml");
    }

    /// Publishes `n` records on running node `id` from `clients` clients at
    /// once, record `i` being `records[i % records.len()]` (kind, bytes);
    /// panics unless each is acknowledged.
    pub fn publish_concurrently(
        &self,
        id: &str,
        clients: usize,
        n: usize,
        records: &[(String, Vec<u8>)],
    ) {
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(|| {
                    let api = self.api(id);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let (kind, body) = &records[i % records.len()];
                        api.publish(kind, body);
                    }
                });
            }
        });
    }

    /// Size of every log `id` holds, by origin.
    #[track_caller]
    pub fn log_sizes(&self, id: &str) -> HashMap<String, u64> {
        api::log_sizes(&self.status(id))
    }

    /// Size of log `log` (member id or origin) at `id`; 0 if not held.
    #[track_caller]
    pub fn log_size(&self, id: &str, log: &str) -> u64 {
        let origin = self.origin_of(log);
        self.log_sizes(id).get(&origin).copied().unwrap_or(0)
    }

    /// Size and root (base64) of log `log` at each node of `ids`; `None`
    /// where it is not held.
    #[track_caller]
    pub fn views(&self, ids: &[&str], log: &str) -> Vec<Option<(u64, String)>> {
        let origin = self.origin_of(log);
        ids.iter()
            .map(|id| {
                let status = self.status(id);
                let view = status["logs"]
                    .as_array()?
                    .iter()
                    .find(|l| l["origin"] == origin.as_str())?
                    .clone();
                Some((view["size"].as_u64()?, view["root"].as_str()?.to_owned()))
            })
            .collect()
    }

    /// Whether running node `id` holds log `log` in quarantine.
    #[track_caller]
    pub fn quarantined(&self, id: &str, log: &str) -> bool {
        let origin = self.origin_of(log);
        self.api(id).status()["quarantined"]
            .as_array()
            .is_some_and(|q| q.iter().any(|o| *o == origin.as_str()))
    }

    /// The equivocation proofs running node `id` holds.
    #[track_caller]
    pub fn evidence(&self, id: &str) -> Vec<EquivocationProof> {
        let reply = self.api(id).get("/v1/evidence");
        assert_eq!(reply.status, 200, "GET /v1/evidence: {}", reply.body);
        reply.json()["evidence"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|record| {
                serde_json::from_value(record["proof"].clone()).unwrap_or_else(|e| {
                    panic!("{id} holds evidence that is no proof ({e}): {record}")
                })
            })
            .collect()
    }
}
