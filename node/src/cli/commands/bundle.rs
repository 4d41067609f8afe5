//! `concord export` (of a running node through its API, of a stopped one
//! here) and `concord import` (on a stopped node only; see
//! [`crate::cli::Command::Import`] for why): signed bundles for air-gapped
//! agencies.

use concord_protocol::origin::Origin;

use crate::audit::{self, Finding, Progress};
use crate::bundle::{self, ExportRequest};
use crate::cli::client::connect_for_audit;
use crate::cli::exit::{AUDIT_FINDINGS, CliError, CliResult};
use crate::cli::{ExportArgs, ImportArgs};
use crate::home::Home;

use super::print_json;

/// # Errors
/// Exit 3 for a bad argument or an existing output file; exit 5 when the
/// node cannot be reached; exit 7 when the bundle cannot be written.
pub fn export(args: &ExportArgs, json: bool) -> CliResult {
    let request = ExportRequest {
        logs: args.log.clone(),
        headers_only: args.headers_only,
        audience: args.audience.clone(),
    };
    let summary = connect_for_audit(&Home::new(&args.home))?
        .client()
        .export(&request, &args.out)?;
    if json {
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
pub fn import(args: &ImportArgs, json: bool) -> CliResult {
    crate::cli::heap::keep_free_top();
    let home = Home::new(&args.home);
    let config = home.config()?;
    let roster = home.roster()?;
    let own = Origin::for_member(&config.federation, &config.id).map_err(CliError::input)?;
    let store = audit::open_stopped(&home.db_path())?;
    let progress = Progress::new(!json);
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
    for note in &audited.report.notes {
        eprintln!("note: {note}");
    }
    // A sound bundle that carries a proof is imported: the proof is what
    // this node must keep.
    if !audited.report.findings.iter().all(Finding::is_evidence) {
        if json {
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
    if json {
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
