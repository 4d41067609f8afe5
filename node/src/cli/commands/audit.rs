//! `concord audit`: a node's whole store (a running node audits it through
//! its API, a stopped one here), or a bundle, offline; exit 6 on any
//! finding.

use crate::audit::{self, AuditRequest, PinnedRoster, Progress, Report};
use crate::cli::AuditArgs;
use crate::cli::client::connect_for_audit;
use crate::cli::exit::{AUDIT_FINDINGS, CliError, CliResult};
use crate::home::Home;
use crate::stdout::StdoutError;

use super::print_json;

/// # Errors
/// Exit 6 after printing the report when there are findings; exit 5 when
/// the node cannot be reached; exit 3 for an unreadable roster or bundle.
pub fn audit(args: &AuditArgs, json: bool) -> CliResult {
    crate::cli::heap::keep_free_top();
    let progress = Progress::new(!json);
    let report = match (&args.bundle, &args.home) {
        (Some(bundle), home) => {
            let pinned = match (&args.roster, home) {
                (Some(path), _) => Some((audit::read_roster(path)?, path.display().to_string())),
                (None, Some(home)) => Some((
                    Home::new(home).roster()?,
                    format!("home {}", home.display()),
                )),
                (None, None) => None,
            };
            let now = crate::clock::now();
            crate::bundle::audit_file(bundle, pinned, args.records, now, &progress)?.report
        }
        (None, Some(home)) => {
            let request = AuditRequest {
                records: args.records,
                roster: args.roster.as_deref().map(PinnedRoster::read).transpose()?,
            };
            connect_for_audit(&Home::new(home))?
                .client()
                .audit(&request, &progress)?
        }
        (None, None) => {
            return Err(CliError::input(
                "name a store with --home DIR or a bundle with --bundle PATH",
            ));
        }
    };
    progress.finish();
    if json {
        print_json(&report)?;
    } else {
        print_report(&report)?;
    }
    if report.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            AUDIT_FINDINGS,
            anyhow::anyhow!("{} finding(s); see the report above", report.findings.len()),
        ))
    }
}

fn print_report(report: &Report) -> Result<(), StdoutError> {
    outln!(
        "audit of {} against roster {}, records {}: {}",
        report.source,
        report.roster,
        if report.records_validated {
            "validated"
        } else {
            "not validated (--records)"
        },
        report.verdict.to_uppercase()
    )?;
    for log in &report.logs {
        outln!(
            "  {:<40} {:>8} entries  {:>3} checkpoints  root {}  witnesses {}",
            log.origin,
            log.size,
            log.checkpoints,
            log.root,
            if log.cosigners.is_empty() {
                "-".into()
            } else {
                log.cosigners.join(",")
            }
        )?;
    }
    for note in &report.notes {
        outln!("  NOTE {note}")?;
    }
    // Causes first; what follows from each is counted by kind, and listed
    // whole in --json.
    let follows: std::collections::HashSet<usize> = report
        .groups
        .iter()
        .flat_map(|g| g.follows.iter().copied())
        .collect();
    for (i, finding) in report.findings.iter().enumerate() {
        if follows.contains(&i) {
            continue;
        }
        let line = finding
            .line
            .map(|l| format!(" line {l}"))
            .unwrap_or_default();
        let at = finding.index.map(|i| format!(" #{i}")).unwrap_or_default();
        outln!(
            "  FINDING{line} {}{at}: {} — {}",
            finding.log,
            finding.what,
            finding.why
        )?;
        if let Some(group) = report.groups.iter().find(|g| g.cause == i) {
            let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
            for &j in &group.follows {
                *kinds.entry(report.findings[j].what.as_ref()).or_default() += 1;
            }
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            outln!(
                "    and {} finding(s) that follow from it: {} (each in --json)",
                group.follows.len(),
                kinds.join(", ")
            )?;
        }
    }
    Ok(())
}
