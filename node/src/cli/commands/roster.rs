//! `concord roster show|install`.

use concord_keys::roster::Role;

use crate::cli::RosterCommand;
use crate::cli::exit::{CliError, CliResult, INVALID_INPUT};
use crate::home::Home;

use super::print_json;

pub fn run(command: RosterCommand, json: bool) -> CliResult {
    match command {
        RosterCommand::Show { home } => {
            let home = Home::new(&home.home);
            let roster = home.roster()?;
            if json {
                print_json(&crate::query::roster(
                    &roster,
                    &home.canonical_roster_files()?,
                ))?;
                return Ok(());
            }
            outln!(
                "federation {} roster version {} fingerprint {}",
                roster.federation,
                roster.version,
                roster.fingerprint()
            )?;
            for m in &roster.members {
                let role = if m.role == Role::Member {
                    "member"
                } else {
                    "observer"
                };
                let key = m
                    .keys
                    .iter()
                    .rev()
                    .find(|k| k.is_current())
                    .map(|k| k.vkey.to_string())
                    .unwrap_or_default();
                outln!(
                    "  {:<10} {:<8} {} {}  {}",
                    m.id.as_str(),
                    role,
                    m.country.as_str(),
                    m.name,
                    key
                )?;
            }
            Ok(())
        }
        RosterCommand::Export { home, out } => {
            let home = Home::new(&home.home);
            let roster = home.roster()?;
            let document = crate::query::roster(&roster, &home.canonical_roster_files()?);
            let text = serde_json::to_string_pretty(&document).expect("documents serialise");
            std::fs::write(&out, format!("{text}\n")).map_err(|e| {
                CliError::new(
                    crate::cli::exit::FAILURE,
                    anyhow::anyhow!("writing {}: {e}", out.display()),
                )
            })?;
            if json {
                print_json(&serde_json::json!({
                    "exported": { "federation": roster.federation, "version": roster.version,
                                  "fingerprint": roster.fingerprint(), "file": out }
                }))?;
            } else {
                outln!(
                    "wrote roster version {} of {} (fingerprint {}) to {}: `roster install`, `audit --roster` and `verify-screening --roster` take it",
                    roster.version,
                    roster.federation,
                    roster.fingerprint(),
                    out.display()
                )?;
            }
            Ok(())
        }
        RosterCommand::Install { home, file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::input(format!("reading {}: {e}", file.display())))?;
            let roster = Home::new(&home.home)
                .install_roster(&bytes)
                .map_err(|e| CliError::new(INVALID_INPUT, e))?;
            if json {
                print_json(&serde_json::json!({
                    "installed": { "federation": roster.federation, "version": roster.version }
                }))?;
            } else {
                outln!(
                    "installed roster version {} of {}",
                    roster.version,
                    roster.federation
                )?;
            }
            Ok(())
        }
    }
}
