//! The harness of Concord's black-box tests: real `concord` processes, real
//! sled stores in temp dirs, loopback only.
//!
//! - [`concord_bin`] finds the `concord` binary of the profile the tests were
//!   built with (`target/<profile>/concord`), building it once per test
//!   process with `cargo build -p concord-node --bin concord`, so that
//!   `cargo test --workspace` works from a clean clone and never runs a stale
//!   binary. `CONCORD_BIN` overrides the path (and skips the build).
//! - [`Testnet`] is one `concord testnet create` federation in a temp dir: it
//!   starts, kills (`SIGKILL`), terminates (`SIGTERM`) and restarts its nodes,
//!   which are stopped when it drops, so no process outlives a test.
//! - [`Api`] speaks to one node's HTTP API with its bearer token;
//!   [`Api::read_log`] reads a whole log back and checks it (contiguous, leaf
//!   hashes of the verbatim headers, root recomputed).
//! - [`concord`] runs any other command with a deadline ([`Run`]).
//! - [`wait_until`] is the only way to wait: poll a condition with a deadline.
//! - [`Rng`] is a seeded xorshift, so that "random" moments replay.
//!
//! Panics are the assertions here: every helper panics with what it was
//! doing and, for a node, the tail of its log.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::merkle::{self, Hash, RootBuilder};
use serde_json::Value;

/// How long a node may take to answer `/v1/health` after it was spawned.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one CLI command may run before the harness kills it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of one HTTP request to a node.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// `scenarios/records`: sample denials, notices and invalid records.
pub fn records_dir() -> PathBuf {
    workspace_root().join("scenarios").join("records")
}

/// One sample record file.
#[derive(Debug, Clone)]
pub struct SampleRecord {
    /// `denial` or `notice`.
    pub kind: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Every valid sample record (`denials/*.json`, `notices/*.json`), sorted by
/// file name within each kind.
pub fn sample_records() -> Vec<SampleRecord> {
    let mut out = Vec::new();
    for (dir, kind) in [("denials", "denial"), ("notices", "notice")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(records_dir().join(dir))
            .unwrap_or_else(|e| panic!("reading scenarios/records/{dir}: {e}"))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension() == Some(OsStr::new("json")))
            .collect();
        files.sort();
        for path in files {
            out.push(SampleRecord {
                kind,
                name: path
                    .file_name()
                    .expect("a file has a name")
                    .to_string_lossy()
                    .into_owned(),
                bytes: std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
            });
        }
    }
    assert!(!out.is_empty(), "no sample records found");
    out
}

/// Path of the `concord` binary, built once per test process.
///
/// The test executable lives in `target/<profile>/deps/`; the binary is
/// `target/<profile>/concord`. Cargo is asked to build it (a no-op when it
/// is fresh) with the same profile, so a test never runs a stale node.
pub fn concord_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CONCORD_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("the test knows its own path");
        let deps = exe.parent().expect("the test binary is in a directory");
        let profile_dir = if deps.file_name() == Some(OsStr::new("deps")) {
            deps.parent().expect("deps is inside the profile directory")
        } else {
            deps
        };
        let bin = profile_dir.join("concord");
        let profile = profile_dir
            .file_name()
            .and_then(OsStr::to_str)
            .expect("the profile directory has a UTF-8 name")
            .to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "-p",
            "concord-node",
            "--bin",
            "concord",
        ]);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        if let Some(target_dir) = profile_dir.parent()
            && target_dir != workspace_root().join("target")
        {
            build.env("CARGO_TARGET_DIR", target_dir);
        }
        // What cargo sets for the test process describes this crate; passed
        // on, it would change build-script inputs (ring reruns when
        // CARGO_MANIFEST_DIR changes) and rebuild half the dependency graph.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_MANIFEST_LINKS",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref())
            {
                build.env_remove(name.as_ref());
            }
        }
        let status = build
            .status()
            .unwrap_or_else(|e| panic!("running cargo to build concord: {e}"));
        assert!(status.success(), "building concord failed: {status}");
        assert!(
            bin.exists(),
            "cargo built concord but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// A `concord` command with a clean environment: no passphrase, no home,
/// quiet logs unless `CONCORD_LOG` is set for the test.
pub fn concord_command() -> Command {
    let mut command = Command::new(concord_bin());
    command
        .env_remove("CONCORD_PASSPHRASE")
        .env_remove("CONCORD_HOME")
        .stdin(Stdio::null());
    if std::env::var_os("CONCORD_LOG").is_none() {
        command.env("CONCORD_LOG", "warn,libp2p=error");
    }
    command
}

/// Runs `concord ARGS` to completion (killed after [`COMMAND_TIMEOUT`]).
pub fn concord<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = concord_command();
    command.args(args);
    Run::of(command)
}

/// The outcome of one finished command.
#[derive(Debug, Clone)]
pub struct Run {
    pub what: String,
    /// Exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `command` to completion, killing it after [`COMMAND_TIMEOUT`].
    pub fn of(mut command: Command) -> Run {
        Run::with_timeout(&mut command, COMMAND_TIMEOUT)
    }

    /// Runs `command` to completion, killing it after `timeout`.
    pub fn with_timeout(command: &mut Command, timeout: Duration) -> Run {
        let what = format!("{command:?}");
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let mut guard = ChildGuard(Some(child));
        let child = guard.0.as_mut().expect("just spawned");
        // Read both pipes on threads so a chatty command cannot block on a
        // full pipe while we wait for it.
        let mut out_pipe = child.stdout.take().expect("stdout is piped");
        let mut err_pipe = child.stderr.take().expect("stderr is piped");
        let out_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out_pipe, &mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err_pipe, &mut s);
            s
        });
        let status = wait_for_exit(child, timeout)
            .unwrap_or_else(|| panic!("{what} did not finish within {timeout:?}"));
        guard.0 = None;
        let stdout = out_reader.join().expect("stdout reader");
        let stderr = err_reader.join().expect("stderr reader");
        Run {
            what,
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Asserts exit code 0 and returns `self`.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "{} failed:\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts exit code `code` and that stderr contains `message`.
    #[track_caller]
    pub fn fails_with(&self, code: i32, message: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{}: expected exit {code} naming {message:?}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "{}: exit {code} as expected, but stderr does not name {message:?}:\n{}",
            self.what,
            self.stderr
        );
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.what, self.stdout, self.stderr
            )
        })
    }
}

/// Kills and reaps a child when dropped, unless taken.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `child` to exit, polling; `None` if `timeout` passed first.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for pid {}: {e}", child.id()),
        }
    }
}

/// Polls `condition` until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if condition() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// A seeded xorshift64* generator: reproducible "random" choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A seed from `CONCORD_TEST_SEED`, else `default`; printed so that a
    /// failing run can be replayed.
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("CONCORD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("seed {seed} (replay with CONCORD_TEST_SEED={seed})");
        Rng::new(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `low..high` (`high > low`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(high > low, "empty range {low}..{high}");
        low + self.next_u64() % (high - low)
    }
}

/// Public facts of one node, as `concord testnet create --json` prints them.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub id: String,
    pub home: PathBuf,
    pub origin: String,
    /// API listen address, `127.0.0.1:PORT`.
    pub api: String,
    pub peer_id: String,
    pub addrs: Vec<String>,
    pub verifier_key: String,
}

impl NodeFacts {
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
            peer_id: text("peer_id"),
            verifier_key: text("verifier_key"),
            addrs: value["addrs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// What a testnet is made of.
#[derive(Debug, Clone)]
pub struct TestnetSpec {
    /// Member ids; the first two letters name the country unless `id:CC`.
    pub members: Vec<String>,
    /// Observer ids as `id:CC`.
    pub observers: Vec<String>,
    pub sync_interval_ms: u64,
}

impl TestnetSpec {
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

/// A running `concord run` process; killed (`SIGKILL`) and reaped on drop.
#[derive(Debug)]
pub struct NodeProcess {
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl NodeProcess {
    /// Spawns `concord run --home HOME`, appending stdout and stderr to
    /// `log_path`. `envs` are added to the harness's clean environment.
    pub fn spawn(home: &Path, log_path: &Path, envs: &[(&str, &str)]) -> NodeProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log_path.display()));
        let mut command = concord_command();
        command
            .args(["run", "--home"])
            .arg(home)
            .envs(envs.iter().copied())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log);
        if std::env::var_os("CONCORD_LOG").is_none() {
            command.env("CONCORD_LOG", "info,libp2p=warn");
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning concord run --home {}: {e}", home.display()));
        NodeProcess {
            child: Some(child),
            log_path: log_path.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a live node process").id()
    }

    /// The exit status if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .expect("a live node process")
            .try_wait()
            .expect("try_wait on a child")
    }

    /// Waits up to `timeout` for the process to end on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_for_exit(self.child.as_mut().expect("a live node process"), timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// `SIGKILL` and reap.
    pub fn kill(mut self) {
        self.kill_in_place();
    }

    fn kill_in_place(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `SIGTERM`, then waits up to `timeout` for the exit status. On timeout
    /// the process is killed and `None` returned.
    pub fn terminate(mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits pid_t");
        // SAFETY: kill(2) only sends a signal; the pid is our own live child
        // (not yet reaped), so it cannot name another process.
        #[allow(unsafe_code)]
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "sending SIGTERM to {pid}");
        let status = self.wait_exit(timeout);
        if status.is_none() {
            self.kill_in_place();
        }
        status
    }

    /// The node's log so far (its last 64 KiB).
    pub fn log(&self) -> String {
        log_tail(&self.log_path)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill_in_place();
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(64 * 1024);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// One local federation from `concord testnet create`, in a temp dir that
/// is removed (after every node is killed) when this drops.
pub struct Testnet {
    running: HashMap<String, NodeProcess>,
    nodes: Vec<NodeFacts>,
    root: PathBuf,
    // Last: dropped after the processes above are gone.
    _dir: tempfile::TempDir,
}

impl Testnet {
    /// `concord testnet create` with these members and observers (ids as
    /// `concord testnet create` takes them), sync every 500 ms.
    pub fn create(members: &[&str], observers: &[&str]) -> Testnet {
        Testnet::create_with(&TestnetSpec::new(members, observers))
    }

    pub fn create_with(spec: &TestnetSpec) -> Testnet {
        let dir = tempfile::Builder::new()
            .prefix("concord-test-")
            .tempdir()
            .expect("a temp dir");
        let root = dir.path().join("fed");
        let run = concord([
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
        .ok();
        let facts = run.json();
        let nodes = facts
            .as_array()
            .unwrap_or_else(|| panic!("testnet create --json printed no list: {facts}"))
            .iter()
            .map(NodeFacts::parse)
            .collect();
        Testnet {
            running: HashMap::new(),
            nodes,
            root,
            _dir: dir,
        }
    }

    /// The directory holding one home per id (and the nodes' log files).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every node's facts, members first, in the order given.
    pub fn nodes(&self) -> &[NodeFacts] {
        &self.nodes
    }

    pub fn facts(&self, id: &str) -> &NodeFacts {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in this testnet"))
    }

    /// The home directory of `id`.
    pub fn home(&self, id: &str) -> PathBuf {
        self.facts(id).home.clone()
    }

    /// Where `id`'s stdout and stderr go, across restarts.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.log"))
    }

    /// `id`'s log file so far (its tail).
    pub fn node_log(&self, id: &str) -> String {
        log_tail(&self.log_path(id))
    }

    /// Starts `id` and waits until its API answers `/v1/health`; panics
    /// with its log if it exits or does not answer within [`START_TIMEOUT`].
    pub fn start(&mut self, id: &str) {
        self.start_with_env(id, &[]);
    }

    /// [`Testnet::start`] with extra environment variables.
    pub fn start_with_env(&mut self, id: &str, envs: &[(&str, &str)]) {
        assert!(!self.is_running(id), "{id} is already running");
        let process = NodeProcess::spawn(&self.home(id), &self.log_path(id), envs);
        self.running.insert(id.to_owned(), process);
        let api = self.api(id);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if api.health() {
                return;
            }
            let process = self.running.get_mut(id).expect("just inserted");
            if let Some(status) = process.try_exit() {
                let log = process.log();
                self.running.remove(id);
                panic!("{id} exited with {status} before its API answered:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "{id}'s API did not answer within {START_TIMEOUT:?}:\n{}",
                self.node_log(id)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the harness holds a running process for `id`.
    pub fn is_running(&self, id: &str) -> bool {
        self.running.contains_key(id)
    }

    /// The process of a running node, e.g. to check it has not exited.
    pub fn process(&mut self, id: &str) -> &mut NodeProcess {
        self.running
            .get_mut(id)
            .unwrap_or_else(|| panic!("{id} is not running"))
    }

    /// `SIGKILL`s `id` and reaps it: a crash at whatever moment this is.
    pub fn kill(&mut self, id: &str) {
        self.running
            .remove(id)
            .unwrap_or_else(|| panic!("{id} is not running"))
            .kill();
    }

    /// `SIGTERM`s `id` and returns its exit status; panics (after killing
    /// it) if it does not exit within `timeout`.
    pub fn terminate(&mut self, id: &str, timeout: Duration) -> ExitStatus {
        let process = self
            .running
            .remove(id)
            .unwrap_or_else(|| panic!("{id} is not running"));
        let log_path = process.log_path.clone();
        process.terminate(timeout).unwrap_or_else(|| {
            panic!(
                "{id} did not exit within {timeout:?} of SIGTERM:\n{}",
                log_tail(&log_path)
            )
        })
    }

    /// `SIGTERM`s `id` and asserts a clean exit (code 0) within 30 s.
    pub fn stop(&mut self, id: &str) {
        let status = self.terminate(id, Duration::from_secs(30));
        assert!(
            status.success(),
            "{id} stopped with {status}:\n{}",
            self.node_log(id)
        );
    }

    /// A client of `id`'s HTTP API (the node need not be running yet).
    pub fn api(&self, id: &str) -> Api {
        Api::for_home(&self.home(id))
    }

    /// Runs `concord ARGS --home HOME(id)` (the home is appended).
    pub fn cli<I, S>(&self, id: &str, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = concord_command();
        command.args(args).arg("--home").arg(self.home(id));
        Run::of(command)
    }

    /// `concord status --home HOME(id) --json`: through the API when the
    /// node runs, from the store when it does not.
    pub fn status(&self, id: &str) -> Value {
        self.cli(id, ["status", "--json"]).ok().json()
    }

    /// Size of every log `id` holds, by origin, from [`Testnet::status`].
    pub fn log_sizes(&self, id: &str) -> HashMap<String, u64> {
        log_sizes(&self.status(id))
    }

    /// Size of log `log` (member id or origin) at `id`; 0 if not held.
    pub fn log_size(&self, id: &str, log: &str) -> u64 {
        let origin = self.origin_of(log);
        self.log_sizes(id).get(&origin).copied().unwrap_or(0)
    }

    /// The origin of member `log`, or `log` itself if it is an origin.
    pub fn origin_of(&self, log: &str) -> String {
        self.nodes
            .iter()
            .find(|n| n.id == log)
            .map_or_else(|| log.to_owned(), |n| n.origin.clone())
    }
}

/// Sizes by origin from a status document (`GET /v1/status` or
/// `concord status --json`).
pub fn log_sizes(status: &Value) -> HashMap<String, u64> {
    status["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("status has no logs: {status}"))
        .iter()
        .map(|l| {
            (
                l["origin"]
                    .as_str()
                    .expect("a log has an origin")
                    .to_owned(),
                l["size"].as_u64().expect("a log has a size"),
            )
        })
        .collect()
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.body)
        })
    }

    /// The `message` of an API error (or the whole body if it has none).
    pub fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| self.body.clone())
    }
}

/// Where an acknowledged publish landed (`201 {origin,index,leaf_hash}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub origin: String,
    pub index: u64,
    pub leaf_hash: Hash,
}

impl Published {
    /// Parses the JSON of a 201 answer or of `concord publish --json`.
    #[track_caller]
    pub fn parse(value: &Value) -> Published {
        Published {
            origin: value["origin"]
                .as_str()
                .unwrap_or_else(|| panic!("no origin in {value}"))
                .to_owned(),
            index: value["index"]
                .as_u64()
                .unwrap_or_else(|| panic!("no index in {value}")),
            leaf_hash: decode_hash(
                value["leaf_hash"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no leaf_hash in {value}")),
            ),
        }
    }
}

/// A base64 SHA-256 hash as the API and CLI print them.
#[track_caller]
pub fn decode_hash(text: &str) -> Hash {
    BASE64
        .decode(text)
        .ok()
        .and_then(|b| Hash::try_from(b.as_slice()).ok())
        .unwrap_or_else(|| panic!("{text:?} is not a base64 32-byte hash"))
}

/// One entry as read back from a node.
#[derive(Debug, Clone)]
pub struct ReadEntry {
    pub index: u64,
    pub leaf_hash: Hash,
    /// The signed header bytes, verbatim.
    pub header_bytes: Vec<u8>,
}

/// A whole log read back and checked by [`Api::read_log`].
#[derive(Debug, Clone)]
pub struct ReadLog {
    pub origin: String,
    /// The size and root the node's status reports.
    pub size: u64,
    pub root: Hash,
    pub entries: Vec<ReadEntry>,
}

/// A client of one node's HTTP API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// The API of the node in `home`: address from `config.toml`, token from
    /// `api.token`.
    pub fn for_home(home: &Path) -> Api {
        let config = std::fs::read_to_string(home.join("config.toml"))
            .unwrap_or_else(|e| panic!("reading {}/config.toml: {e}", home.display()));
        // `[api] listen = "127.0.0.1:PORT"`; the harness avoids a TOML parser.
        let listen = config
            .split("[api]")
            .nth(1)
            .and_then(|section| {
                section
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("listen = "))
            })
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("no [api] listen in {}/config.toml", home.display()));
        let token = std::fs::read_to_string(home.join("api.token"))
            .unwrap_or_else(|e| panic!("reading {}/api.token: {e}", home.display()))
            .trim()
            .to_owned();
        Api::new(&format!("http://{listen}"), &token)
    }

    pub fn new(base: &str, token: &str) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        Api {
            base: base.to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    /// `GET path` with the token; `Err` when the node cannot be reached.
    pub fn try_get(&self, path: &str) -> Result<Reply, ureq::Error> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()?;
        Self::reply(response)
    }

    /// `POST path` with the token and a JSON body; `Err` when the node
    /// cannot be reached or the connection broke.
    pub fn try_post(&self, path: &str, body: &[u8]) -> Result<Reply, ureq::Error> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body)?;
        Self::reply(response)
    }

    fn reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()?;
        Ok(Reply { status, body })
    }

    /// `GET path`; panics if the node cannot be reached.
    #[track_caller]
    pub fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.base))
    }

    /// `POST path`; panics if the node cannot be reached.
    #[track_caller]
    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.try_post(path, body)
            .unwrap_or_else(|e| panic!("POST {}{path}: {e}", self.base))
    }

    /// Whether `/v1/health` answers 200.
    pub fn health(&self) -> bool {
        self.try_get("/v1/health").is_ok_and(|r| r.status == 200)
    }

    /// `POST /v1/records/{kind}?visibility=federation`: `Ok` on 201 only.
    /// `Err(Ok(reply))` for any other answer, `Err(Err(e))` when the request
    /// failed (node down, connection reset).
    pub fn try_publish(
        &self,
        kind: &str,
        body: &[u8],
    ) -> Result<Published, Result<Reply, ureq::Error>> {
        match self.try_post(&format!("/v1/records/{kind}?visibility=federation"), body) {
            Ok(reply) if reply.status == 201 => Ok(Published::parse(&reply.json())),
            Ok(reply) => Err(Ok(reply)),
            Err(e) => Err(Err(e)),
        }
    }

    /// Publishes and panics unless the node answers 201.
    #[track_caller]
    pub fn publish(&self, kind: &str, body: &[u8]) -> Published {
        match self.try_publish(kind, body) {
            Ok(published) => published,
            Err(Ok(reply)) => panic!("publish {kind}: HTTP {}: {}", reply.status, reply.body),
            Err(Err(e)) => panic!("publish {kind}: {e}"),
        }
    }

    /// `GET /v1/status` as JSON.
    #[track_caller]
    pub fn status(&self) -> Value {
        let reply = self.get("/v1/status");
        assert_eq!(reply.status, 200, "GET /v1/status: {}", reply.body);
        reply.json()
    }

    /// `GET /v1/logs/{log}/entries/{index}`; `None` on 404.
    #[track_caller]
    pub fn entry(&self, log: &str, index: u64) -> Option<Value> {
        let reply = self.get(&format!("/v1/logs/{log}/entries/{index}"));
        match reply.status {
            200 => Some(reply.json()),
            404 => None,
            other => panic!("GET entry {index} of {log}: HTTP {other}: {}", reply.body),
        }
    }

    /// Reads log `log` (member id or origin) back whole and checks it:
    /// entries `0..size` all answer and `size` does not (contiguous), each
    /// header's `index` is its position, each leaf hash is the hash of the
    /// verbatim header bytes, and the root recomputed from the leaf hashes
    /// (RFC 6962, [`RootBuilder`]) is the root the status reports.
    #[track_caller]
    pub fn read_log(&self, log: &str) -> ReadLog {
        let status = self.status();
        let logs = status["logs"].as_array().expect("status lists logs");
        let view = logs
            .iter()
            .find(|l| l["origin"] == log || l["member"] == log)
            .unwrap_or_else(|| panic!("status has no log {log}: {status}"));
        let origin = view["origin"].as_str().expect("origin").to_owned();
        let size = view["size"].as_u64().expect("size");
        let root = decode_hash(view["root"].as_str().expect("root"));
        let mut entries = Vec::with_capacity(usize::try_from(size).expect("size fits usize"));
        let mut builder = RootBuilder::default();
        for index in 0..size {
            let entry = self
                .entry(log, index)
                .unwrap_or_else(|| panic!("{origin} has size {size} but no entry {index}"));
            let header_bytes = BASE64
                .decode(entry["header_b64"].as_str().expect("header_b64"))
                .expect("header_b64 is base64");
            let leaf_hash = decode_hash(entry["leaf_hash"].as_str().expect("leaf_hash"));
            assert_eq!(entry["index"], index, "entry {index} of {origin}");
            let header: Value =
                serde_json::from_slice(&header_bytes).expect("header bytes are JSON");
            assert_eq!(
                header["index"], index,
                "header of entry {index} of {origin}"
            );
            assert_eq!(
                leaf_hash,
                merkle::leaf_hash(&header_bytes),
                "leaf hash of entry {index} of {origin} is not the hash of its header"
            );
            builder.push(leaf_hash);
            entries.push(ReadEntry {
                index,
                leaf_hash,
                header_bytes,
            });
        }
        assert!(
            self.entry(log, size).is_none(),
            "{origin} answers an entry at its size {size}"
        );
        assert_eq!(
            builder.root(),
            root,
            "root of {origin} recomputed from its {size} leaf hashes differs from the reported root"
        );
        ReadLog {
            origin,
            size,
            root,
            entries,
        }
    }
}
