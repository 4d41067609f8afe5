//! Writing a bundle from a store, with the payloads its audience may read.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::{Role, Roster};
use concord_protocol::entry::Visibility;
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::audit::CHUNK;
use crate::home::Home;
use crate::query::{QueryError, resolve_log};
use crate::store::Store;

use super::BundleError;
use super::format::{ENTRY_PREFIX, FORMAT, Head, Line, PurgeLine, entry_line_has_payload};
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

/// What an export carries: the options of `concord export`, and the body
/// of the API's `POST /v1/export`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Member ids or origins; every log when empty.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Carry no payload at all.
    #[serde(default)]
    pub headers_only: bool,
    /// Carry the payloads this participant may read; public ones only when
    /// absent.
    #[serde(default)]
    pub audience: Option<String>,
}

/// A node as the signer of the bundles it exports: its origin, its
/// federation and roster files, and its log key, which signs the end line.
pub struct Exporter {
    pub exporter: Origin,
    pub federation: String,
    pub rosters: Vec<Vec<u8>>,
    pub key: SigningKey,
}

impl Exporter {
    /// The exporter of `home`'s node, signing with `key` (its log key).
    ///
    /// # Errors
    /// An unreadable config or roster file, an id that names no origin.
    pub fn of_home(home: &Home, key: SigningKey) -> anyhow::Result<Self> {
        let config = home.config()?;
        Ok(Self {
            exporter: Origin::for_member(&config.federation, &config.id)?,
            federation: config.federation,
            rosters: home.canonical_roster_files()?,
            key,
        })
    }

    /// Writes the bundle `plan` describes from `store` to `out`.
    ///
    /// # Errors
    /// As [`export`].
    pub fn write<W: Write>(
        &self,
        store: &Store,
        plan: &ExportPlan,
        out: W,
    ) -> Result<(), BundleError> {
        export(store, &plan.logs, &plan.head, plan.filter, &self.key, out)
    }

    /// The logs, head (created at `now`) and payload filter of `request`,
    /// checked against `roster` before a byte is written.
    ///
    /// # Errors
    /// [`QueryError`] for an unknown log or audience.
    pub fn plan(
        &self,
        roster: &Roster,
        request: &ExportRequest,
        now: u64,
    ) -> Result<ExportPlan, QueryError> {
        let logs = request
            .logs
            .iter()
            .map(|log| resolve_log(roster, log))
            .collect::<Result<Vec<_>, _>>()?;
        let audience = match &request.audience {
            Some(id) => {
                let member = roster
                    .members
                    .iter()
                    .find(|m| m.id.as_str() == id)
                    .ok_or_else(|| {
                        QueryError::BadRequest(format!(
                            "audience (--for) {id}: no such roster participant"
                        ))
                    })?;
                Some((id.clone(), member.role, member.country))
            }
            None => None,
        };
        let head = Head {
            audience: audience.as_ref().map(|(id, _, _)| id.clone()),
            created: now,
            exporter: self.exporter.to_string(),
            federation: self.federation.clone(),
            format: FORMAT.into(),
            headers_only: request.headers_only,
            rosters: self.rosters.iter().map(|f| BASE64.encode(f)).collect(),
        };
        let filter = match (request.headers_only, audience) {
            (true, _) => PayloadFilter::None,
            (false, Some((_, role, country))) => PayloadFilter::ReadableBy(role, country),
            (false, None) => PayloadFilter::PublicOnly,
        };
        Ok(ExportPlan { logs, head, filter })
    }
}

/// A checked export request: what [`export`] writes.
pub struct ExportPlan {
    logs: Vec<Origin>,
    head: Head,
    filter: PayloadFilter,
}

/// Writes a new file `out` with `write`: beside it first, mode 0600 (a
/// bundle carries members-only payloads: readable by its owner only), and
/// renamed once flushed, so that no half bundle is ever seen under the name
/// asked for; then summarises what it holds. The export of a stopped node
/// and the bytes a running one streams are written by this one function.
///
/// # Errors
/// [`BundleError::Input`] for an existing `out`, [`BundleError::Write`] for
/// a failed write, and whatever `write` returns (nothing is left behind).
pub fn write_new<E>(
    out: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<ExportSummary, E>
where
    E: From<BundleError>,
{
    if out.exists() {
        return Err(
            BundleError::Input(format!("{} exists; choose a new path", out.display())).into(),
        );
    }
    let partial = out.with_extension("partial");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| BundleError::Input(format!("creating {}: {e}", partial.display())))?;
    let mut buffered = BufWriter::with_capacity(1 << 20, file);
    let written = write(&mut buffered).and_then(|()| {
        buffered
            .flush()
            .and_then(|()| buffered.get_ref().sync_all())
            .map_err(|e| BundleError::Write(format!("writing {}: {e}", partial.display())).into())
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out)
        .map_err(|e| BundleError::Write(format!("writing {}: {e}", out.display())))?;
    Ok(summarise(out)?)
}

/// What the bundle at `path` holds, counted from its lines, so that an
/// export reports the same whether it was written here or streamed by a
/// running node.
///
/// # Errors
/// [`BundleError::Input`] for a file that cannot be read or a line that is
/// no bundle line.
fn summarise(path: &Path) -> Result<ExportSummary, BundleError> {
    let unreadable = |e: String| BundleError::Input(format!("reading {}: {e}", path.display()));
    let file = File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let bytes = file.metadata().map_or(0, |m| m.len());
    let mut summary = ExportSummary {
        out: path.display().to_string(),
        logs: Vec::new(),
        evidence: 0,
        bytes,
    };
    for line in BufReader::with_capacity(1 << 20, file).split(b'\n') {
        let line = line.map_err(|e| unreadable(e.to_string()))?;
        if line.starts_with(ENTRY_PREFIX) {
            let payload = entry_line_has_payload(&line)
                .ok_or_else(|| unreadable("an entry line is malformed".into()))?;
            if let Some(log) = summary.logs.last_mut() {
                log.payloads += u64::from(payload);
            }
            continue;
        }
        let parsed: Line = serde_json::from_slice(&line).map_err(|e| unreadable(e.to_string()))?;
        match (parsed, summary.logs.last_mut()) {
            (Line::Log(log), _) => summary.logs.push(ExportedLog {
                origin: log.origin.to_string(),
                size: log.size,
                checkpoints: 0,
                payloads: 0,
                purged: 0,
            }),
            (Line::Checkpoint { .. }, Some(log)) => log.checkpoints += 1,
            (Line::Purge(_), Some(log)) => log.purged += 1,
            (Line::Equivocation { .. }, _) => summary.evidence += 1,
            _ => {}
        }
    }
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
/// A running node's store is written meanwhile: each log is exported up to
/// the head read when its turn comes, and a stored entry never changes, so
/// the bundle is what the log held then (checkpoints are read before the
/// head, so none lies beyond it).
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
) -> Result<(), BundleError> {
    let write_error = |e: io::Error| BundleError::Write(format!("writing the bundle: {e}"));
    let mut writer = BundleWriter::new(out, head).map_err(write_error)?;
    for (origin, _) in store.logs()? {
        if !logs.is_empty() && !logs.contains(&origin) {
            continue;
        }
        // Checkpoints before the head: a checkpoint is stored only once the
        // tree reached its size, so none read here lies beyond the head.
        let checkpoints: Vec<_> = store
            .checkpoints(&origin)?
            .into_iter()
            .filter_map(|c| c.note.ok())
            .collect();
        let log_head = store.head(&origin)?;
        writer.log(&origin, log_head).map_err(write_error)?;
        for checkpoint in &checkpoints {
            writer.checkpoint(checkpoint).map_err(write_error)?;
        }
        for purge in store.purge_records(&origin)? {
            // An entry stored (and purged) after the head was read is not
            // in this bundle.
            if purge.index >= log_head.size {
                continue;
            }
            let entry = store.entry(&origin, purge.index)?;
            let denial = entry
                .and_then(|e| e.decode_header().ok())
                .map_or(purge.index, |h| h.refers_to.map_or(h.index, |r| r.index));
            let line = PurgeLine {
                denial_valid_until: store
                    .denial_status(&origin, denial)?
                    .and_then(|s| s.valid_until),
                index: purge.index,
                purged_at: purge.purged_at,
                reason: purge.reason,
            };
            writer.purge(&line).map_err(write_error)?;
        }
        let mut start = 0;
        while start < log_head.size {
            let n_wanted = (CHUNK as u64).min(log_head.size - start);
            let entries = store.entries(&origin, start, n_wanted)?;
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
                writer
                    .entry(entry, payload.as_deref())
                    .map_err(write_error)?;
            }
            start += entries.len() as u64;
        }
    }
    for evidence in store.evidence()? {
        writer.equivocation(&evidence.proof).map_err(write_error)?;
    }
    writer.finish(key, &head.exporter).map_err(write_error)?;
    Ok(())
}
