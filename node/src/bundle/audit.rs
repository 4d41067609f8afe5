//! The bundle driver of the audit engine ([`crate::audit::LogAudit`]): each
//! chunk of entry lines decoded and checked whole on a thread of its own,
//! one chunk per core, applied in order while the next is read.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use concord_keys::SignedRoster;
use concord_keys::roster::{Role, Roster};
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::equivocation::KeyLookup;
use concord_protocol::merkle::Hash;
use concord_protocol::origin::Origin;

use crate::audit::{
    CheckedChunk, Finding, Item, LogAudit, LogReport, Progress, PurgeClaim, Report, check_proof,
};
use crate::parallel::InOrder;
use crate::store::{LogHead, StoredCheckpoint};

use super::BundleError;
use super::format::{
    EndBody, FORMAT, Head, LineDigest, LogLine, PurgeLine, SectionDigest, Version,
    decode_entry_line, verify_end,
};
use super::reader::{BundleReader, EntryLine, Event, with_reader};

/// What auditing a bundle found, and what it needs to import it.
pub struct BundleAudit {
    pub report: Report,
    pub head: Option<Head>,
}

/// Audits the bundle at `path` by a clock that reads `now`; `pinned` is the
/// roster to trust (and where it came from) instead of the chain the bundle
/// carries; with `records`, payloads are also validated as records.
///
/// # Errors
/// [`BundleError::Input`] when the file cannot be read.
pub fn audit_file(
    path: &Path,
    pinned: Option<(Roster, String)>,
    records: bool,
    now: u64,
    progress: &Progress,
) -> Result<BundleAudit, BundleError> {
    let file = File::open(path)
        .map_err(|e| BundleError::Input(format!("opening {}: {e}", path.display())))?;
    audit_reader(
        file,
        &path.display().to_string(),
        pinned,
        records,
        now,
        progress,
    )
    .map_err(|e| BundleError::Input(format!("reading {}: {e}", path.display())))
}

/// Audits a bundle read from `input`.
///
/// # Errors
/// Only a failing read; everything wrong in the bundle is a finding.
pub fn audit_reader(
    input: impl Read + Send,
    source: &str,
    pinned: Option<(Roster, String)>,
    records: bool,
    now: u64,
    progress: &Progress,
) -> io::Result<BundleAudit> {
    with_reader(input, |reader| {
        audit_events(reader, source, pinned, records, now, progress)
    })
}

fn audit_events(
    reader: &mut BundleReader,
    source: &str,
    pinned: Option<(Roster, String)>,
    records: bool,
    now: u64,
    progress: &Progress,
) -> io::Result<BundleAudit> {
    let mut framing = Framing::default();
    let head = match reader.next_event()? {
        Some(Event::Head(_, head)) => head,
        Some(other) => {
            framing.find(
                event_line(&other),
                "not_a_bundle",
                "the first line is not a bundle's head".into(),
            );
            return Ok(framing.stopped(source, pinned, records));
        }
        None => {
            framing.find(Some(1), "not_a_bundle", "the file is empty".into());
            return Ok(framing.stopped(source, pinned, records));
        }
    };
    let Some(version) = Version::of(&head.format) else {
        framing.find(
            Some(1),
            "unknown_format",
            format!(
                "format {:?}, expected {FORMAT} or {}",
                head.format,
                Version::V1.format()
            ),
        );
        return Ok(framing.stopped(source, pinned, records));
    };
    let carried = carried_roster(&head);
    let mut notes = Vec::new();
    if version == Version::V1 {
        notes.push(format!(
            "{}: the exporter's signature does not cover which entries carry their payload, nor the cosignatures of its checkpoints; a payload or cosignature removed on the way cannot be found",
            Version::V1.format()
        ));
    }
    let (roster, roster_source) = match (pinned, carried) {
        (Some(pinned), Err(why)) => {
            // Not a finding: a pinned roster is what this audit trusts.
            // But a verifier without one could not use this bundle.
            notes.push(format!(
                "the roster chain the bundle carries does not verify ({why}); audited under the pinned roster"
            ));
            pinned
        }
        (Some(pinned), Ok(_)) => pinned,
        (None, Ok(roster)) => {
            let version = roster.version;
            (
                roster,
                format!(
                    "v{version} carried by the bundle, not checked against a roster this audit trusts (give --roster FILE or --home DIR, or compare the fingerprint with your federation's)"
                ),
            )
        }
        (None, Err(why)) => {
            framing.find(Some(1), "roster_invalid", why);
            return Ok(framing.stopped(source, None, records));
        }
    };
    let roster_source = format!("{roster_source}; fingerprint {}", roster.fingerprint());
    if roster.federation != head.federation {
        framing.find(
            Some(1),
            "wrong_federation",
            format!(
                "the bundle is of {}, the roster of {}",
                head.federation, roster.federation
            ),
        );
    }
    std::thread::scope(|scope| {
        let mut auditor = Auditor {
            roster: &roster,
            progress,
            framing,
            section: None,
            logs: Vec::new(),
            findings: Vec::new(),
            origins_seen: Vec::new(),
            version,
            headers_only: head.headers_only,
            records,
            now,
            ended: false,
            checking: InOrder::new(scope),
        };
        while let Some(event) = reader.next_event()? {
            auditor.event(event, &head);
        }
        let mut report = auditor.finish(source, &roster_source, reader.line);
        report.notes = notes;
        Ok(BundleAudit {
            report,
            head: Some(head),
        })
    })
}

fn carried_roster(head: &Head) -> Result<Roster, String> {
    let files = head
        .rosters
        .iter()
        .map(concord_protocol::base64::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a roster file of the chain is {e}"))?;
    SignedRoster::verify_chain(&files)
        .map_err(|(position, e)| format!("roster file {} of the chain: {e}", position + 1))
}

fn event_line(event: &Event) -> Option<u64> {
    match event {
        Event::Head(line, _)
        | Event::Log(line, _)
        | Event::Checkpoint(line, _)
        | Event::Purge(line, _)
        | Event::Equivocation(line, _)
        | Event::Bad(line, _)
        | Event::End { line, .. } => Some(*line),
        Event::Entries(lines) => lines.first().map(|(line, _)| *line),
    }
}

/// Findings about the bundle's framing rather than a log.
#[derive(Default)]
struct Framing {
    findings: Vec<Finding>,
}

impl Framing {
    pub(super) fn find(&mut self, line: Option<u64>, what: &'static str, why: String) {
        self.findings.push(Finding {
            log: "bundle".into(),
            index: None,
            line,
            what: what.into(),
            why,
        });
    }

    /// The report of a bundle that could not be audited past its head.
    pub(super) fn stopped(
        self,
        source: &str,
        pinned: Option<(Roster, String)>,
        records: bool,
    ) -> BundleAudit {
        let roster = pinned.map_or_else(|| "none".into(), |(r, s)| format!("v{} ({s})", r.version));
        BundleAudit {
            report: Report::new(
                source.to_owned(),
                roster,
                records,
                Vec::new(),
                self.findings,
            ),
            head: None,
        }
    }
}

/// The log section being read.
struct Section<'r> {
    audit: LogAudit<'r>,
    claimed: LogHead,
    line: u64,
    purges: BTreeMap<u64, (u64, PurgeClaim)>,
    entries_begun: bool,
    /// The index the next chunk of entry lines starts at.
    queued: u64,
    /// Set when an entry could not be read: the tree cannot be recomputed
    /// past it, so the rest of the section is skipped.
    broken: bool,
    /// Size and root of the section's last checkpoint line in order.
    last_checkpoint: Option<(u64, Hash)>,
}

/// Entry lines decoded and checked, up to the first that does not decode.
struct CheckedLines {
    chunk: CheckedChunk,
    /// The line that does not decode, and why.
    malformed: Option<(u64, String)>,
    /// How many lines were handed over.
    lines: u64,
}

impl CheckedLines {
    pub(super) fn new(
        origin: &Origin,
        roster: &Roster,
        start: u64,
        lines: Vec<EntryLine>,
        records: bool,
    ) -> Self {
        let handed = lines.len() as u64;
        let mut items = Vec::with_capacity(lines.len());
        let mut malformed = None;
        for (line, bytes) in lines {
            match decode_entry_line(&bytes) {
                Ok((entry, payload)) => items.push(Item {
                    entry,
                    header: None,
                    payload,
                    purge: None,
                    line: Some(line),
                }),
                Err(why) => {
                    malformed = Some((line, why));
                    break;
                }
            }
        }
        Self {
            chunk: CheckedChunk::new(origin, roster, start, items, records),
            malformed,
            lines: handed,
        }
    }
}

struct Auditor<'r, 'p, 's, 'e> {
    roster: &'r Roster,
    progress: &'p Progress,
    framing: Framing,
    section: Option<Section<'r>>,
    logs: Vec<LogReport>,
    findings: Vec<Finding>,
    origins_seen: Vec<Origin>,
    version: Version,
    headers_only: bool,
    /// Validate payloads as records too.
    records: bool,
    /// The auditor's clock.
    now: u64,
    ended: bool,
    /// Chunks being checked: about one per core, so that every core checks a
    /// whole chunk (one signature batch) while this thread reads the next
    /// and applies the oldest.
    checking: InOrder<'s, 'e, CheckedLines>,
}

impl<'r: 's, 's> Auditor<'r, '_, 's, '_> {
    pub(super) fn event(&mut self, event: Event, head: &Head) {
        if !matches!(event, Event::Entries(_)) {
            // What comes next is judged on the log with every entry before it.
            self.settle();
        }
        if self.ended {
            return self.framing.find(
                event_line(&event),
                "trailing_data",
                "lines follow the end line".into(),
            );
        }
        match event {
            Event::Head(line, _) => {
                self.framing
                    .find(Some(line), "misplaced_line", "a second head line".into());
            }
            Event::Log(line, log) => self.start_log(line, log),
            Event::Checkpoint(line, note) => self.checkpoint(line, &note),
            Event::Purge(line, purge) => self.purge(line, purge),
            Event::Entries(lines) => self.entries(lines),
            Event::Equivocation(line, proof) => {
                self.end_section();
                let finding = check_proof(&proof, self.roster, ("bundle".into(), None), Some(line));
                self.framing.findings.push(finding);
            }
            Event::Bad(line, why) => {
                if let Some(section) = &mut self.section {
                    section.broken = true;
                }
                self.framing.find(Some(line), "malformed_line", why);
            }
            Event::End {
                line,
                body,
                signature,
                seen,
                sections,
            } => {
                self.end_section();
                self.ended = true;
                if self.end(line, &body, &signature, &seen, head) {
                    self.sections(line, &body, &sections);
                }
            }
        }
    }

    fn start_log(&mut self, line: u64, log: LogLine) {
        self.end_section();
        let root: Result<Hash, _> = concord_protocol::base64::decode(&log.root)
            .map_err(|e| e.to_string())
            .and_then(|r| r.try_into().map_err(|_| "not 32 bytes".to_owned()));
        let mut section = Section {
            audit: LogAudit::new(self.roster, log.origin.clone(), self.now),
            claimed: LogHead {
                size: log.size,
                root: root.unwrap_or_default(),
            },
            line,
            purges: BTreeMap::new(),
            entries_begun: false,
            queued: 0,
            broken: false,
            last_checkpoint: None,
        };
        let member = self.roster.member_by_origin(log.origin.as_str());
        if !member.is_some_and(|m| m.role == Role::Member) {
            section.audit.find(
                None,
                Some(line),
                "unknown_log",
                "the roster has no member with this log".into(),
            );
            section.broken = true;
        } else if self.origins_seen.contains(&log.origin) {
            section.audit.find(
                None,
                Some(line),
                "duplicate_log",
                "a second section for this log".into(),
            );
            section.broken = true;
        } else if let Some(before) = self.origins_seen.last().filter(|o| **o > log.origin) {
            // The exporter writes logs in the store's order, ascending by
            // origin: any other order is a bundle put together by hand.
            section.audit.find(
                None,
                Some(line),
                "log_order",
                format!("the section of {} follows that of {before}", log.origin),
            );
        }
        self.origins_seen.push(log.origin);
        self.progress
            .start(section.audit.origin().as_str(), log.size);
        self.section = Some(section);
    }

    /// The open section, if a line of a section may come now; a finding
    /// otherwise.
    fn section_before_entries(&mut self, line: u64, what: &str) -> Option<&mut Section<'r>> {
        let open = self.section.as_ref().map(|s| s.entries_begun);
        match open {
            Some(false) => self.section.as_mut(),
            Some(true) => {
                let section = self.section.as_mut().expect("just seen");
                section.audit.find(
                    None,
                    Some(line),
                    "misplaced_line",
                    format!("a {what} line after the log's entries"),
                );
                None
            }
            None => {
                self.framing.find(
                    Some(line),
                    "misplaced_line",
                    format!("a {what} line outside any log section"),
                );
                None
            }
        }
    }

    pub(super) fn checkpoint(&mut self, line: u64, note: &str) {
        let roster = self.roster;
        let Some(section) = self.section_before_entries(line, "checkpoint") else {
            return;
        };
        let checkpoint = match SignedCheckpoint::parse(note.as_bytes()) {
            Ok(checkpoint) => checkpoint,
            Err(e) => {
                return section
                    .audit
                    .find(None, Some(line), "checkpoint_malformed", e.to_string());
            }
        };
        // Strictly ascending sizes, as a store holds at most one checkpoint
        // per size: a second line of one size is a copy, or, with another
        // root, a fork, which a bundle carries as an equivocation line.
        let (size, root) = (checkpoint.checkpoint.size, checkpoint.checkpoint.root);
        if let Some((last_size, last_root)) = section.last_checkpoint {
            let order = match size.cmp(&last_size) {
                Ordering::Greater => None,
                Ordering::Equal if root == last_root => Some((
                    "duplicate_checkpoint",
                    format!("a second checkpoint of size {size}"),
                )),
                Ordering::Equal => Some((
                    "checkpoint_conflict",
                    format!(
                        "a second checkpoint of size {size} with another root; a fork belongs in an equivocation line"
                    ),
                )),
                Ordering::Less => Some((
                    "checkpoint_order",
                    format!("checkpoint of size {size} follows one of size {last_size}"),
                )),
            };
            if let Some((what, why)) = order {
                return section.audit.find(None, Some(line), what, why);
            }
        }
        section.last_checkpoint = Some((size, root));
        // A verifier may ignore signatures by unknown keys; a bundle must
        // not carry any, or a changed byte in one would go unseen.
        let origin = section.audit.origin().clone();
        let log_keys = roster.checkpoint_verifiers(&origin);
        let witnesses = roster.witnesses(&origin);
        for signature in checkpoint.note.signatures() {
            let known = log_keys
                .iter()
                .any(|v| v.name == signature.key_name && v.key_id() == signature.key_id)
                || witnesses
                    .iter()
                    .any(|w| w.name == signature.key_name && w.key_id() == signature.key_id);
            if !known {
                section.audit.find(
                    None,
                    Some(line),
                    "unknown_signer",
                    format!(
                        "checkpoint of size {} carries a signature by {} {}, a key the roster does not know",
                        checkpoint.checkpoint.size,
                        signature.key_name,
                        hex::encode(signature.key_id)
                    ),
                );
            }
        }
        section.audit.add_checkpoint(
            StoredCheckpoint {
                size,
                note: Ok(checkpoint),
            },
            Some(line),
        );
    }

    pub(super) fn purge(&mut self, line: u64, purge: PurgeLine) {
        let Some(section) = self.section_before_entries(line, "purge") else {
            return;
        };
        let claim = PurgeClaim {
            purged_at: purge.purged_at,
            valid_until: purge.denial_valid_until,
        };
        // Purge lines come before any entry, so every one read is still held.
        if let Some((&last, _)) = section
            .purges
            .last_key_value()
            .filter(|(i, _)| **i > purge.index)
        {
            section.audit.find(
                Some(purge.index),
                Some(line),
                "purge_order",
                format!(
                    "a purge record of entry {} follows one of entry {last}",
                    purge.index
                ),
            );
        }
        if section.purges.insert(purge.index, (line, claim)).is_some() {
            section.audit.find(
                Some(purge.index),
                Some(line),
                "duplicate_purge",
                "a second purge record for this entry".into(),
            );
        }
    }

    pub(super) fn entries(&mut self, lines: Vec<EntryLine>) {
        let roster = self.roster;
        let Some(section) = &mut self.section else {
            let first = lines.first().map(|(line, _)| *line);
            return self.framing.find(
                first,
                "misplaced_line",
                "entry lines outside any log section".into(),
            );
        };
        section.entries_begun = true;
        if section.broken {
            return;
        }
        let start = section.queued;
        section.queued += lines.len() as u64;
        let origin = section.audit.origin().clone();
        let records = self.records;
        if let Some(oldest) = self
            .checking
            .start(move || CheckedLines::new(&origin, roster, start, lines, records))
        {
            self.apply(oldest);
        }
    }

    /// Applies every chunk still being checked, in order.
    fn settle(&mut self) {
        while let Some(checked) = self.checking.oldest() {
            self.apply(checked);
        }
    }

    /// Applies a checked chunk to its section.
    fn apply(&mut self, checked: CheckedLines) {
        let CheckedLines {
            mut chunk,
            malformed,
            lines,
        } = checked;
        self.progress.advance(lines);
        let section = self
            .section
            .as_mut()
            .expect("chunks are applied before their section ends");
        if section.broken {
            // A line of an earlier chunk did not decode: the tree stops there.
            return;
        }
        for (index, item) in chunk.items_mut() {
            if self.headers_only && item.payload.is_some() {
                section.audit.find(
                    Some(index),
                    item.line,
                    "payload_in_headers_only",
                    "a headers-only bundle carries a payload".into(),
                );
            }
            item.purge = match (section.purges.remove(&index), &item.payload) {
                (Some((purge_line, _)), Some(_)) => {
                    section.audit.find(
                        Some(index),
                        Some(purge_line),
                        "purge_with_payload",
                        "a purge record for an entry whose payload is present".into(),
                    );
                    None
                }
                (purge, _) => purge.map(|(_, claim)| claim),
            };
        }
        section.audit.apply(chunk);
        if let Some((line, why)) = malformed {
            let index = section.audit.size();
            section
                .audit
                .find(Some(index), Some(line), "entry_malformed", why);
            section.broken = true;
        }
    }

    fn end_section(&mut self) {
        let Some(mut section) = self.section.take() else {
            return;
        };
        for (index, (line, _)) in std::mem::take(&mut section.purges) {
            section.audit.find(
                Some(index),
                Some(line),
                "purge_unmatched",
                "a purge record for an entry the section does not hold".into(),
            );
        }
        if section.broken {
            // Size and root cannot be compared; the cause is already found.
            let (report, mut findings) = section.audit.finish(
                LogHead {
                    size: 0,
                    root: Hash::default(),
                },
                None,
            );
            findings.retain(|f| f.what != "size_mismatch" && f.what != "root_mismatch");
            self.logs.push(report);
            self.findings.append(&mut findings);
            return;
        }
        let (report, mut findings) = section.audit.finish(section.claimed, Some(section.line));
        self.logs.push(report);
        self.findings.append(&mut findings);
    }

    /// Checks the end line against the head and the lines read; whether its
    /// signature verified, so that what else it signs may be compared.
    pub(super) fn end(
        &mut self,
        line: u64,
        body: &EndBody,
        signature: &str,
        seen: &[LineDigest],
        head: &Head,
    ) -> bool {
        if body.signer.name != head.exporter {
            self.framing.find(
                Some(line),
                "signer_not_exporter",
                format!(
                    "signed by {}, exported by {}",
                    body.signer.name, head.exporter
                ),
            );
        }
        if let Err(why) = verify_end(self.roster, self.version, body, signature) {
            // Nothing the end line says can be trusted.
            self.framing.find(Some(line), "bundle_signature", why);
            return false;
        }
        if body.lines != line - 1 {
            self.framing.find(
                Some(line),
                "line_count",
                format!(
                    "the end line counts {} lines, {} precede it",
                    body.lines,
                    line - 1
                ),
            );
        }
        let signed: HashMap<u64, &str> = body
            .digests
            .iter()
            .map(|d| (d.line, d.sha256.as_str()))
            .collect();
        for digest in seen {
            match signed.get(&digest.line) {
                Some(sha) if *sha == digest.sha256 => {}
                Some(_) => self.framing.find(
                    Some(digest.line),
                    "line_changed",
                    "the line differs from the one the exporter signed".into(),
                ),
                None => self.framing.find(
                    Some(digest.line),
                    "line_unsigned",
                    "the exporter signed no such line here".into(),
                ),
            }
        }
        for digest in &body.digests {
            if !seen.iter().any(|s| s.line == digest.line) {
                self.framing.find(
                    Some(digest.line),
                    "line_changed",
                    "the exporter signed a head, log, purge or equivocation line here".into(),
                );
            }
        }
        true
    }

    /// Compares each log section's checkpoint and entry lines with what a
    /// v2 end line signs of them, once the end line verified: a payload or
    /// a cosignature removed on the way changes them.
    fn sections(&mut self, line: u64, body: &EndBody, seen: &[SectionDigest]) {
        let signed = match (self.version, &body.sections) {
            (Version::V1, None) => return,
            (Version::V2, Some(signed)) => signed,
            (Version::V1, Some(_)) => {
                return self.framing.find(
                    Some(line),
                    "malformed_line",
                    format!(
                        "a {} end line carries a sections member, which v1 does not have",
                        Version::V1.format()
                    ),
                );
            }
            (Version::V2, None) => {
                return self.framing.find(
                    Some(line),
                    "malformed_line",
                    format!(
                        "a {} end line lacks its sections member",
                        Version::V2.format()
                    ),
                );
            }
        };
        let signed: HashMap<u64, &SectionDigest> = signed.iter().map(|d| (d.line, d)).collect();
        for section in seen {
            let Some(digest) = signed.get(&section.line) else {
                self.framing.find(
                    Some(section.line),
                    "section_unsigned",
                    "the exporter signed no log section here".into(),
                );
                continue;
            };
            if section.payloads < digest.payloads {
                self.framing.find(
                    Some(section.line),
                    "payload_missing",
                    format!(
                        "the exporter signed {} payloads in this log's entry lines, {} are here",
                        digest.payloads, section.payloads
                    ),
                );
            } else if section.payload_flags != digest.payload_flags
                || section.payloads != digest.payloads
            {
                self.framing.find(
                    Some(section.line),
                    "payloads_changed",
                    "which of this log's entry lines carry their payload differs from what the exporter signed".into(),
                );
            }
            if section.checkpoints != digest.checkpoints {
                self.framing.find(
                    Some(section.line),
                    "checkpoints_changed",
                    "this log's checkpoint lines differ from those the exporter signed (a checkpoint or a cosignature removed, added or changed)".into(),
                );
            }
        }
        for digest in signed.values() {
            if !seen.iter().any(|s| s.line == digest.line) {
                self.framing.find(
                    Some(digest.line),
                    "section_missing",
                    "the exporter signed a log section here".into(),
                );
            }
        }
    }

    pub(super) fn finish(mut self, source: &str, roster_source: &str, last_line: u64) -> Report {
        self.settle();
        self.end_section();
        if !self.ended {
            self.framing.find(
                Some(last_line + 1),
                "truncated",
                "the bundle ends without its signed end line".into(),
            );
        }
        let mut findings = self.framing.findings;
        findings.append(&mut self.findings);
        findings.sort_by_key(|f| f.line);
        Report::new(
            source.to_owned(),
            format!("v{} ({roster_source})", self.roster.version),
            self.records,
            self.logs,
            findings,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines;
    use super::*;

    /// The line splitter reads ahead on its own thread; an audit that stops
    /// early must stop it too, even on input that never ends.
    #[test]
    fn an_audit_that_stops_early_stops_the_reader() {
        let endless = std::io::repeat(b'\n');
        let audit =
            audit_reader(endless, "endless", None, false, 0, &Progress::new(false)).expect("reads");
        assert_eq!(audit.report.findings.len(), 1);
        assert_eq!(audit.report.findings[0].what, "not_a_bundle");
    }

    /// A read that fails midway is an error of the audit, not a finding.
    #[test]
    fn a_failing_read_is_reported() {
        struct Failing(usize);
        impl io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("the disk went away"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(b'{');
                self.0 -= n;
                Ok(n)
            }
        }
        let input = Failing(3 * lines::READ_AHEAD_BYTES);
        let error = audit_reader(input, "failing", None, false, 0, &Progress::new(false))
            .err()
            .expect("the read fails");
        assert_eq!(error.to_string(), "the disk went away");
    }

    /// A line longer than the limit is a finding at its line.
    #[test]
    fn a_line_longer_than_the_limit_is_found() {
        let endless = std::io::repeat(b'x');
        let audit =
            audit_reader(endless, "endless", None, false, 0, &Progress::new(false)).expect("reads");
        assert_eq!(audit.report.findings[0].line, Some(1));
    }
}
