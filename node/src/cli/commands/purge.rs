//! `concord purge`: payloads of denials whose validity ended, by hand, on a
//! stopped node; headers and proofs stay.

use concord_protocol::record::Date;

use crate::cli::PurgeArgs;
use crate::cli::client::{Connection, connect};
use crate::cli::exit::{CliError, CliResult, FAILURE, UNAVAILABLE};
use crate::home::Home;

use super::print_json;

pub fn purge(args: &PurgeArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let Connection::Stopped(local) = connect(&home)? else {
        return Err(CliError::new(
            UNAVAILABLE,
            anyhow::anyhow!(
                "the node is running; stop it to purge by hand, or set [retention] purge_after_days in config.toml"
            ),
        ));
    };
    let store = local.store();
    let now = crate::clock::now();
    let today = Date::from_unix_seconds(now as i64).ok_or_else(|| {
        CliError::new(FAILURE, anyhow::anyhow!("the system clock is out of range"))
    })?;
    let expired = store.expired_denials(&today, args.grace_days)?;
    let purged = if args.dry_run {
        0
    } else {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(FAILURE, e))?;
        runtime.block_on(store.purge_expired(&today, args.grace_days, now))?
    };
    let listing: Vec<serde_json::Value> = expired
        .iter()
        .map(|(origin, chain)| serde_json::json!({ "origin": origin, "entries": chain }))
        .collect();
    if args.json.json {
        print_json(
            &serde_json::json!({ "expired_denials": listing, "payloads_purged": purged, "dry_run": args.dry_run }),
        )?;
    } else {
        for (origin, chain) in &expired {
            outln!("{origin} denial #{} expired: entries {chain:?}", chain[0])?;
        }
        outln!(
            "{} expired denials; {purged} payloads purged{}",
            expired.len(),
            if args.dry_run { " (dry run)" } else { "" }
        )?;
    }
    Ok(())
}
