//! `concord init` (one agency's home) and `concord testnet create` (a whole
//! local federation).

use concord_keys::{KdfParams, Passphrase, Protection};

use crate::cli::exit::{CliError, CliResult};
use crate::cli::{InitArgs, TestnetArgs};
use crate::home::{PASSPHRASE_ENV, SyncConfig};
use crate::testnet::{self, HomeSpec, InitFacts, Plan};

use super::print_json;

/// # Errors
/// Bad arguments, no passphrase without `--insecure-demo-keys`, or an
/// existing home (exit 3); files that cannot be written (exit 1).
pub fn init(args: &InitArgs, json: bool) -> CliResult {
    let passphrase = std::env::var(PASSPHRASE_ENV).ok().map(Passphrase::new);
    let protection = match (&passphrase, args.insecure_demo_keys) {
        (_, true) => Protection::InsecurePlaintext,
        (Some(p), false) => {
            // Before anything is written: a refused init leaves no home.
            p.check_strength().map_err(CliError::input)?;
            Protection::Passphrase {
                passphrase: p,
                params: KdfParams::PRODUCTION,
            }
        }
        (None, false) => {
            return Err(CliError::input(format!(
                "set {PASSPHRASE_ENV} to encrypt the key file, or pass --insecure-demo-keys for a throwaway demo"
            )));
        }
    };
    let spec = HomeSpec {
        dir: &args.home.home,
        id: &args.id,
        name: &args.name,
        country: &args.country,
        role: args.role.into(),
        federation: &args.federation,
        ports: (args.p2p_port, args.api_port),
        sync: SyncConfig::default(),
    };
    let (facts, member) = testnet::init(&spec, protection)?;
    if json {
        print_json(&serde_json::json!({ "home": facts, "roster_entry": member }))?;
        return Ok(());
    }
    outln!("created the home of {} in {}", facts.id, facts.home)?;
    outln!("  origin        {}", facts.origin)?;
    outln!("  verifier key  {}", facts.verifier_key)?;
    outln!("  witness key   {}", facts.witness_key)?;
    outln!("  peer id       {}", facts.peer_id)?;
    outln!("  listens on    {}", facts.addrs.join(" "))?;
    outln!("  API           {}", facts.api)?;
    let member_json = serde_json::to_string_pretty(&member).expect("a member serialises");
    outln!(
        "roster entry for this agency (send it to whoever assembles the roster):\n{member_json}"
    )?;
    Ok(())
}

impl From<&TestnetArgs> for Plan {
    fn from(args: &TestnetArgs) -> Self {
        Self {
            dir: args.dir.clone(),
            members: args.members.clone(),
            observers: args.observers.clone(),
            federation: args.federation.clone(),
            sync_interval_ms: args.sync_interval_ms,
        }
    }
}

/// # Errors
/// Bad ids or countries, or an existing home (exit 3); files that cannot
/// be written (exit 1).
pub fn testnet(args: &TestnetArgs, json: bool) -> CliResult {
    let homes = testnet::build(&Plan::from(args))?;
    let listing: Vec<InitFacts> = homes.iter().map(testnet::NewHomeView::facts).collect();
    if json {
        print_json(&listing)?;
        return Ok(());
    }
    outln!(
        "federation {} created in {}",
        args.federation,
        args.dir.display()
    )?;
    for f in &listing {
        outln!("  {:<8} {}  api {}  {}", f.id, f.home, f.api, f.addrs[0])?;
    }
    outln!(
        "start a node with: concord run --home {}/<id>",
        args.dir.display()
    )?;
    Ok(())
}
