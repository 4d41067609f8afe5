//! `concord` processes: the binary, one-shot commands run to completion
//! with a deadline, and guarded long-running processes.
//!
//! A [`Process`] is killed (SIGKILL) and reaped when it drops, so no
//! process outlives the value that owns it, whatever path (an error, a
//! panic) the owner leaves by. A clean stop is SIGTERM, which lets a node
//! flush and close its store.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// How long one CLI command may run before [`Run`] kills it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a process's log quoted in an [`Error::Exited`] and by
/// [`Process::log_tail`]: the few a terminal shows beside the error.
const LOG_LINES: usize = 8;
/// Bytes of a node's log a test quotes (`Testnet::node_log`): enough for a
/// failure message, never a whole run's log.
const LOG_BYTES: usize = 64 * 1024;

/// Which environment `concord` runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Environment {
    /// This process's, as an operator's shell would pass it.
    Inherited,
    /// No passphrase or home from the caller's environment, and quiet
    /// commands unless `CONCORD_LOG` asks otherwise: what a test expects
    /// must not depend on the shell it runs from.
    Clean,
}

/// The `concord` binary, at a path the caller knows: its own executable
/// for `concord demo`, `CARGO_BIN_EXE_concord` for tests and benchmarks.
#[derive(Debug, Clone)]
pub struct Concord {
    bin: PathBuf,
    environment: Environment,
}

/// Extra arguments and environment of one `concord run`.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Global options, placed before `run` (e.g. `--log-format json`).
    pub global_args: Vec<String>,
    /// Options of `run` itself (e.g. `--accept-fork-risk`).
    pub run_args: Vec<String>,
    /// Variables added to the environment.
    pub envs: Vec<(String, String)>,
}

impl NodeOptions {
    /// `concord run --accept-fork-risk`: the node publishes from its
    /// store's head without waiting for a peer, as for a member whose
    /// peers are not running.
    pub fn accepting_fork_risk() -> NodeOptions {
        NodeOptions {
            run_args: vec!["--accept-fork-risk".to_owned()],
            ..NodeOptions::default()
        }
    }
}

impl Concord {
    /// The binary at `bin`, run in this process's environment.
    pub fn new(bin: impl Into<PathBuf>) -> Concord {
        Concord {
            bin: bin.into(),
            environment: Environment::Inherited,
        }
    }

    /// The binary at `bin`, run in an environment isolated from the
    /// caller's, as tests and benchmarks need: no `CONCORD_PASSPHRASE` or
    /// `CONCORD_HOME` of the caller's, and commands logging warnings only
    /// unless `CONCORD_LOG` is set.
    pub fn isolated(bin: impl Into<PathBuf>) -> Concord {
        Concord {
            bin: bin.into(),
            environment: Environment::Clean,
        }
    }

    /// A `concord` command in this binary's environment, stdin closed.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command.stdin(Stdio::null());
        if self.environment == Environment::Clean {
            command
                .env_remove("CONCORD_PASSPHRASE")
                .env_remove("CONCORD_HOME");
            if std::env::var_os("CONCORD_LOG").is_none() {
                command.env("CONCORD_LOG", "warn,libp2p=error");
            }
        }
        command
    }

    /// Runs `concord ARGS` to completion; see [`Run::of`].
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command();
        command.args(args);
        Run::of(command)
    }

    /// Spawns `concord [global args] run --home HOME`, its stdout and
    /// stderr appended to `log_path`, named `what` in errors.
    ///
    /// # Errors
    /// The log file cannot be opened or the process cannot be spawned.
    pub fn spawn_node(
        &self,
        what: &str,
        home: &Path,
        log_path: &Path,
        options: &NodeOptions,
    ) -> Result<Process, Error> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| Error::io(format!("opening {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", log_path.display()), e))?;
        let mut command = self.command();
        if self.environment == Environment::Clean && std::env::var_os("CONCORD_LOG").is_none() {
            // A node's log is what a failing test quotes: the node's own
            // default level, not the quiet one of commands.
            command.env("CONCORD_LOG", "info,libp2p=warn");
        }
        command
            .args(&options.global_args)
            .args(["run", "--home"])
            .arg(home)
            .args(&options.run_args)
            .envs(options.envs.iter().map(|(k, v)| (k, v)))
            .stdout(log)
            .stderr(log_err);
        Process::spawn(command, what, Some(log_path))
    }
}

/// One guarded child process; SIGKILLed and reaped when dropped.
#[derive(Debug)]
pub struct Process {
    /// `None` once the process was reaped.
    child: Option<Child>,
    what: String,
    log_path: Option<PathBuf>,
}

impl Process {
    /// Spawns `command`, named `what` in errors; `log_path` is where its
    /// output goes, quoted when it exits unexpectedly.
    ///
    /// # Errors
    /// The process cannot be spawned.
    pub fn spawn(
        mut command: Command,
        what: &str,
        log_path: Option<&Path>,
    ) -> Result<Process, Error> {
        let child = command
            .spawn()
            .map_err(|e| Error::io(format!("starting {what}"), e))?;
        Ok(Process {
            child: Some(child),
            what: what.to_owned(),
            log_path: log_path.map(Path::to_path_buf),
        })
    }

    /// The exit status if the process has ended (it is then reaped).
    ///
    /// # Errors
    /// The status cannot be read.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>, Error> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = child
            .try_wait()
            .map_err(|e| Error::io(format!("waiting for {}", self.what), e))?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// Fails, quoting the end of the process's log, once it has ended.
    ///
    /// # Errors
    /// [`Error::Exited`] once the process has ended.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.try_exit()? {
            None => Ok(()),
            Some(status) => Err(Error::Exited {
                what: self.what.clone(),
                status,
                log: self.log_tail(),
            }),
        }
    }

    /// Waits up to `timeout` for the process to end on its own; `None` if
    /// it still runs.
    ///
    /// # Errors
    /// The status cannot be read.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM, the signal a node answers by stopping cleanly.
    ///
    /// # Errors
    /// The signal cannot be sent.
    pub fn sigterm(&self) -> Result<(), Error> {
        let Some(child) = &self.child else {
            return Ok(());
        };
        let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) only sends a signal; the pid is our own child, not
        // yet reaped (`child` is dropped when it is), so it names no other
        // process.
        #[allow(unsafe_code)]
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        if sent != 0 {
            return Err(Error::io(
                format!("sending SIGTERM to {}", self.what),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// SIGTERM, then the exit status within `timeout`; past it the process
    /// is killed and [`Error::Timeout`] returned.
    ///
    /// # Errors
    /// The signal cannot be sent, or the process outlived `timeout`.
    pub fn terminate(mut self, timeout: Duration) -> Result<ExitStatus, Error> {
        self.sigterm()?;
        match self.wait_exit(timeout)? {
            Some(status) => Ok(status),
            None => Err(Error::Timeout {
                what: format!("{} exits after SIGTERM", self.what),
                after: timeout,
            }),
        }
    }

    /// SIGKILL and reap: a crash at whatever moment this is.
    ///
    /// # Errors
    /// The process cannot be killed or reaped.
    pub fn kill(mut self) -> Result<(), Error> {
        self.kill_in_place()
    }

    fn kill_in_place(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            // It may have ended on its own already; reaping is what counts.
            let _ = child.kill();
            child
                .wait()
                .map_err(|e| Error::io(format!("reaping {}", self.what), e))?;
        }
        Ok(())
    }

    /// The last lines of the process's log after its path, for an
    /// operator's terminal; empty if it logs nowhere.
    pub fn log_tail(&self) -> String {
        self.log_path
            .as_deref()
            .map(|p| log_tail(p, LOG_LINES))
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Nothing to report to in a drop: the kill was tried.
        let _ = self.kill_in_place();
    }
}

/// The last 64 KiB of the log file at `path` (empty if unreadable).
pub(crate) fn log(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(LOG_BYTES);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// The last `n_lines` lines of the log at `path`, after its path.
fn log_tail(path: &Path, n_lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(n_lines)..];
            format!("; end of {}:\n{}", path.display(), tail.join("\n"))
        }
        Err(e) => format!("; {} unreadable: {e}", path.display()),
    }
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
    pub fn of(command: Command) -> Run {
        Run::with_timeout(command, COMMAND_TIMEOUT)
    }

    /// Runs `command` to completion, killing it after `timeout`; panics if
    /// it cannot be spawned or does not finish in time.
    pub fn with_timeout(command: Command, timeout: Duration) -> Run {
        Run::feeding(command, None, timeout)
    }

    /// Runs `command` with `input` on its standard input, killing it after
    /// [`COMMAND_TIMEOUT`].
    pub fn with_input(command: Command, input: &[u8]) -> Run {
        Run::feeding(command, Some(input.to_vec()), COMMAND_TIMEOUT)
    }

    fn feeding(mut command: Command, input: Option<Vec<u8>>, timeout: Duration) -> Run {
        let what = format!("{command:?}");
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut process = Process::spawn(command, &what, None).unwrap_or_else(|e| panic!("{e}"));
        let child = process.child.as_mut().expect("just spawned");
        // Written on a thread of its own: a command that refuses its input
        // early must not leave the harness blocked on a full pipe. A write
        // cut short by the command's exit is the command's answer, not an
        // error of the harness.
        let feeder = input.map(|bytes| {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                use std::io::Write as _;
                let _ = stdin.write_all(&bytes);
            })
        });
        // Both pipes are read on threads so that a chatty command cannot
        // block on a full pipe while it is waited for.
        let out_reader = drain(child.stdout.take().expect("stdout is piped"));
        let err_reader = drain(child.stderr.take().expect("stderr is piped"));
        let status = process
            .wait_exit(timeout)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{what} did not finish within {timeout:?}"));
        if let Some(feeder) = feeder {
            feeder.join().expect("stdin writer");
        }
        Run {
            what,
            code: status.code(),
            stdout: out_reader.join().expect("stdout reader"),
            stderr: err_reader.join().expect("stderr reader"),
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
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.what, self.stdout, self.stderr
            )
        })
    }
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
