//! Storing an audited bundle through the verified replica path. A proof
//! of equivocation it carries, or finds against what this node holds (an
//! entry or a checkpoint that conflicts with a stored one), is kept and
//! its log quarantined, as gossip and sync do.

use std::cell::Cell;
use std::fs::File;
use std::io::{self};
use std::path::Path;

use concord_keys::roster::Roster;
use concord_protocol::equivocation::{EquivocationProof, ProofError};
use concord_protocol::origin::Origin;
use serde::Serialize;

use crate::parallel::par_map;
use crate::store::{CheckpointOutcome, Store};

use super::BundleError;
use super::format::decode_entry_line;
use super::reader::{BundleReader, Event, with_reader};

/// What an import stored.
#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub logs: Vec<ImportedLog>,
    pub evidence: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportedLog {
    pub origin: String,
    pub appended: u64,
    pub already_held: u64,
    pub checkpoints_stored: usize,
    /// Entries the store refused although the bundle is valid: they
    /// conflict with what this node holds (kept as equivocation evidence).
    pub refused: Vec<String>,
    /// Set for the node's own log, which only its own writer appends to.
    pub skipped: Option<String>,
}

/// Stores an audited bundle through the verified replica path, by a clock
/// that reads `now` (the audit's).
///
/// # Errors
/// The bundle cannot be read again, or the store fails.
pub fn import(
    store: &Store,
    roster: &Roster,
    own: &Origin,
    path: &Path,
    now: u64,
) -> Result<ImportSummary, BundleError> {
    let file = File::open(path)
        .map_err(|e| BundleError::Input(format!("opening {}: {e}", path.display())))?;
    with_reader(file, |reader| {
        import_events(reader, store, roster, own, path, now)
    })
}

fn import_events(
    reader: &mut BundleReader,
    store: &Store,
    roster: &Roster,
    own: &Origin,
    path: &Path,
    now: u64,
) -> Result<ImportSummary, BundleError> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| BundleError::Failed(format!("starting a runtime: {e}")))?;
    let evidence = Evidence {
        store,
        roster,
        runtime: &runtime,
        recorded: Cell::new(0),
    };
    let mut summary = ImportSummary::default();
    let mut checkpoints: Vec<String> = Vec::new();
    let read_error = |e: io::Error| BundleError::Input(format!("reading {}: {e}", path.display()));
    while let Some(event) = reader.next_event().map_err(read_error)? {
        match event {
            Event::Log(_, log) => {
                accept_checkpoints(&evidence, &mut checkpoints, summary.logs.last_mut())?;
                summary.logs.push(ImportedLog {
                    origin: log.origin.to_string(),
                    skipped: (&log.origin == own)
                        .then(|| "this node's own log; only its writer appends to it".into()),
                    ..ImportedLog::default()
                });
            }
            Event::Checkpoint(_, note) => checkpoints.push(note),
            Event::Entries(lines) => {
                let Some(log) = summary.logs.last_mut().filter(|l| l.skipped.is_none()) else {
                    continue;
                };
                let origin = Origin::new(&log.origin).expect("a log line's origin parsed");
                let items = par_map(&lines, |(line, bytes)| (*line, decode_entry_line(bytes)))
                    .into_iter()
                    .map(|(line, decoded)| {
                        decoded.map_err(|why| {
                            BundleError::Input(format!(
                                "{} line {line} changed after its audit: {why}",
                                path.display()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let outcome = store.ingest(&origin, items, roster, now)?;
                log.appended += outcome.appended;
                log.already_held += outcome.duplicates;
                log.refused.extend(
                    outcome
                        .rejected
                        .iter()
                        .map(|(index, why)| format!("#{index}: {why}")),
                );
                for proof in outcome.equivocations {
                    // The store made it of two entries it verified.
                    let _verified = evidence.record(proof)?;
                }
            }
            Event::Equivocation(_, proof) => {
                accept_checkpoints(&evidence, &mut checkpoints, summary.logs.last_mut())?;
                evidence.record(proof)?.map_err(|e| {
                    BundleError::Input(format!(
                        "{}: a proof changed after its audit: {e}",
                        path.display()
                    ))
                })?;
            }
            Event::End { .. } => {
                accept_checkpoints(&evidence, &mut checkpoints, summary.logs.last_mut())?;
            }
            Event::Head(..) | Event::Purge(..) | Event::Bad(..) => {}
        }
    }
    store.flush_blocking()?;
    summary.evidence = evidence.recorded.get();
    Ok(summary)
}

/// Where an import keeps the proofs it carries or finds, and how many.
struct Evidence<'a> {
    store: &'a Store,
    roster: &'a Roster,
    runtime: &'a tokio::runtime::Runtime,
    recorded: Cell<usize>,
}

impl Evidence<'_> {
    /// Keeps `proof` and quarantines its log, by the store's one step for
    /// every path that comes upon a proof.
    ///
    /// # Errors
    /// The store cannot be written; a proof that does not verify is the
    /// inner error, and nothing is kept.
    fn record(&self, proof: EquivocationProof) -> Result<Result<(), ProofError>, BundleError> {
        let found = self.runtime.block_on(self.store.record_equivocation(
            proof,
            self.roster,
            crate::clock::now(),
        ))?;
        if found.is_ok() {
            self.recorded.set(self.recorded.get() + 1);
        }
        Ok(found.map(drop))
    }
}

/// Offers the section's checkpoints to the store once its entries are in.
fn accept_checkpoints(
    evidence: &Evidence<'_>,
    notes: &mut Vec<String>,
    log: Option<&mut ImportedLog>,
) -> Result<(), BundleError> {
    let notes = std::mem::take(notes);
    let Some(log) = log.filter(|l| l.skipped.is_none()) else {
        return Ok(());
    };
    for note in notes {
        match evidence
            .store
            .accept_checkpoint(note.as_bytes(), evidence.roster)?
        {
            Ok(CheckpointOutcome::Stored { .. }) => log.checkpoints_stored += 1,
            Ok(CheckpointOutcome::Inconsistent { size, proof }) => {
                log.refused.push(format!(
                    "checkpoint of size {size}: not the stored tree's root at that size"
                ));
                if let Some(proof) = proof {
                    // The store made it of two checkpoints it verified.
                    let _verified = evidence.record(proof)?;
                }
            }
            Ok(_) => {}
            Err(why) => log.refused.push(format!("checkpoint: {why}")),
        }
    }
    Ok(())
}
