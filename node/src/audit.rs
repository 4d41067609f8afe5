//! `concord audit`: verifies a node's whole store offline, trusting nothing
//! but the roster.
//!
//! For every log, in index order: each header decodes strictly, names its log
//! and its position, and carries a valid signature by the key the roster
//! authorises for that index (batch-verified); amendments and revocations
//! point at an earlier denial of the same log; every payload held matches its
//! header's digest and size and validates as its record kind; every purge
//! happened after the denial's validity ended. The tree is recomputed from
//! the leaves and every stored checkpoint must verify under the log's key,
//! match the recomputed root at its size, and carry only valid cosignatures
//! by known witnesses; the stored head must be the recomputed root. Every
//! equivocation proof held must verify.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::Roster;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{self, EntryHeader, SignedEntry};
use concord_protocol::equivocation::KeyLookup;
use concord_protocol::merkle::{Hash, RootBuilder};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Date, Kind, Record};
use serde::Serialize;

use crate::cli::{CliError, CliResult, exit};
use crate::home::Home;
use crate::store::{Store, StoreError, StoredCheckpoint};

/// Entries read and verified at once.
const CHUNK: u64 = 1024;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The node's home directory (the node must be stopped).
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
    /// A signed roster file to verify against instead of the home's roster.
    #[arg(long)]
    pub roster: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One problem, located.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub log: String,
    pub index: Option<u64>,
    /// A stable code: `bad_signature`, `root_mismatch`, ...
    pub what: &'static str,
    pub why: String,
}

/// What the audit saw of one log.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub checkpoints: usize,
    pub latest_checkpoint_size: Option<u64>,
    pub cosigners: Vec<String>,
    pub payloads_checked: u64,
}

/// The audit's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: &'static str,
    pub source: String,
    pub roster_version: u64,
    pub logs: Vec<LogReport>,
    pub findings: Vec<Finding>,
}

/// `concord audit`.
///
/// # Errors
/// Exit 6 after printing the report when there are findings; exit 5 when the
/// node holds the store.
pub fn command(args: &AuditArgs) -> CliResult {
    let home = Home::new(&args.home);
    let roster = match &args.roster {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::new(
                    exit::INVALID_INPUT,
                    anyhow::anyhow!("reading {}: {e}", path.display()),
                )
            })?;
            concord_keys::SignedRoster::verify_genesis(&bytes).map_err(|e| {
                CliError::new(
                    exit::INVALID_INPUT,
                    anyhow::anyhow!("{}: {e}", path.display()),
                )
            })?
        }
        None => home.roster()?,
    };
    let store = match Store::open_for_audit(&home.db_path()) {
        Ok(store) => store,
        Err(StoreError::Locked(path)) => {
            return Err(CliError::new(
                exit::UNAVAILABLE,
                anyhow::anyhow!(
                    "the store at {path} is held by the running node; stop the node to audit it"
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let report = audit_store(
        &store,
        &roster,
        &home.db_path().display().to_string(),
        |origin, done, total| {
            if show_progress && total > 10_000 && (done % (16 * CHUNK) == 0 || done == total) {
                eprint!("\r{origin}: {done}/{total} entries verified");
                if done == total {
                    eprintln!();
                }
            }
        },
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        print_report(&report);
    }
    if report.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            exit::AUDIT_FINDINGS,
            anyhow::anyhow!("{} finding(s); see the report above", report.findings.len()),
        ))
    }
}

fn print_report(report: &Report) {
    println!(
        "audit of {} against roster v{}: {}",
        report.source,
        report.roster_version,
        report.verdict.to_uppercase()
    );
    for log in &report.logs {
        println!(
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
        );
    }
    for finding in &report.findings {
        let at = finding.index.map(|i| format!(" #{i}")).unwrap_or_default();
        println!(
            "  FINDING {}{at}: {} — {}",
            finding.log, finding.what, finding.why
        );
    }
}

/// Audits every log of `store` against `roster`; `progress` hears
/// (origin, entries done, entries in the log).
///
/// # Errors
/// [`StoreError`] when the store cannot be read at all; anything wrong in
/// what it holds is a finding, not an error.
pub fn audit_store(
    store: &Store,
    roster: &Roster,
    source: &str,
    mut progress: impl FnMut(&Origin, u64, u64),
) -> Result<Report, StoreError> {
    let mut findings = Vec::new();
    let mut logs = Vec::new();
    for (origin, head) in store.logs()? {
        let mut log = LogAudit::new(store, roster, &origin);
        log.run(head.size, &mut progress)?;
        if log.builder.root() != head.root {
            log.find(
                None,
                "root_mismatch",
                "the stored head's root is not the root recomputed from the entries".into(),
            );
        }
        let beyond: Vec<u64> = log
            .checkpoints
            .drain(..)
            .map(|c| c.checkpoint.size)
            .collect();
        for size in beyond {
            log.find(
                None,
                "checkpoint_beyond_log",
                format!("a checkpoint of size {size} is stored beyond the log"),
            );
        }
        logs.push(LogReport {
            origin: origin.to_string(),
            size: head.size,
            root: BASE64.encode(head.root),
            checkpoints: log.n_checkpoints,
            latest_checkpoint_size: log.latest_checkpoint,
            cosigners: log.cosigners.clone(),
            payloads_checked: log.payloads_checked,
        });
        findings.append(&mut log.findings);
    }
    for evidence in store.evidence()? {
        if let Err(e) = evidence.proof.verify(roster) {
            findings.push(Finding {
                log: evidence.origin.to_string(),
                index: Some(evidence.position),
                what: "evidence_invalid",
                why: format!("a stored equivocation proof does not verify: {e}"),
            });
        }
    }
    Ok(Report {
        verdict: if findings.is_empty() {
            "clean"
        } else {
            "findings"
        },
        source: source.to_owned(),
        roster_version: roster.version,
        logs,
        findings,
    })
}

/// The running state of one log's audit.
struct LogAudit<'a> {
    store: &'a Store,
    roster: &'a Roster,
    origin: &'a Origin,
    builder: RootBuilder,
    /// Leaf hash and kind of every entry so far, for references.
    leaves: Vec<(Hash, Kind)>,
    /// Stored checkpoints not yet reached, smallest first.
    checkpoints: std::collections::VecDeque<SignedCheckpoint>,
    n_checkpoints: usize,
    latest_checkpoint: Option<u64>,
    cosigners: Vec<String>,
    payloads_checked: u64,
    findings: Vec<Finding>,
}

impl<'a> LogAudit<'a> {
    fn new(store: &'a Store, roster: &'a Roster, origin: &'a Origin) -> Self {
        Self {
            store,
            roster,
            origin,
            builder: RootBuilder::default(),
            leaves: Vec::new(),
            checkpoints: Default::default(),
            n_checkpoints: 0,
            latest_checkpoint: None,
            cosigners: Vec::new(),
            payloads_checked: 0,
            findings: Vec::new(),
        }
    }

    fn find(&mut self, index: Option<u64>, what: &'static str, why: String) {
        self.findings.push(Finding {
            log: self.origin.to_string(),
            index,
            what,
            why,
        });
    }

    fn run(
        &mut self,
        size: u64,
        progress: &mut impl FnMut(&Origin, u64, u64),
    ) -> Result<(), StoreError> {
        let stored = self.store.checkpoints(self.origin)?;
        self.n_checkpoints = stored.len();
        self.latest_checkpoint = stored.last().map(|c| c.size);
        for StoredCheckpoint { size, note } in stored {
            match note {
                Ok(note) if note.checkpoint.size == size => self.checkpoints.push_back(note),
                Ok(note) => self.find(
                    None,
                    "checkpoint_misfiled",
                    format!(
                        "a checkpoint of size {} is filed under size {size}",
                        note.checkpoint.size
                    ),
                ),
                Err(e) => self.find(
                    None,
                    "checkpoint_malformed",
                    format!("checkpoint of size {size} does not parse: {e}"),
                ),
            }
        }
        self.check_checkpoints()?;
        let mut start = 0;
        while start < size {
            let entries = self.store.entries(self.origin, start, CHUNK)?;
            let expected = CHUNK.min(size - start);
            if (entries.len() as u64) < expected {
                let missing = start + entries.len() as u64;
                self.find(
                    Some(missing),
                    "index_gap",
                    format!("entry {missing} is missing below the head ({size})"),
                );
                return Ok(());
            }
            self.check_chunk(start, &entries)?;
            start += expected;
            progress(self.origin, start, size);
        }
        Ok(())
    }

    fn check_chunk(&mut self, start: u64, entries: &[SignedEntry]) -> Result<(), StoreError> {
        let mut decoded: Vec<(u64, &SignedEntry, Option<EntryHeader>)> =
            Vec::with_capacity(entries.len());
        for (offset, signed) in entries.iter().enumerate() {
            let index = start + offset as u64;
            let header = match signed.decode_header() {
                Ok(h) if &h.origin != self.origin || h.index != index => {
                    self.find(
                        Some(index),
                        "header_position",
                        format!("header says {} #{}", h.origin, h.index),
                    );
                    None
                }
                Ok(h) => Some(h),
                Err(e) => {
                    self.find(Some(index), "header_malformed", e.to_string());
                    None
                }
            };
            decoded.push((index, signed, header));
        }
        self.check_signatures(&decoded);
        for (index, signed, header) in &decoded {
            let leaf = signed.leaf_hash();
            if let Some(header) = header {
                self.check_reference(*index, header);
                self.check_payload(*index, header)?;
            }
            let kind = header.as_ref().map_or(Kind::Notice, |h| h.kind);
            self.leaves.push((leaf, kind));
            self.builder.push(leaf);
            self.check_checkpoints()?;
        }
        Ok(())
    }

    fn check_signatures(&mut self, decoded: &[(u64, &SignedEntry, Option<EntryHeader>)]) {
        let mut batch = Vec::with_capacity(decoded.len());
        for (index, signed, header) in decoded {
            let Some(header) = header else { continue };
            match self.roster.entry_key(self.origin, *index) {
                Ok(key) => batch.push((*signed, header, key)),
                Err(refusal) => self.find(Some(*index), "unauthorised_key", refusal.to_string()),
            }
        }
        if entry::verify_batch(&batch).is_ok() {
            return;
        }
        // Locate every bad one, not just the first.
        for (signed, header, key) in &batch {
            if let Err(e) = signed.check_signature(header, key) {
                self.find(Some(header.index), "bad_signature", e.to_string());
            }
        }
    }

    fn check_reference(&mut self, index: u64, header: &EntryHeader) {
        let Some(reference) = header.refers_to else {
            return;
        };
        let target = usize::try_from(reference.index)
            .ok()
            .and_then(|i| self.leaves.get(i))
            .copied();
        match target {
            Some((leaf, Kind::Denial)) if leaf == reference.leaf_hash.0 => {}
            _ => self.find(
                Some(index),
                "bad_reference",
                format!(
                    "{} refers to entry {}, which is not that denial of this log",
                    header.kind, reference.index
                ),
            ),
        }
    }

    fn check_payload(&mut self, index: u64, header: &EntryHeader) -> Result<(), StoreError> {
        match self.store.payload(&header.payload.sha256.0)? {
            Some(payload) => {
                self.payloads_checked += 1;
                if let Err(e) = header.check_payload(&payload) {
                    self.find(Some(index), "payload_digest", e.to_string());
                } else if header.kind != Kind::EquivocationProof
                    && let Err(e) = Record::parse(header.kind, &payload)
                {
                    self.find(Some(index), "record_invalid", e.to_string());
                }
            }
            None => {
                if let Some(purge) = self.store.purge_record(self.origin, index)? {
                    self.check_purge(index, header, purge.purged_at)?;
                }
            }
        }
        Ok(())
    }

    /// A purge is legitimate only after the denial's validity ended.
    fn check_purge(
        &mut self,
        index: u64,
        header: &EntryHeader,
        purged_at: u64,
    ) -> Result<(), StoreError> {
        let denial_index = match header.kind {
            Kind::Denial => index,
            _ => match header.refers_to {
                Some(reference) => reference.index,
                None => {
                    self.find(
                        Some(index),
                        "purge_not_retention",
                        format!("a {} payload was purged", header.kind),
                    );
                    return Ok(());
                }
            },
        };
        let until = self
            .store
            .denial_status(self.origin, denial_index)?
            .and_then(|s| s.valid_until)
            .and_then(|d| Date::parse(&d).ok());
        let purged_on = Date::from_unix_seconds(purged_at as i64);
        match (until, purged_on) {
            (Some(until), Some(on)) if until < on => {}
            (until, on) => self.find(
                Some(index),
                "purge_before_expiry",
                format!(
                    "payload purged on {} but the denial is valid until {}",
                    on.map_or_else(|| "an invalid date".into(), |d| d.to_string()),
                    until.map_or_else(|| "an unknown date".into(), |d| d.to_string())
                ),
            ),
        }
        Ok(())
    }

    /// Checks every stored checkpoint whose size the recomputed tree reached.
    fn check_checkpoints(&mut self) -> Result<(), StoreError> {
        while self
            .checkpoints
            .front()
            .is_some_and(|c| c.checkpoint.size == self.builder.size())
        {
            let checkpoint = self.checkpoints.pop_front().expect("front was just seen");
            let size = checkpoint.checkpoint.size;
            if let Err(e) =
                checkpoint.verify(self.origin, &self.roster.checkpoint_verifiers(self.origin))
            {
                self.find(
                    None,
                    "checkpoint_signature",
                    format!("checkpoint of size {size}: {e}"),
                );
            }
            if checkpoint.checkpoint.root != self.builder.root() {
                self.find(
                    None,
                    "checkpoint_root",
                    format!("checkpoint of size {size} does not match the entries"),
                );
            }
            for witness in self.roster.witnesses() {
                match witness.verify(&checkpoint) {
                    Ok(Some(_)) if !self.cosigners.contains(&witness.name) => {
                        self.cosigners.push(witness.name.clone())
                    }
                    Ok(_) => {}
                    Err(e) => self.find(
                        None,
                        "bad_cosignature",
                        format!("checkpoint of size {size}: {e}"),
                    ),
                }
            }
        }
        Ok(())
    }
}
