//! Storing an audited bundle through the verified replica path.

use std::fs::File;
use std::io::{self};
use std::path::Path;

use concord_keys::roster::Roster;
use concord_protocol::origin::Origin;
use serde::Serialize;

use crate::parallel::par_map;
use crate::store::Store;

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
    let mut summary = ImportSummary::default();
    let mut checkpoints: Vec<String> = Vec::new();
    let read_error = |e: io::Error| BundleError::Input(format!("reading {}: {e}", path.display()));
    while let Some(event) = reader.next_event().map_err(read_error)? {
        match event {
            Event::Log(_, log) => {
                accept_checkpoints(store, roster, &mut checkpoints, summary.logs.last_mut())?;
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
            }
            Event::Equivocation(_, proof) => {
                accept_checkpoints(store, roster, &mut checkpoints, summary.logs.last_mut())?;
                let verified = proof.verify(roster).map_err(|e| {
                    BundleError::Input(format!(
                        "{}: a proof changed after its audit: {e}",
                        path.display()
                    ))
                })?;
                runtime.block_on(store.record_equivocation(crate::store::EvidenceRecord {
                    origin: verified.origin.clone(),
                    position: verified.position,
                    found_at: crate::clock::now(),
                    proof,
                }))?;
                summary.evidence += 1;
            }
            Event::End { .. } => {
                accept_checkpoints(store, roster, &mut checkpoints, summary.logs.last_mut())?;
            }
            Event::Head(..) | Event::Purge(..) | Event::Bad(..) => {}
        }
    }
    store.flush_blocking()?;
    Ok(summary)
}

/// Offers the section's checkpoints to the store once its entries are in.
fn accept_checkpoints(
    store: &Store,
    roster: &Roster,
    notes: &mut Vec<String>,
    log: Option<&mut ImportedLog>,
) -> Result<(), BundleError> {
    let notes = std::mem::take(notes);
    let Some(log) = log.filter(|l| l.skipped.is_none()) else {
        return Ok(());
    };
    for note in notes {
        match store.accept_checkpoint(note.as_bytes(), roster)? {
            Ok(crate::store::CheckpointOutcome::Stored { .. }) => log.checkpoints_stored += 1,
            Ok(_) => {}
            Err(why) => log.refused.push(format!("checkpoint: {why}")),
        }
    }
    Ok(())
}
