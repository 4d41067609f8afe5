//! `concord purge`: payloads of denials whose validity ended, by hand, on a
//! stopped node; headers and proofs stay. `--dry-run` only lists them, on a
//! running node too.

use crate::cli::PurgeArgs;
use crate::cli::client::{Connection, connect};
use crate::cli::exit::{CliError, CliResult, FAILURE, UNAVAILABLE};
use crate::home::Home;
use crate::query::today;

use super::print_json;

/// # Errors
/// Exit 5 when a purge (not a dry run) finds the node running, or the node
/// cannot be reached.
pub fn purge(args: &PurgeArgs, json: bool) -> CliResult {
    let home = Home::new(&args.home.home);
    let connection = connect(&home)?;
    // Purging writes payloads away: by hand only while nothing else writes
    // the store. Listing them reads it, which a running node answers.
    if let (Connection::Running(_), false) = (&connection, args.dry_run) {
        return Err(CliError::new(
            UNAVAILABLE,
            anyhow::anyhow!(
                "the node is running; stop it to purge by hand (`--dry-run` lists what would go), or set [retention] purge_after_days in config.toml"
            ),
        ));
    }
    let expired = connection.client().expired_denials(args.grace_days)?;
    let purged = match &connection {
        Connection::Stopped(local) if !args.dry_run => {
            let now = crate::clock::now();
            let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(FAILURE, e))?;
            runtime.block_on(
                local
                    .store()
                    .purge_expired(&today(now)?, args.grace_days, now),
            )?
        }
        _ => 0,
    };
    if json {
        print_json(
            &serde_json::json!({ "expired_denials": expired, "payloads_purged": purged, "dry_run": args.dry_run }),
        )?;
    } else {
        for denial in &expired {
            let first = denial.entries.first().copied().unwrap_or_default();
            outln!(
                "{} denial #{first} expired: entries {:?}",
                denial.origin,
                denial.entries
            )?;
        }
        outln!(
            "{} expired denials; {purged} payloads purged{}",
            expired.len(),
            if args.dry_run { " (dry run)" } else { "" }
        )?;
    }
    Ok(())
}
