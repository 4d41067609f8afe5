//! `concord quarantine clear`: an operator's decision, recorded with who
//! made it and why.

use std::path::Path;

use crate::cli::client::connect;
use crate::cli::exit::{CliError, CliResult, NOT_FOUND};
use crate::home::Home;
use crate::query::{ClearRequest, resolve_log};

use super::print_json;

pub fn clear(dir: &Path, log: &str, operator: &str, reason: &str, json: bool) -> CliResult {
    let home = Home::new(dir);
    let origin = resolve_log(&home.roster()?, log)?;
    let request = ClearRequest {
        operator: operator.into(),
        reason: reason.into(),
    };
    if connect(&home)?.client().clear_quarantine(log, &request)? {
        if json {
            print_json(&serde_json::json!({
                "cleared": { "origin": origin, "operator": operator, "reason": reason }
            }))?;
        } else {
            outln!("quarantine of {origin} lifted by {operator}")?;
        }
        Ok(())
    } else {
        Err(CliError::new(
            NOT_FOUND,
            anyhow::anyhow!("{origin} is not quarantined"),
        ))
    }
}
