//! `concord list`, `show`, `status`, `checkpoint` and `proof`: what a node
//! holds, from its API while it runs and from its store while it does not.

use concord_keys::roster::Role;

use crate::cli::client::connect;
use crate::cli::exit::CliResult;
use crate::cli::{CheckpointArgs, ListArgs, ProofCommand, ShowArgs, StatusArgs};
use crate::home::Home;

use super::print_json;

pub fn list(args: &ListArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let roster = home.roster()?;
    let logs: Vec<String> = match &args.log {
        Some(log) => vec![log.clone()],
        None => roster
            .members
            .iter()
            .filter(|m| m.role == Role::Member)
            .map(|m| m.id.to_string())
            .collect(),
    };
    let connection = connect(&home)?;
    let mut lines = Vec::new();
    for log in &logs {
        lines.extend(connection.client().entries(log, args.start, args.limit)?);
    }
    if args.json.json {
        print_json(&lines)?;
    } else {
        for line in &lines {
            outln!(
                "{} #{:<5} {:<14} {:<18} {}",
                line.origin,
                line.index,
                line.kind,
                line.visibility,
                line.summary
            )?;
        }
        if lines.is_empty() {
            outln!("no entries")?;
        }
    }
    Ok(())
}

pub fn show(args: &ShowArgs) -> CliResult {
    let connection = connect(&Home::new(&args.home.home))?;
    let view = connection.client().entry(&args.log, args.index)?;
    if args.json.json {
        print_json(&view)?;
        return Ok(());
    }
    outln!(
        "{} #{}  {}  time {}",
        view.origin,
        view.index,
        view.kind,
        view.time
    )?;
    outln!("leaf hash  {}", view.leaf_hash)?;
    outln!(
        "header     {}",
        serde_json::to_string(&view.header).unwrap_or_default()
    )?;
    if let Some(status) = &view.status {
        outln!("status     {status}")?;
    }
    outln!("payload    {}", view.payload_state)?;
    if let Some(payload) = &view.payload {
        outln!(
            "{}",
            serde_json::to_string_pretty(payload).unwrap_or_default()
        )?;
    }
    Ok(())
}

pub fn status(args: &StatusArgs) -> CliResult {
    let connection = connect(&Home::new(&args.home.home))?;
    let view = connection.client().status()?;
    if args.json.json {
        print_json(&view)?;
        return Ok(());
    }
    outln!(
        "{} ({}, {:?}) in federation {} roster v{}",
        view.me.id,
        view.me.origin,
        view.me.role,
        view.federation,
        view.roster_version
    )?;
    outln!("peers: {}", view.peers.len())?;
    for peer in &view.peers {
        outln!(
            "  {} {}",
            peer.member.as_deref().unwrap_or("?"),
            peer.peer_id
        )?;
    }
    outln!(
        "{:<40} {:>8} {:>8} {:>8} {:>8} {:<6} witnesses",
        "log",
        "size",
        "ckpt",
        "behind",
        "missing",
        "final"
    )?;
    for log in &view.logs {
        let witnesses: Vec<&str> = log.cosigned_by.iter().map(|c| c.witness.as_str()).collect();
        outln!(
            "{:<40} {:>8} {:>8} {:>8} {:>8} {:<6} {}{}",
            log.origin,
            log.size,
            log.checkpoint_size
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            log.behind_by,
            log.payloads_missing,
            if log.is_final { "yes" } else { "no" },
            witnesses.join(","),
            if log.quarantined { "  QUARANTINED" } else { "" }
        )?;
    }
    if view.evidence > 0 {
        outln!("equivocation proofs held: {}", view.evidence)?;
    }
    Ok(())
}

pub fn checkpoint(args: &CheckpointArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let log = match &args.log {
        Some(log) => log.clone(),
        None => home.config()?.id,
    };
    let connection = connect(&home)?;
    let note = connection.client().checkpoint(&log)?;
    out!("{}", String::from_utf8_lossy(&note))?;
    Ok(())
}

pub fn proof(command: ProofCommand) -> CliResult {
    let view = match &command {
        ProofCommand::Inclusion {
            home,
            log,
            index,
            size,
        } => connect(&Home::new(&home.home))?
            .client()
            .inclusion(log, *index, *size)?,
        ProofCommand::Consistency {
            home,
            log,
            from,
            to,
        } => connect(&Home::new(&home.home))?
            .client()
            .consistency(log, *from, *to)?,
    };
    print_json(&view)?;
    Ok(())
}
