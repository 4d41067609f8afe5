//! `concord publish`, `amend` and `revoke`.

use crate::cli::client::{Submission, connect};
use crate::cli::exit::CliResult;
use crate::cli::{ChangeArgs, PublishArgs};
use crate::home::Home;
use crate::query::Published;
use crate::stdout::StdoutError;

use super::{print_json, read_input};

/// # Errors
/// Exit 3 for a record refused as input; exit 8 when the own log is
/// quarantined or forked (the running node's API answers 409
/// `own_log_quarantined` or `own_log_forked`), with what the operator must
/// do; exit 5 when the node cannot be reached, or its own log is not
/// confirmed with peers yet (503 `own_log_unconfirmed`, or a stopped node
/// without `--accept-fork-risk`); exit 7 when the disk refused the write.
pub fn publish(args: &PublishArgs, json: bool) -> CliResult {
    let body = read_input(&args.file)?;
    let submission = Submission::parse(&args.kind, &args.visibility, None, body)?
        .with_fork_risk(args.fork_risk.fork_risk());
    send(&args.home.home, submission, json)
}

/// An amendment or revocation of denial `--index` of the own log.
pub fn change(args: &ChangeArgs, kind: &str, json: bool) -> CliResult {
    let body = read_input(&args.file)?;
    let submission = Submission::parse(kind, &args.visibility, Some(args.index), body)?
        .with_fork_risk(args.fork_risk.fork_risk());
    send(&args.home.home, submission, json)
}

fn send(home: &std::path::Path, submission: Submission<'_>, json: bool) -> CliResult {
    let connection = connect(&Home::new(home))?;
    let published = connection.client().publish(submission)?;
    print_published(&published, json)?;
    Ok(())
}

fn print_published(published: &Published, json: bool) -> Result<(), StdoutError> {
    if json {
        print_json(published)?;
    } else {
        outln!(
            "published {} index {} leaf {}",
            published.origin,
            published.index,
            published.leaf_hash
        )?;
    }
    Ok(())
}
