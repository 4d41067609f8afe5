//! `concord list`, `show`, `status`, `checkpoint` and `proof`: what a node
//! holds, from its API while it runs and from its store while it does not.

use concord_keys::roster::Role;

use crate::cli::client::connect;
use crate::cli::exit::CliResult;
use crate::cli::{CheckpointArgs, ListArgs, ProofCommand, ShowArgs, StatusArgs};
use crate::home::Home;
use crate::query::ListFilter;

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::proof::Proof;

use super::print_json;
use crate::stdout::StdoutError;

pub fn list(args: &ListArgs, json: bool) -> CliResult {
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
    let filter = ListFilter {
        kind: args.kind.clone(),
        status: args.status.clone(),
        state: args.state.clone(),
        party: args.party.clone(),
        control_entry: args.control_entry.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
    };
    let connection = connect(&home)?;
    let mut lines = Vec::new();
    for log in &logs {
        lines.extend(
            connection
                .client()
                .entries(log, args.start, args.limit, &filter)?,
        );
    }
    if json {
        print_json(&lines)?;
    } else {
        for line in &lines {
            let mut what = line.summary.clone();
            if !line.parties.is_empty() {
                what = format!("{}: {what}", line.parties.join("; "));
            }
            outln!(
                "{} #{:<5} {:<14} {:<8} {:<10} {:<3} {:<20} {}",
                line.origin,
                line.index,
                line.kind,
                line.state.as_deref().unwrap_or("-"),
                line.decision_date
                    .as_deref()
                    .unwrap_or(&line.published_at[..10]),
                line.denying_state.as_deref().unwrap_or("-"),
                line.visibility,
                what
            )?;
        }
        if lines.is_empty() {
            outln!("no entries")?;
        }
    }
    Ok(())
}

pub fn show(args: &ShowArgs, json: bool) -> CliResult {
    let connection = connect(&Home::new(&args.home.home))?;
    let view = connection.client().entry(&args.log, args.index)?;
    if json {
        print_json(&view)?;
        return Ok(());
    }
    outln!(
        "{} #{}  {}  published {}",
        view.origin,
        view.index,
        view.kind,
        view.published_at
    )?;
    if let Some(status) = &view.status {
        let state = status["state"].as_str().unwrap_or("?");
        match status["valid_until"].as_str() {
            Some(until) => outln!("status     {state}, valid until {until} (UTC)")?,
            None => outln!("status     {state}")?,
        }
    }
    if let Some(current) = &view.current {
        outln!("in force   as amended by #{}:", current.index)?;
        match &current.denial {
            Some(denial) => outln!(
                "{}",
                serde_json::to_string_pretty(denial).unwrap_or_default()
            )?,
            None => outln!("(the amendment's payload is not held or not readable here)")?,
        }
        outln!("as first published:")?;
    }
    outln!("payload    {}", view.payload_state)?;
    if let Some(payload) = &view.payload {
        outln!(
            "{}",
            serde_json::to_string_pretty(payload).unwrap_or_default()
        )?;
    }
    outln!("leaf hash  {}", view.leaf_hash)?;
    outln!(
        "header     {}",
        serde_json::to_string(&view.header).unwrap_or_default()
    )?;
    Ok(())
}

pub fn status(args: &StatusArgs, json: bool) -> CliResult {
    let connection = connect(&Home::new(&args.home.home))?;
    let view = connection.client().status()?;
    if json {
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
    if view.running {
        outln!("peers: {}", view.peers.len())?;
        for peer in &view.peers {
            outln!(
                "  {} {}",
                peer.member.as_deref().unwrap_or("?"),
                peer.peer_id
            )?;
        }
    } else {
        outln!("node: not running (read from its store; peers and lag unknown)")?;
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
    outln!(
        "  size: entries held; ckpt: size of the latest signed checkpoint held; behind: entries a \
         peer's checkpoint shows beyond size; missing: payloads this node may read but does not \
         hold yet; final: that checkpoint has the cosignatures the config requires"
    )?;
    if let Some(own_log) = &view.own_log {
        outln!("own log: {own_log}")?;
    }
    if view.evidence > 0 {
        outln!("equivocation proofs held: {}", view.evidence)?;
    }
    Ok(())
}

pub fn checkpoint(args: &CheckpointArgs, json: bool) -> CliResult {
    let home = Home::new(&args.home.home);
    let log = match &args.log {
        Some(log) => log.clone(),
        None => home.config()?.id,
    };
    let connection = connect(&home)?;
    let note = connection.client().checkpoint(&log)?;
    let text = String::from_utf8_lossy(&note);
    if json {
        // The note whole, exactly the signed text, and what it states.
        let parsed = SignedCheckpoint::parse(&note).ok();
        print_json(&serde_json::json!({
            "origin": parsed.as_ref().map(|c| c.checkpoint.origin.as_str()),
            "tree_size": parsed.as_ref().map(|c| c.checkpoint.size),
            "root": parsed.as_ref().map(|c| hex::encode(c.checkpoint.root)),
            "note": text,
        }))?;
    } else {
        out!("{text}")?;
    }
    Ok(())
}

pub fn proof(command: ProofCommand, json: bool) -> CliResult {
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
    if json {
        print_json(&view)?;
    } else {
        print_proof(&view)?;
    }
    Ok(())
}

/// A proof for a person: what it proves, against which checkpoint, and
/// the hashes; `--json` gives the document a program checks.
fn print_proof(proof: &Proof) -> Result<(), StdoutError> {
    let (hashes, checkpoint) = match proof {
        Proof::Inclusion {
            origin,
            index,
            leaf_hash,
            tree_size,
            root,
            hashes,
            checkpoint,
        } => {
            outln!("inclusion of entry {index} of {origin} (leaf {leaf_hash})")?;
            outln!("in the tree of {tree_size} entries with root {root}")?;
            (hashes, checkpoint)
        }
        Proof::Consistency {
            origin,
            old_size,
            old_root,
            tree_size,
            root,
            hashes,
            checkpoint,
        } => {
            outln!("consistency of {origin}: the tree of {old_size} entries (root {old_root})")?;
            outln!("is a prefix of the tree of {tree_size} entries (root {root})")?;
            (hashes, checkpoint)
        }
    };
    outln!("{} hashes (RFC 9162):", hashes.len())?;
    for hash in hashes {
        outln!("  {hash}")?;
    }
    match checkpoint {
        Some(note) => outln!("signed checkpoint of that tree:\n{note}"),
        None => outln!("this node holds no signed checkpoint of that tree size"),
    }
}
