//! Exit codes, part of the command line's interface, and the one mapping
//! from the node's typed errors to them.

use crate::audit::SourceError;
use crate::bundle::BundleError;
use crate::own_log::OwnLogState;
use crate::publish::PublishError;
use crate::query::QueryError;
use crate::stdout::StdoutError;
use crate::store::{Rejected, StoreError};
use crate::testnet::TestnetError;
use concord_protocol::ledger::LedgerError;

use super::client::ClientError;

pub const OK: u8 = 0;
/// Something failed that fits no other code.
pub const FAILURE: u8 = 1;
/// The command line itself is wrong (clap's own code).
pub const USAGE: u8 = 2;
/// Input was refused: a malformed or invalid record, a bad argument.
pub const INVALID_INPUT: u8 = 3;
/// What was asked for does not exist.
pub const NOT_FOUND: u8 = 4;
/// The node could not be reached, its store is held by another process, or
/// its own log is not confirmed with peers yet.
pub const UNAVAILABLE: u8 = 5;
/// An audit found problems.
pub const AUDIT_FINDINGS: u8 = 6;
/// The disk refused a write; nothing unacknowledged may be relied on.
pub const STORAGE: u8 = 7;
/// A well-formed request the node's rules do not allow: an observer
/// publishing, a missing or wrong API token, a quarantined own log.
pub const REFUSED: u8 = 8;

/// The stable name of an exit code, the `code` of a JSON error.
pub fn name(code: u8) -> &'static str {
    match code {
        OK => "ok",
        USAGE => "usage",
        INVALID_INPUT => "invalid_input",
        NOT_FOUND => "not_found",
        UNAVAILABLE => "unavailable",
        AUDIT_FINDINGS => "audit_findings",
        STORAGE => "storage",
        REFUSED => "refused",
        _ => "failure",
    }
}

/// The table `--help` prints.
pub const HELP: &str = "Exit codes: 0 ok (also when the reader of the output closed it early, as `| head` does); 1 failure; 2 usage error; 3 input refused (malformed or invalid record, bad argument); 4 not found (a home, a log, an entry, a file); 5 node unreachable, store in use, or own log not yet confirmed with peers (publish: retry once the node reached a peer, or see --accept-fork-risk); 6 audit findings; 7 storage failure (disk full or failing); 8 refused by the node's rules (an observer publishing, a wrong API token, a quarantined or forked own log). With --json, errors are one JSON line on stderr: {\"error\": {\"code\", \"exit\", \"message\"}}.";

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }

    /// Input refused (exit 3).
    pub fn input(message: impl std::fmt::Display) -> Self {
        Self::new(INVALID_INPUT, anyhow::anyhow!("{message}"))
    }
}

pub type CliResult = Result<(), CliError>;

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        Self {
            code: anyhow_code(&error),
            error,
        }
    }
}

/// Plumbing (a home's files, say) is `anyhow`; what it wraps decides the code.
fn anyhow_code(error: &anyhow::Error) -> u8 {
    if let Some(store) = error.downcast_ref::<StoreError>() {
        store_code(store)
    } else if let Some(query) = error.downcast_ref::<QueryError>() {
        query_code(query)
    } else if let Some(stdout) = error.downcast_ref::<StdoutError>() {
        stdout_code(stdout)
    } else if error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    }) {
        // A home, config or roster file that is not there.
        NOT_FOUND
    } else {
        FAILURE
    }
}

/// Each typed error keeps its own message and gets its code from one place.
macro_rules! from_typed {
    ($($error:ty => $code:path),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> Self {
                Self { code: $code(&e), error: e.into() }
            }
        }
    )*};
}

from_typed! {
    StoreError => store_code,
    QueryError => query_code,
    ClientError => client_code,
    SourceError => source_code,
    BundleError => bundle_code,
    TestnetError => testnet_code,
    StdoutError => stdout_code,
}

impl CliError {
    /// Whether the command stopped because the reader of its standard
    /// output went away: it ends quietly then, since nobody reads the rest.
    pub fn is_stdout_closed(&self) -> bool {
        self.error
            .chain()
            .any(|e| matches!(e.downcast_ref(), Some(StdoutError::Closed)))
    }
}

/// A reader that closed the pipe took what it wanted (`concord list | head`):
/// exit 0, as ripgrep and `head` users expect, not 141 (killed by
/// `SIGPIPE`), which would fail a `set -o pipefail` script for no fault.
fn stdout_code(e: &StdoutError) -> u8 {
    match e {
        StdoutError::Closed => OK,
        StdoutError::Io(_) => FAILURE,
    }
}

fn store_code(e: &StoreError) -> u8 {
    match e {
        StoreError::Locked(_) => UNAVAILABLE,
        StoreError::Io(_) => STORAGE,
        StoreError::UnknownLog(_) | StoreError::OutOfRange { .. } => NOT_FOUND,
        _ => FAILURE,
    }
}

fn query_code(e: &QueryError) -> u8 {
    match e {
        QueryError::NotFound(_) => NOT_FOUND,
        QueryError::BadRequest(_) => INVALID_INPUT,
        QueryError::Duplicate(_) => REFUSED,
        QueryError::NotInRoster(_) | QueryError::Clock => FAILURE,
        QueryError::Store(s) => store_code(s),
    }
}

fn client_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Query(q) => query_code(q),
        ClientError::Store(s) => store_code(s),
        ClientError::Publish(PublishError::Storage(_)) => STORAGE,
        // As a running node's 409 `own_log_forked` and 503
        // `own_log_unconfirmed` do.
        ClientError::Publish(PublishError::Unconfirmed(unconfirmed)) => match unconfirmed.0 {
            OwnLogState::Forked { .. } => REFUSED,
            _ => UNAVAILABLE,
        },
        // The log's state refuses it, not the record: as a running node's
        // 409 does.
        ClientError::Publish(PublishError::Rejected(Rejected::Ledger(
            LedgerError::Quarantined(_) | LedgerError::OwnLogQuarantined(_),
        )))
        | ClientError::Observer(_) => REFUSED,
        ClientError::Publish(_) => INVALID_INPUT,
        ClientError::Refused { status, .. } => match status {
            400 | 413 | 422 => INVALID_INPUT,
            404 => NOT_FOUND,
            507 => STORAGE,
            401 | 403 | 409 => REFUSED,
            _ => UNAVAILABLE,
        },
        ClientError::Unreachable(_) => UNAVAILABLE,
        ClientError::BadAnswer(_) => FAILURE,
        ClientError::Home(e) => anyhow_code(e),
        ClientError::Bundle(b) => bundle_code(b),
        ClientError::Source(s) => source_code(s),
    }
}

fn source_code(e: &SourceError) -> u8 {
    match e {
        SourceError::Unreadable { .. } | SourceError::Roster { .. } => INVALID_INPUT,
        SourceError::Held(_) => UNAVAILABLE,
        SourceError::Store(s) => store_code(s),
    }
}

fn bundle_code(e: &BundleError) -> u8 {
    match e {
        BundleError::Input(_) => INVALID_INPUT,
        BundleError::Write(_) => STORAGE,
        BundleError::Failed(_) => FAILURE,
        BundleError::Source(s) => source_code(s),
        BundleError::Store(s) => store_code(s),
    }
}

fn testnet_code(e: &TestnetError) -> u8 {
    match e {
        TestnetError::Refused(_) => INVALID_INPUT,
        TestnetError::Failed(e) => anyhow_code(e),
    }
}
