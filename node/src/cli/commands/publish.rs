//! `concord publish`, `amend` and `revoke`.

use crate::cli::client::{Submission, connect};
use crate::cli::exit::CliResult;
use crate::cli::{ChangeArgs, PublishArgs};
use crate::home::Home;
use crate::query::Published;
use crate::stdout::StdoutError;
use concord_protocol::entry::Digest256;

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
        .with_fork_risk(args.fork_risk.fork_risk())
        .with_force(args.force);
    if args.dry_run {
        return Ok(print_dry_run(&submission, json)?);
    }
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

/// What `publish --dry-run` shows: the record as it would be signed.
fn print_dry_run(submission: &Submission<'_>, json: bool) -> Result<(), StdoutError> {
    let entry = submission.entry();
    let bytes = entry.record.to_canonical_bytes();
    let record: serde_json::Value =
        serde_json::from_slice(&bytes).expect("a record's canonical bytes are JSON");
    let view = serde_json::json!({
        "dry_run": true,
        "kind": entry.record.kind().as_str(),
        "visibility": crate::query::visibility_name(&entry.visibility),
        "payload": { "sha256": Digest256::of(&bytes).to_string(), "size": bytes.len() },
        "record": record,
    });
    if json {
        return print_json(&view);
    }
    outln!(
        "valid {} record, not published (--dry-run); visibility {}, payload {} bytes, sha256 {}",
        view["kind"].as_str().unwrap_or_default(),
        view["visibility"].as_str().unwrap_or_default(),
        bytes.len(),
        view["payload"]["sha256"].as_str().unwrap_or_default()
    )?;
    outln!(
        "{}",
        serde_json::to_string_pretty(&record).expect("JSON prints")
    )
}
