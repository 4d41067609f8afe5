//! `concord token create|list|revoke`: the API's tokens, in the home's
//! file, whether or not the node runs.

use super::print_json;
use crate::cli::TokenCommand;
use crate::cli::exit::{self, CliError, CliResult};
use crate::home::Home;
use crate::tokens::{self, Scope};

pub fn run(command: TokenCommand, json: bool) -> CliResult {
    match command {
        TokenCommand::Create { home, name, scope } => {
            let scopes = Scope::parse_list(&scope).map_err(CliError::input)?;
            let made = tokens::create(&Home::new(&home.home), &name, &scopes)
                .map_err(|e| CliError::input(format!("{e:#}")))?;
            if json {
                print_json(&made)?;
            } else {
                outln!(
                    "token {} {:?} with scopes {}:",
                    made.record.id,
                    made.record.name,
                    list(&made.record.scopes)
                )?;
                outln!("{}", made.secret)?;
                outln!(
                    "Keep it now: it is shown this once; the node keeps only its hash. Send it as `Authorization: Bearer <token>`."
                )?;
            }
        }
        TokenCommand::List { home } => {
            let all = tokens::load(&Home::new(&home.home))?;
            if json {
                print_json(&all)?;
            } else {
                for token in &all {
                    outln!(
                        "{}  {:<28} {:<28} created {}{}",
                        token.id,
                        token.name,
                        list(&token.scopes),
                        token.created_at,
                        token
                            .revoked_at
                            .as_ref()
                            .map_or(String::new(), |at| format!(", REVOKED {at}"))
                    )?;
                }
                if all.is_empty() {
                    outln!("no tokens (make one with `concord token create`)")?;
                }
            }
        }
        TokenCommand::Revoke { home, token } => {
            let revoked = tokens::revoke(&Home::new(&home.home), &token)
                .map_err(|e| CliError::new(exit::NOT_FOUND, e))?;
            if json {
                print_json(&revoked)?;
            } else {
                outln!("revoked token {} {:?}", revoked.id, revoked.name)?;
            }
        }
    }
    Ok(())
}

fn list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
