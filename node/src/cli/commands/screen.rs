//! `concord screen` and `concord verify-screening`: an application against
//! every member's denials in force, and a saved result checked later.

use std::io::{BufRead as _, Write as _};
use std::path::Path;

use concord_protocol::record::Date;
use concord_screening::Application;

use super::{print_json, read_input};
use crate::cli::client::{connect, connect_for_audit};
use crate::cli::exit::{self, CliError, CliResult};
use crate::cli::{AlertsArgs, ScreenArgs, VerifyScreeningArgs};
use crate::home::Home;
use crate::screening::verify::Verdict;
use crate::screening::{HitView, Request, ScreeningResult};

pub fn screen(args: &ScreenArgs, json: bool) -> CliResult {
    let at = args
        .at
        .as_deref()
        .map(|at| Date::parse(at).map_err(|e| CliError::input(format!("--at {at}: {e}"))))
        .transpose()?;
    let connection = connect(&Home::new(&args.home.home))?;
    let client = connection.client();
    if let Some(batch) = &args.batch {
        let out = args
            .out
            .as_deref()
            .expect("clap requires --out with --batch");
        return screen_batch(batch, out, |application| {
            let request = Request {
                application,
                at,
                threshold: Some(args.threshold),
            };
            Ok(client.screen(&request)?)
        });
    }
    let file = args
        .file
        .as_deref()
        .expect("clap requires --file or --batch");
    let application = parse_application(&read_input(file)?)?;
    let result = client.screen(&Request {
        application,
        at,
        threshold: Some(args.threshold),
    })?;
    if let Some(out) = &args.out {
        let text = serde_json::to_vec_pretty(&result).expect("results serialise");
        std::fs::write(out, text).map_err(|e| {
            CliError::new(
                exit::FAILURE,
                anyhow::anyhow!("writing {}: {e}", out.display()),
            )
        })?;
    }
    if json {
        print_json(&result)?;
    } else {
        report(&result, args.out.as_deref())?;
    }
    Ok(())
}

fn parse_application(bytes: &[u8]) -> Result<Application, CliError> {
    Application::parse(bytes).map_err(|e| CliError::input(format!("the application: {e}")))
}

/// Screens each line of `batch`, writing one result line each to `out`,
/// with a progress bar on a terminal. A line that is no application stops
/// the batch, naming it; the results before it are kept.
fn screen_batch(
    batch: &Path,
    out: &Path,
    mut screen_one: impl FnMut(Application) -> Result<ScreeningResult, CliError>,
) -> CliResult {
    let read_error =
        |e: std::io::Error| CliError::input(format!("reading {}: {e}", batch.display()));
    let input = std::fs::File::open(batch).map_err(read_error)?;
    let lines: Vec<String> = std::io::BufReader::new(input)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    let write_error = |e: std::io::Error| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("writing {}: {e}", out.display()),
        )
    };
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out).map_err(write_error)?);
    let bar = progress(lines.len() as u64);
    let mut hits = 0;
    let mut screened = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let application = Application::parse(line.as_bytes())
            .map_err(|e| CliError::input(format!("{} line {}: {e}", batch.display(), n + 1)))?;
        let result = screen_one(application)?;
        hits += result.hits.len();
        screened += 1;
        serde_json::to_writer(&mut writer, &result).expect("results serialise");
        writer.write_all(b"\n").map_err(write_error)?;
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    writer.flush().map_err(write_error)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    eprintln!(
        "{screened} applications screened, {hits} hits; results in {}",
        out.display()
    );
    Ok(())
}

fn progress(total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "screening [{bar:40}] {pos}/{len} applications ({per_sec}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    })
}

/// The result as a short report.
fn report(
    result: &ScreeningResult,
    saved: Option<&Path>,
) -> Result<(), crate::stdout::StdoutError> {
    let application = &result.application;
    outln!(
        "Screening of application {} (destination {}) against the denials in force on {}",
        application.reference,
        application.destination,
        result.at
    )?;
    let screened: Vec<String> = result
        .logs
        .iter()
        .filter(|log| log.size > 0)
        .map(|log| format!("{} ({} entries)", member_of(&log.origin), log.size))
        .collect();
    outln!(
        "Logs screened at their latest signed checkpoints: {}",
        if screened.is_empty() {
            "none".to_owned()
        } else {
            screened.join(", ")
        }
    )?;
    for log in result.logs.iter().filter(|log| log.unscreened > 0) {
        outln!(
            "  {} holds {} entries past its latest checkpoint; they are screened once a checkpoint covers them",
            member_of(&log.origin),
            log.unscreened
        )?;
    }
    outln!()?;
    if result.hits.is_empty() {
        outln!(
            "No denial in force meets this application at score {:.2} or above.",
            result.threshold
        )?;
    } else {
        outln!(
            "{} denial(s) in force meet this application (score {:.2} or above):",
            result.hits.len(),
            result.threshold
        )?;
    }
    for (n, hit) in result.hits.iter().enumerate() {
        hit_report(n + 1, hit, application.reference.as_str())?;
    }
    for restricted in &result.restricted {
        outln!(
            "\nA restricted denial of {} may match ({} entr{} of {} this node may not read: {}); consult {}.",
            restricted.state,
            restricted.entries.len(),
            if restricted.entries.len() == 1 {
                "y"
            } else {
                "ies"
            },
            member_of(&restricted.origin),
            restricted
                .entries
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            restricted.state
        )?;
    }
    match saved {
        Some(path) => outln!(
            "\nSaved with its checkpoints and proofs in {}; check it any time with `concord verify-screening {}`.",
            path.display(),
            path.display()
        ),
        None => outln!(
            "\nSave the result with --out FILE to verify it later (`concord verify-screening FILE`)."
        ),
    }
}

fn hit_report(n: usize, hit: &HitView, reference: &str) -> Result<(), crate::stdout::StdoutError> {
    let denial = &hit.current.denial;
    let member = member_of(&hit.entry.origin);
    let version = if hit.current.index == hit.entry.index {
        String::new()
    } else {
        format!(", as amended by entry {}", hit.current.index)
    };
    outln!(
        "\n{n}. score {:.2}: denial {member}#{} of {} ({} {}, decided {}{version}), in force until {}",
        hit.score,
        hit.entry.index,
        hit.denying_state,
        denial.authority,
        denial.reference,
        denial.decision_date,
        hit.current
            .valid_until
            .map_or_else(|| "-".to_owned(), |d| d.to_string()),
    )?;
    for party in &hit.explanation.parties {
        outln!(
            "   {} (application party {}) met the denial's {} (party {}), {:.2}:",
            party.application_role.as_str(),
            party.application_party + 1,
            json_name(&party.denial_role),
            party.denial_party + 1,
            party.score
        )?;
        for field in &party.fields {
            let how: Vec<String> = field.how.iter().map(ToString::to_string).collect();
            outln!(
                "     «{}» ~ «{}»: {}",
                field.application_value,
                field.denial_value,
                how.join(", ")
            )?;
        }
    }
    for adjustment in &hit.explanation.adjustments {
        outln!("   {:+.2} {}", adjustment.delta, adjustment.factor)?;
    }
    for consultation in &hit.consultations {
        let state = match &consultation.reply {
            Some(reply) => format!(
                "answered {} on {}",
                json_name(&reply.answer),
                reply.replied_at
            ),
            None => json_name(&consultation.state),
        };
        outln!(
            "   Consulted: {} asked {} on {} about application {} ({}): {state}",
            consultation.requesting_state,
            consultation.denying_state,
            consultation.requested_at,
            consultation.application_reference,
            consultation.request
        )?;
    }
    outln!(
        "   Consult {}: concord consult request --denial {member}#{} --application {} --question \"…\"",
        hit.denying_state,
        hit.entry.index,
        reference
    )
}

/// A unit variant as its JSON spells it (`end_user`, `need_more_information`).
fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The member id of an origin (`pacific-alliance.concord/mx` → `mx`).
fn member_of(origin: &concord_protocol::origin::Origin) -> &str {
    origin
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or(origin.as_str())
}

pub fn verify(args: &VerifyScreeningArgs, json: bool) -> CliResult {
    let bytes = std::fs::read(&args.result).map_err(|e| {
        CliError::new(
            exit::NOT_FOUND,
            anyhow::anyhow!("reading {}: {e}", args.result.display()),
        )
    })?;
    let result: ScreeningResult = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::input(format!(
            "{} is no screening result: {e}",
            args.result.display()
        ))
    })?;
    let verdict: Verdict = match (&args.home, &args.roster) {
        (Some(home), _) => connect_for_audit(&Home::new(home))?
            .client()
            .verify_screening(&result)?,
        (None, Some(path)) => {
            let roster = crate::audit::read_roster(path)?;
            crate::screening::verify::verify(
                &result,
                Some((roster, path.display().to_string())),
                None,
            )
        }
        (None, None) => crate::screening::verify::verify(&result, None, None),
    };
    if json {
        print_json(&verdict)?;
    } else {
        outln!(
            "screening result of {} on {} ({} logs, {} hits), roster {}",
            result.application.reference,
            result.at,
            verdict.logs,
            verdict.hits,
            verdict.roster
        )?;
        for finding in &verdict.findings {
            outln!("  finding: {finding}")?;
        }
        outln!(
            "{}",
            if verdict.ok() {
                "verified: checkpoints signed, every hit's entries signed and included, scores reproduced"
            } else {
                "NOT verified"
            }
        )?;
        outln!("absent hits: {}", verdict.absent_hits)?;
    }
    if verdict.ok() {
        Ok(())
    } else {
        Err(CliError::new(
            exit::AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{} finding(s) in {}",
                verdict.findings.len(),
                args.result.display()
            ),
        ))
    }
}

pub fn alerts(args: &AlertsArgs, json: bool) -> CliResult {
    let connection = connect(&Home::new(&args.home.home))?;
    let alerts = connection.client().alerts()?;
    if json {
        print_json(&alerts)?;
        return Ok(());
    }
    if alerts.is_empty() {
        outln!("no alerts: no denial arrived that meets an application screened before it")?;
    }
    for alert in &alerts {
        outln!(
            "{} application {} (screened {}) now meets denial {}#{} of {}, score {:.2}; consult {}",
            alert.raised_at,
            alert.application_reference,
            alert.screened_at,
            member_of(&alert.denial.origin),
            alert.denial.index,
            alert.denying_state,
            alert.score,
            alert.denying_state
        )?;
    }
    Ok(())
}
