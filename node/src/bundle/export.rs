//! Writing a bundle from a store, with the payloads its audience may read.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use concord_keys::roster::Role;
use concord_protocol::entry::Visibility;
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;
use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::audit::CHUNK;
use crate::store::Store;

use super::BundleError;
use super::format::{Head, PurgeLine};
use super::writer::BundleWriter;

/// What an export wrote.
#[derive(Debug, Serialize)]
pub struct ExportSummary {
    pub out: String,
    pub logs: Vec<ExportedLog>,
    pub evidence: usize,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct ExportedLog {
    pub origin: String,
    pub size: u64,
    pub checkpoints: usize,
    pub payloads: u64,
    pub purged: usize,
}

/// Writes a bundle of `logs` (every log when empty) from `store` to `out`,
/// which must not exist yet. It is written beside `out` and renamed once
/// flushed, so that no half bundle is ever seen under the name asked for.
///
/// # Errors
/// [`BundleError::Input`] for an existing `out`, [`BundleError::Write`] for
/// a failed write, and as [`export`].
pub fn export_file(
    store: &Store,
    logs: &[Origin],
    head: &Head,
    filter: PayloadFilter,
    key: &SigningKey,
    out: &Path,
) -> Result<ExportSummary, BundleError> {
    if out.exists() {
        return Err(BundleError::Input(format!(
            "{} exists; choose a new path",
            out.display()
        )));
    }
    let partial = out.with_extension("partial");
    // A bundle carries members-only payloads: readable by its owner only.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| BundleError::Input(format!("creating {}: {e}", partial.display())))?;
    let result = export(
        store,
        logs,
        head,
        filter,
        key,
        BufWriter::with_capacity(1 << 20, file),
    );
    let mut summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let synced = File::open(&partial).and_then(|f| f.sync_all());
    synced
        .and_then(|()| std::fs::rename(&partial, out))
        .map_err(|e| BundleError::Write(format!("writing {}: {e}", out.display())))?;
    summary.out = out.display().to_string();
    summary.bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    Ok(summary)
}

/// Which payloads an export carries.
#[derive(Debug, Clone, Copy)]
pub enum PayloadFilter {
    None,
    PublicOnly,
    ReadableBy(Role, Country),
}

impl PayloadFilter {
    fn admits(self, visibility: &Visibility) -> bool {
        match self {
            Self::None => false,
            Self::PublicOnly => *visibility == Visibility::Public,
            Self::ReadableBy(role, country) => visibility.may_read(role, &country),
        }
    }
}

/// Writes a bundle of `logs` (every log when empty) from `store`.
///
/// # Errors
/// A store read or a write that failed.
pub fn export<W: Write>(
    store: &Store,
    logs: &[Origin],
    head: &Head,
    filter: PayloadFilter,
    key: &SigningKey,
    out: W,
) -> Result<ExportSummary, BundleError> {
    let write_error = |e: io::Error| BundleError::Write(format!("writing the bundle: {e}"));
    let mut writer = BundleWriter::new(out, head).map_err(write_error)?;
    let mut summary = ExportSummary {
        out: String::new(),
        logs: Vec::new(),
        evidence: 0,
        bytes: 0,
    };
    for (origin, log_head) in store.logs()? {
        if !logs.is_empty() && !logs.contains(&origin) {
            continue;
        }
        writer.log(&origin, log_head).map_err(write_error)?;
        let checkpoints: Vec<_> = store
            .checkpoints(&origin)?
            .into_iter()
            .filter_map(|c| c.note.ok())
            .collect();
        for checkpoint in &checkpoints {
            writer.checkpoint(checkpoint).map_err(write_error)?;
        }
        let mut exported = ExportedLog {
            origin: origin.to_string(),
            size: log_head.size,
            checkpoints: checkpoints.len(),
            payloads: 0,
            purged: 0,
        };
        let mut purges = Vec::new();
        for purge in store.purge_records(&origin)? {
            let entry = store.entry(&origin, purge.index)?;
            let denial = entry
                .and_then(|e| e.decode_header().ok())
                .map_or(purge.index, |h| h.refers_to.map_or(h.index, |r| r.index));
            purges.push(PurgeLine {
                denial_valid_until: store
                    .denial_status(&origin, denial)?
                    .and_then(|s| s.valid_until),
                index: purge.index,
                purged_at: purge.purged_at,
                reason: purge.reason,
            });
        }
        exported.purged = purges.len();
        for purge in &purges {
            writer.purge(purge).map_err(write_error)?;
        }
        let mut start = 0;
        while start < log_head.size {
            let entries = store.entries(&origin, start, CHUNK as u64)?;
            if entries.is_empty() {
                break;
            }
            for entry in &entries {
                let header = entry.decode_header().map_err(|e| {
                    BundleError::Failed(format!(
                        "a stored header of {origin} does not decode: {e}; run `concord audit`"
                    ))
                })?;
                let payload = if filter.admits(&header.payload.visibility) {
                    store.payload(&header.payload.sha256.0)?
                } else {
                    None
                };
                exported.payloads += u64::from(payload.is_some());
                writer
                    .entry(entry, payload.as_deref())
                    .map_err(write_error)?;
            }
            start += entries.len() as u64;
        }
        summary.logs.push(exported);
    }
    for evidence in store.evidence()? {
        writer.equivocation(&evidence.proof).map_err(write_error)?;
        summary.evidence += 1;
    }
    writer.finish(key, &head.exporter).map_err(write_error)?;
    Ok(summary)
}
