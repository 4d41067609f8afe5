//! `concord export` and `concord import`: signed bundles for air-gapped
//! agencies, on a stopped node.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::origin::Origin;

use crate::audit::{self, Finding, Progress};
use crate::bundle::{self, FORMAT, Head, PayloadFilter};
use crate::cli::exit::{AUDIT_FINDINGS, CliError, CliResult};
use crate::cli::{ExportArgs, ImportArgs};
use crate::home::Home;
use crate::query::resolve_log;

use super::print_json;

/// # Errors
/// Exit 3 for a bad argument or an existing output file; exit 5 when the
/// node holds the store; exit 7 when the bundle cannot be written.
pub fn export(args: &ExportArgs) -> CliResult {
    let home = Home::new(&args.home);
    let config = home.config()?;
    let roster_files = home.roster_files()?;
    let roster = home.roster()?;
    let identity = home.identity()?;
    let mut logs = Vec::new();
    for log in &args.log {
        logs.push(resolve_log(&roster, log)?);
    }
    let audience = match &args.audience {
        Some(id) => {
            let member = roster
                .members
                .iter()
                .find(|m| m.id.as_str() == id)
                .ok_or_else(|| {
                    CliError::input(format!("--for {id}: no such roster participant"))
                })?;
            Some((id.clone(), member.role, member.country))
        }
        None => None,
    };
    let store = audit::open_stopped(&home.db_path())?;
    let exporter = Origin::for_member(&config.federation, &config.id).map_err(CliError::input)?;
    let head = Head {
        audience: audience.as_ref().map(|(id, _, _)| id.clone()),
        created: crate::clock::now(),
        exporter: exporter.to_string(),
        federation: config.federation.clone(),
        format: FORMAT.into(),
        headers_only: args.headers_only,
        rosters: roster_files.iter().map(|f| BASE64.encode(f)).collect(),
    };
    let filter = if args.headers_only {
        PayloadFilter::None
    } else {
        match audience {
            Some((_, role, country)) => PayloadFilter::ReadableBy(role, country),
            None => PayloadFilter::PublicOnly,
        }
    };
    let summary = bundle::export_file(&store, &logs, &head, filter, &identity.log_key, &args.out)?;
    if args.json {
        print_json(&summary)?;
        return Ok(());
    }
    outln!("exported {} ({} bytes)", summary.out, summary.bytes)?;
    for log in &summary.logs {
        outln!(
            "  {:<40} {:>8} entries  {:>3} checkpoints  {:>8} payloads  {:>4} purged",
            log.origin,
            log.size,
            log.checkpoints,
            log.payloads,
            log.purged
        )?;
    }
    outln!("  {} equivocation proof(s)", summary.evidence)?;
    Ok(())
}

/// Audits the bundle against the home's roster, and stores it only if the
/// audit found nothing but evidence of equivocation (proofs it carries,
/// which are kept and quarantine their logs).
///
/// # Errors
/// Exit 6 with nothing stored when the bundle has other findings; exit 6
/// after storing when it proves an equivocation or its entries conflict with
/// the store; exit 5 when the node holds the store.
pub fn import(args: &ImportArgs) -> CliResult {
    crate::cli::heap::keep_free_top();
    let home = Home::new(&args.home);
    let config = home.config()?;
    let roster = home.roster()?;
    let own = Origin::for_member(&config.federation, &config.id).map_err(CliError::input)?;
    let store = audit::open_stopped(&home.db_path())?;
    let progress = Progress::new(!args.json);
    // One clock reading for the audit and the import: an entry the audit
    // passed is not refused halfway for a time that became ahead.
    let now = crate::clock::now();
    // Records too: the replica path refuses an entry whose record does not
    // validate, and an import must not stop halfway.
    let audited = bundle::audit_file(
        &args.bundle,
        Some((roster.clone(), format!("home {}", home.dir.display()))),
        true,
        now,
        &progress,
    )?;
    progress.finish();
    // A sound bundle that carries a proof is imported: the proof is what
    // this node must keep.
    if !audited.report.findings.iter().all(Finding::is_evidence) {
        if args.json {
            print_json(&audited.report)?;
        } else {
            for finding in &audited.report.findings {
                let line = finding
                    .line
                    .map(|l| format!("line {l} "))
                    .unwrap_or_default();
                eprintln!(
                    "  {line}{}: {} — {}",
                    finding.log, finding.what, finding.why
                );
            }
        }
        return Err(CliError::new(
            AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{}: {} finding(s); nothing was imported",
                args.bundle.display(),
                audited.report.findings.len()
            ),
        ));
    }
    let summary = bundle::import(&store, &roster, &own, &args.bundle, now)?;
    if args.json {
        print_json(&summary)?;
    } else {
        outln!("imported {}", args.bundle.display())?;
        for log in &summary.logs {
            match &log.skipped {
                Some(why) => outln!("  {:<40} skipped: {why}", log.origin),
                None => outln!(
                    "  {:<40} {:>8} new  {:>8} already held  {:>3} checkpoints  {} refused",
                    log.origin,
                    log.appended,
                    log.already_held,
                    log.checkpoints_stored,
                    log.refused.len()
                ),
            }?;
            for refusal in &log.refused {
                outln!("      refused: {refusal}")?;
            }
        }
        outln!("  {} equivocation proof(s) recorded", summary.evidence)?;
    }
    let refused: usize = summary.logs.iter().map(|l| l.refused.len()).sum();
    if refused > 0 {
        return Err(CliError::new(
            AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{refused} entries or checkpoints conflict with this node's store; see `concord status` for the evidence"
            ),
        ));
    }
    if summary.evidence > 0 {
        return Err(CliError::new(
            AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{} equivocation proof(s) kept, their logs quarantined; see `concord status` for the evidence",
                summary.evidence
            ),
        ));
    }
    Ok(())
}
