//! The one process harness of Concord: real `concord` processes on loopback,
//! used alike by `concord demo`, the black-box tests under `tests/` and the
//! benchmarks that start nodes.
//!
//! - [`process`]: the binary ([`process::Concord`], whose path the caller
//!   passes in), one-shot commands with a deadline ([`process::Run`]) and
//!   guarded processes ([`process::Process`]: SIGTERM, SIGKILL, never
//!   outliving their owner).
//! - [`testnet`]: a federation from `concord testnet create`, whose nodes
//!   start, stop, crash and restart ([`testnet::Testnet`]).
//! - [`api`]: a client of one node's HTTP API ([`api::Api`]), with the
//!   bearer token from `HOME/api.token`.
//! - [`wait`]: the only way to wait, polling with a deadline.
//! - [`rng`]: a seeded generator, so that "random" moments replay.
//! - [`records`]: the sample records of `scenarios/records/`.
//! - [`synthetic`]: seeded synthetic denials and applications, as many as a
//!   screening benchmark needs.
//!
//! The runner of scenario files (faults played against a testnet) is to
//! sit beside these modules and be built from them.
//!
//! What the demo uses returns [`Error`]s, because the demo is a command an
//! operator runs and must never panic on a failed child. Helpers meant for
//! tests panic instead, naming what they were doing: there a panic is the
//! assertion.

use std::process::ExitStatus;
use std::time::Duration;

pub mod api;
pub mod process;
pub mod records;
pub mod rng;
pub mod synthetic;
pub mod testnet;
pub mod wait;

/// What went wrong with a process, a wait or a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Spawning, signalling or reaping a process, or reading a file.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A process ended while it was expected to run.
    #[error("{what} exited ({status}){log}")]
    Exited {
        what: String,
        status: ExitStatus,
        /// The end of its log, introduced by the log's path; may be empty.
        log: String,
    },
    /// A condition did not hold before its deadline.
    #[error("timed out after {after:?} waiting until {what}")]
    Timeout { what: String, after: Duration },
    /// An HTTP request got no answer (connection refused or broken,
    /// timeout) or an answer that could not be read.
    #[error("{what}: {source}")]
    Http {
        what: String,
        source: Box<ureq::Error>,
    },
}

impl Error {
    fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
