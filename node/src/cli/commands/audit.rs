//! `concord audit`: a stopped node's whole store, or a bundle, offline;
//! exit 6 on any finding.

use crate::audit::{self, Progress, Report, audit_store};
use crate::cli::AuditArgs;
use crate::cli::exit::{AUDIT_FINDINGS, CliError, CliResult};
use crate::home::Home;
use crate::stdout::StdoutError;

use super::print_json;

/// # Errors
/// Exit 6 after printing the report when there are findings; exit 5 when
/// the node holds the store; exit 3 for an unreadable roster or bundle.
pub fn audit(args: &AuditArgs) -> CliResult {
    crate::cli::heap::keep_free_top();
    let pinned = match (&args.roster, &args.home) {
        (Some(path), _) => Some((audit::read_roster(path)?, path.display().to_string())),
        (None, Some(home)) if args.bundle.is_some() => Some((
            Home::new(home).roster()?,
            format!("home {}", home.display()),
        )),
        _ => None,
    };
    let progress = Progress::new(!args.json);
    let now = crate::clock::now();
    let report = match (&args.bundle, &args.home) {
        (Some(bundle), _) => {
            crate::bundle::audit_file(bundle, pinned, args.records, now, &progress)?.report
        }
        (None, Some(home)) => {
            let home = Home::new(home);
            let (roster, roster_source) = match pinned {
                Some(pinned) => pinned,
                None => (home.roster()?, format!("home {}", home.dir.display())),
            };
            let store = audit::open_stopped(&home.db_path())?;
            audit_store(
                &store,
                &roster,
                &home.db_path().display().to_string(),
                &roster_source,
                args.records,
                now,
                &progress,
            )?
        }
        (None, None) => {
            return Err(CliError::input(
                "name a store with --home DIR or a bundle with --bundle PATH",
            ));
        }
    };
    progress.finish();
    if args.json {
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
    for finding in &report.findings {
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
    }
    Ok(())
}
