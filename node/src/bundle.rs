//! Signed bundles, `concord-bundle/v1`: logs carried offline to air-gapped
//! agencies and observers (PROTOCOL.md §9).
//!
//! A bundle is JSON lines, each the RFC 8785 form of one object: a head with
//! the roster chain, then per log its claimed head, checkpoints, purge
//! records and entries in index order, then equivocation proofs, then an end
//! line signed by the exporter. Entries, checkpoints and proofs verify by
//! their own signatures; the end line signs the digests of every other line,
//! so any changed byte is found at its line.
//!
//! [`audit_file`] verifies a whole bundle in one streaming pass with the
//! audit engine; [`import`] stores a bundle only after it audited clean.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::SignedRoster;
use concord_keys::roster::{Role, Roster};
use concord_protocol::canonical;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{SignedEntry, Visibility, WireEntry};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup};
use concord_protocol::merkle::Hash;
use concord_protocol::note::NoteVerifier;
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::audit::{
    self, CHUNK, CheckedChunk, Finding, Item, LogAudit, Progress, PurgeClaim, Report,
};
use crate::cli::{CliError, CliResult, exit};
use crate::home::Home;
use crate::parallel::{InOrder, par_map};
use crate::store::{LogHead, Store, StoredCheckpoint};

mod lines;

use lines::{LineRef, LineSplitter, READ_AHEAD_BATCHES, RawLine};

pub const FORMAT: &str = "concord-bundle/v1";

/// Prefix of the message the end line's signature covers.
const SIGNING_CONTEXT: &[u8] = b"concord/bundle/v1\n";

/// Every entry line begins so (RFC 8785 sorts `entry` before `type`).
const ENTRY_PREFIX: &[u8] = b"{\"entry\":";

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The participant whose readable payloads the bundle carries; `None`
    /// for public payloads only.
    pub audience: Option<String>,
    /// Seconds since the Unix epoch, by the exporter's clock.
    pub created: u64,
    /// The exporter's origin; it signs the end line.
    pub exporter: String,
    pub federation: String,
    pub format: String,
    pub headers_only: bool,
    /// Base64 of every roster file, genesis first.
    pub rosters: Vec<String>,
}

/// The head of one log as the exporter held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    pub origin: Origin,
    /// Base64 of the Merkle root at `size`.
    pub root: String,
    pub size: u64,
}

/// A payload the exporter purged under retention, with the validity its
/// denial had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeLine {
    pub denial_valid_until: Option<String>,
    pub index: u64,
    pub purged_at: u64,
    pub reason: String,
}

/// One line's digest, signed in the end line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDigest {
    pub line: u64,
    /// Hex SHA-256 of the line's bytes, newline excluded.
    pub sha256: String,
}

/// Who signed the end line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerLine {
    /// Hex key id (alg 0x01, name = `name`).
    pub key_id: String,
    pub name: String,
}

/// The last line, without its signature: what the signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    pub digests: Vec<LineDigest>,
    /// Lines before the end line.
    pub lines: u64,
    pub signer: SignerLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Line {
    Bundle(Head),
    Log(LogLine),
    Checkpoint {
        note: String,
    },
    Purge(PurgeLine),
    Entry {
        entry: WireEntry,
    },
    Equivocation {
        proof: EquivocationProof,
    },
    End {
        digests: Vec<LineDigest>,
        lines: u64,
        signature: String,
        signer: SignerLine,
    },
}

/// The exact bytes of an entry line; built by hand because it is the hot
/// path of reading and writing, and base64 needs no JSON escaping.
fn entry_line(entry: &WireEntry) -> Vec<u8> {
    let payload = entry.payload.as_ref().map_or(0, String::len);
    let mut line = Vec::with_capacity(64 + entry.header.len() + entry.signature.len() + payload);
    line.extend_from_slice(ENTRY_PREFIX);
    line.extend_from_slice(b"{\"header\":\"");
    line.extend_from_slice(entry.header.as_bytes());
    if let Some(payload) = &entry.payload {
        line.extend_from_slice(b"\",\"payload\":\"");
        line.extend_from_slice(payload.as_bytes());
    }
    line.extend_from_slice(b"\",\"signature\":\"");
    line.extend_from_slice(entry.signature.as_bytes());
    line.extend_from_slice(b"\"},\"type\":\"entry\"}");
    line
}

/// The message the end line's signature covers.
fn end_message(body: &EndBody) -> Vec<u8> {
    #[derive(Serialize)]
    struct Tagged<'a> {
        #[serde(flatten)]
        body: &'a EndBody,
        #[serde(rename = "type")]
        kind: &'static str,
    }
    let mut message = SIGNING_CONTEXT.to_vec();
    message.extend(
        canonical::to_canonical_vec(&Tagged { body, kind: "end" })
            .expect("an end line holds only strings and integers"),
    );
    message
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes a bundle line by line; [`BundleWriter::finish`] signs it.
pub struct BundleWriter<W: Write> {
    out: W,
    lines: u64,
    digests: Vec<LineDigest>,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle with its head line.
    ///
    /// # Errors
    /// The writer's.
    pub fn new(out: W, head: &Head) -> io::Result<Self> {
        let mut writer = Self {
            out,
            lines: 0,
            digests: Vec::new(),
        };
        writer.write(&Line::Bundle(head.clone()), true)?;
        Ok(writer)
    }

    fn write(&mut self, line: &Line, digested: bool) -> io::Result<()> {
        let bytes = canonical::to_canonical_vec(line).map_err(io::Error::other)?;
        self.write_raw(&bytes, digested)
    }

    fn write_raw(&mut self, bytes: &[u8], digested: bool) -> io::Result<()> {
        self.lines += 1;
        if digested {
            self.digests.push(LineDigest {
                line: self.lines,
                sha256: sha256_hex(bytes),
            });
        }
        self.out.write_all(bytes)?;
        self.out.write_all(b"\n")
    }

    /// Starts a log section.
    ///
    /// # Errors
    /// The writer's.
    pub fn log(&mut self, origin: &Origin, head: LogHead) -> io::Result<()> {
        self.write(
            &Line::Log(LogLine {
                origin: origin.clone(),
                root: BASE64.encode(head.root),
                size: head.size,
            }),
            true,
        )
    }

    /// A checkpoint of the current log (before its entries).
    ///
    /// # Errors
    /// The writer's.
    pub fn checkpoint(&mut self, checkpoint: &SignedCheckpoint) -> io::Result<()> {
        let note = String::from_utf8(checkpoint.to_bytes()).map_err(io::Error::other)?;
        self.write(&Line::Checkpoint { note }, false)
    }

    /// A purge record of the current log (before its entries).
    ///
    /// # Errors
    /// The writer's.
    pub fn purge(&mut self, purge: &PurgeLine) -> io::Result<()> {
        self.write(&Line::Purge(purge.clone()), true)
    }

    /// The next entry of the current log.
    ///
    /// # Errors
    /// The writer's.
    pub fn entry(&mut self, entry: &SignedEntry, payload: Option<&[u8]>) -> io::Result<()> {
        let wire = WireEntry {
            header: BASE64.encode(&entry.header_bytes),
            signature: BASE64.encode(entry.signature),
            payload: payload.map(|p| BASE64.encode(p)),
        };
        self.write_raw(&entry_line(&wire), false)
    }

    /// An equivocation proof (after every log).
    ///
    /// # Errors
    /// The writer's.
    pub fn equivocation(&mut self, proof: &EquivocationProof) -> io::Result<()> {
        self.write(
            &Line::Equivocation {
                proof: proof.clone(),
            },
            false,
        )
    }

    /// Signs and writes the end line; returns the inner writer, flushed.
    ///
    /// # Errors
    /// The writer's.
    pub fn finish(mut self, key: &SigningKey, name: &str) -> io::Result<W> {
        let verifier = NoteVerifier::new(name, key.verifying_key()).map_err(io::Error::other)?;
        let body = EndBody {
            digests: std::mem::take(&mut self.digests),
            lines: self.lines,
            signer: SignerLine {
                key_id: hex::encode(verifier.key_id()),
                name: name.to_owned(),
            },
        };
        let signature = key.sign(&end_message(&body));
        let end = Line::End {
            digests: body.digests,
            lines: body.lines,
            signature: BASE64.encode(signature.to_bytes()),
            signer: body.signer,
        };
        self.write(&end, false)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One entry line as read, with its number; decoded where it is checked.
type EntryLine = (u64, LineRef);

/// What a reader yields, in bundle order.
enum Event {
    Head(u64, Head),
    Log(u64, LogLine),
    Checkpoint(u64, String),
    Purge(u64, PurgeLine),
    /// Consecutive entry lines, not yet decoded.
    Entries(Vec<EntryLine>),
    Equivocation(u64, EquivocationProof),
    End {
        line: u64,
        body: EndBody,
        signature: String,
        /// Digests of the lines read that the end line must sign.
        seen: Vec<LineDigest>,
    },
    /// A line that is not a well-formed bundle line.
    Bad(u64, String),
}

/// Runs `body` with a reader of `input` whose lines are split on another
/// thread, so that reading overlaps the checks of the lines before.
fn with_reader<T>(input: impl Read + Send, body: impl FnOnce(&mut BundleReader) -> T) -> T {
    let (sender, batches) = mpsc::sync_channel(READ_AHEAD_BATCHES);
    std::thread::scope(|scope| {
        scope.spawn(move || LineSplitter::new(input).run(&sender));
        // Dropped before the scope joins the splitter, which then stops.
        let mut reader = BundleReader {
            batches,
            batch: Vec::new().into_iter(),
            line: 0,
            seen: Vec::new(),
            pending: None,
        };
        body(&mut reader)
    })
}

/// Reads a bundle's lines as events.
struct BundleReader {
    batches: mpsc::Receiver<io::Result<Vec<RawLine>>>,
    batch: std::vec::IntoIter<RawLine>,
    /// The number of the last line read.
    line: u64,
    seen: Vec<LineDigest>,
    /// A non-entry line read while collecting entries.
    pending: Option<RawLine>,
}

impl BundleReader {
    /// The next line, or `None` at the end of the input.
    fn read_line(&mut self) -> io::Result<Option<RawLine>> {
        loop {
            if let Some(line) = self.batch.next() {
                self.line = line.0;
                return Ok(Some(line));
            }
            match self.batches.recv() {
                Ok(batch) => self.batch = batch?.into_iter(),
                Err(mpsc::RecvError) => return Ok(None),
            }
        }
    }

    fn next_event(&mut self) -> io::Result<Option<Event>> {
        let Some((number, line)) = self
            .pending
            .take()
            .map_or_else(|| self.read_line(), |p| Ok(Some(p)))?
        else {
            return Ok(None);
        };
        let bytes = match line {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Some(Event::Bad(number, why))),
        };
        if bytes.starts_with(ENTRY_PREFIX) {
            return self.entries(number, bytes).map(Some);
        }
        Ok(Some(self.other(number, &bytes)))
    }

    /// Collects consecutive entry lines.
    fn entries(&mut self, first: u64, bytes: LineRef) -> io::Result<Event> {
        let mut lines = vec![(first, bytes)];
        while lines.len() < CHUNK {
            match self.read_line()? {
                Some((number, Ok(bytes))) if bytes.starts_with(ENTRY_PREFIX) => {
                    lines.push((number, bytes));
                }
                Some(other) => {
                    self.pending = Some(other);
                    break;
                }
                None => break,
            }
        }
        Ok(Event::Entries(lines))
    }

    fn other(&mut self, number: u64, bytes: &[u8]) -> Event {
        let line: Line = match serde_json::from_slice(bytes) {
            Ok(line) => line,
            Err(e) => return Event::Bad(number, format!("not a bundle line: {e}")),
        };
        if !canonical::is_canonical(bytes) {
            return Event::Bad(number, "the line is not in RFC 8785 form".into());
        }
        let mut digested = |event| {
            self.seen.push(LineDigest {
                line: number,
                sha256: sha256_hex(bytes),
            });
            event
        };
        match line {
            Line::Bundle(head) => digested(Event::Head(number, head)),
            Line::Log(log) => digested(Event::Log(number, log)),
            Line::Purge(purge) => digested(Event::Purge(number, purge)),
            Line::Checkpoint { note } => Event::Checkpoint(number, note),
            Line::Equivocation { proof } => Event::Equivocation(number, proof),
            // A canonical entry line starts with the prefix; this one did not.
            Line::Entry { .. } => Event::Bad(number, "the line is not in RFC 8785 form".into()),
            Line::End {
                digests,
                lines,
                signature,
                signer,
            } => Event::End {
                line: number,
                body: EndBody {
                    digests,
                    lines,
                    signer,
                },
                signature,
                seen: std::mem::take(&mut self.seen),
            },
        }
    }
}

/// The entry and payload of an entry line. A canonical entry line has one
/// exact layout (base64 needs no escaping), so it is split by hand; serde
/// only explains a line that does not fit it.
fn decode_entry_line(bytes: &[u8]) -> Result<(SignedEntry, Option<Vec<u8>>), String> {
    let Some(fields) = split_entry_line(bytes) else {
        return Err(entry_line_error(bytes));
    };
    WireEntry::decode_parts(fields.header, fields.signature, fields.payload)
        .map_err(|e| e.to_string())
}

/// The base64 text of an entry line's fields, where it lies in the line.
struct EntryFields<'a> {
    header: &'a [u8],
    payload: Option<&'a [u8]>,
    signature: &'a [u8],
}

/// The fields of a line laid out exactly as [`entry_line`] writes it.
fn split_entry_line(bytes: &[u8]) -> Option<EntryFields<'_>> {
    fn until_quote(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let at = memchr::memchr(b'"', bytes)?;
        Some(bytes.split_at(at))
    }
    let rest = bytes
        .strip_prefix(ENTRY_PREFIX)?
        .strip_prefix(b"{\"header\":\"")?;
    let (header, rest) = until_quote(rest)?;
    let (payload, rest) = match rest.strip_prefix(b"\",\"payload\":\"") {
        Some(rest) => {
            let (payload, rest) = until_quote(rest)?;
            (Some(payload), rest)
        }
        None => (None, rest),
    };
    let (signature, rest) = until_quote(rest.strip_prefix(b"\",\"signature\":\"")?)?;
    (rest == b"\"},\"type\":\"entry\"}").then_some(EntryFields {
        header,
        payload,
        signature,
    })
}

/// Why a line that begins as an entry line is not one.
fn entry_line_error(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "parsed only to say what is wrong")]
    struct EntryLine {
        entry: WireEntry,
        #[serde(rename = "type")]
        kind: String,
    }
    match serde_json::from_slice::<EntryLine>(bytes) {
        Err(e) => format!("not an entry line: {e}"),
        Ok(_) => "the line is not in RFC 8785 form".into(),
    }
}

/// What auditing a bundle found, and what it needs to import it.
pub struct BundleAudit {
    pub report: Report,
    pub head: Option<Head>,
}

/// Audits the bundle at `path`; `pinned` is the roster to trust (and where
/// it came from) instead of the chain the bundle carries; with `records`,
/// payloads are also validated as records.
///
/// # Errors
/// Exit 3 when the file cannot be read.
pub fn audit_file(
    path: &Path,
    pinned: Option<(Roster, String)>,
    records: bool,
    progress: &Progress,
) -> Result<BundleAudit, CliError> {
    let file = File::open(path).map_err(|e| {
        CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!("opening {}: {e}", path.display()),
        )
    })?;
    audit_reader(file, &path.display().to_string(), pinned, records, progress).map_err(|e| {
        CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!("reading {}: {e}", path.display()),
        )
    })
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
    progress: &Progress,
) -> io::Result<BundleAudit> {
    with_reader(input, |reader| {
        audit_events(reader, source, pinned, records, progress)
    })
}

fn audit_events(
    reader: &mut BundleReader,
    source: &str,
    pinned: Option<(Roster, String)>,
    records: bool,
    progress: &Progress,
) -> io::Result<BundleAudit> {
    let mut framing = Framing::default();
    let head = match reader.next_event()? {
        Some(Event::Head(_, head)) => head,
        Some(other) => {
            framing.find(
                event_line(&other),
                "not_a_bundle",
                format!("the first line is not a {FORMAT} head"),
            );
            return Ok(framing.stopped(source, pinned, records));
        }
        None => {
            framing.find(Some(1), "not_a_bundle", "the file is empty".into());
            return Ok(framing.stopped(source, pinned, records));
        }
    };
    if head.format != FORMAT {
        framing.find(
            Some(1),
            "unknown_format",
            format!("format {:?}, expected {FORMAT}", head.format),
        );
        return Ok(framing.stopped(source, pinned, records));
    }
    let carried = carried_roster(&head);
    let (roster, roster_source) = match (pinned, carried) {
        (Some(pinned), _) => pinned,
        (None, Ok(roster)) => {
            let version = roster.version;
            (roster, format!("v{version} carried by the bundle"))
        }
        (None, Err(why)) => {
            framing.find(Some(1), "roster_invalid", why);
            return Ok(framing.stopped(source, None, records));
        }
    };
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
            headers_only: head.headers_only,
            records,
            ended: false,
            checking: InOrder::new(scope),
        };
        while let Some(event) = reader.next_event()? {
            auditor.event(event, &head);
        }
        let report = auditor.finish(source, &roster_source, reader.line);
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
        .map(|file| BASE64.decode(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a roster file is not base64: {e}"))?;
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
    fn find(&mut self, line: Option<u64>, what: &'static str, why: String) {
        self.findings.push(Finding {
            log: "bundle".into(),
            index: None,
            line,
            what,
            why,
        });
    }

    /// The report of a bundle that could not be audited past its head.
    fn stopped(self, source: &str, pinned: Option<(Roster, String)>, records: bool) -> BundleAudit {
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
    fn new(
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
    logs: Vec<audit::LogReport>,
    findings: Vec<Finding>,
    origins_seen: Vec<Origin>,
    headers_only: bool,
    /// Validate payloads as records too.
    records: bool,
    ended: bool,
    /// Chunks being checked: about one per core, so that every core checks a
    /// whole chunk (one signature batch) while this thread reads the next
    /// and applies the oldest.
    checking: InOrder<'s, 'e, CheckedLines>,
}

impl<'r: 's, 's> Auditor<'r, '_, 's, '_> {
    fn event(&mut self, event: Event, head: &Head) {
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
                if let Err(e) = proof.verify(self.roster) {
                    self.framing.find(
                        Some(line),
                        "evidence_invalid",
                        format!("an equivocation proof does not verify: {e}"),
                    );
                }
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
            } => {
                self.end_section();
                self.ended = true;
                self.end(line, &body, &signature, &seen, head);
            }
        }
    }

    fn start_log(&mut self, line: u64, log: LogLine) {
        self.end_section();
        let root: Result<Hash, _> = BASE64
            .decode(&log.root)
            .map_err(|e| e.to_string())
            .and_then(|r| r.try_into().map_err(|_| "not 32 bytes".to_owned()));
        let mut section = Section {
            audit: LogAudit::new(self.roster, log.origin.clone()),
            claimed: LogHead {
                size: log.size,
                root: root.unwrap_or_default(),
            },
            line,
            purges: BTreeMap::new(),
            entries_begun: false,
            queued: 0,
            broken: false,
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

    fn checkpoint(&mut self, line: u64, note: &str) {
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
        // A verifier may ignore signatures by unknown keys; a bundle must
        // not carry any, or a changed byte in one would go unseen.
        let origin = section.audit.origin().clone();
        let log_keys = roster.checkpoint_verifiers(&origin);
        let witnesses = roster.witnesses();
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
        let size = checkpoint.checkpoint.size;
        section.audit.add_checkpoint(
            StoredCheckpoint {
                size,
                note: Ok(checkpoint),
            },
            Some(line),
        );
    }

    fn purge(&mut self, line: u64, purge: PurgeLine) {
        let Some(section) = self.section_before_entries(line, "purge") else {
            return;
        };
        let claim = PurgeClaim {
            purged_at: purge.purged_at,
            valid_until: purge.denial_valid_until,
        };
        if section.purges.insert(purge.index, (line, claim)).is_some() {
            section.audit.find(
                Some(purge.index),
                Some(line),
                "duplicate_purge",
                "a second purge record for this entry".into(),
            );
        }
    }

    fn entries(&mut self, lines: Vec<EntryLine>) {
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

    fn end(
        &mut self,
        line: u64,
        body: &EndBody,
        signature: &str,
        seen: &[LineDigest],
        head: &Head,
    ) {
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
        if let Err(why) = verify_end(self.roster, body, signature) {
            // Nothing the end line says can be trusted.
            return self.framing.find(Some(line), "bundle_signature", why);
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
                    "the exporter signed a head, log or purge line here".into(),
                );
            }
        }
    }

    fn finish(mut self, source: &str, roster_source: &str, last_line: u64) -> Report {
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

fn verify_end(roster: &Roster, body: &EndBody, signature: &str) -> Result<(), String> {
    let origin = Origin::new(&body.signer.name).map_err(|e| e.to_string())?;
    let key_id = hex::decode(&body.signer.key_id).map_err(|e| format!("signer key id: {e}"))?;
    let verifier = roster
        .checkpoint_verifiers(&origin)
        .into_iter()
        .find(|v| v.key_id()[..] == key_id[..])
        .ok_or_else(|| format!("the roster has no key {} of {origin}", body.signer.key_id))?;
    let signature = BASE64
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the signature is not 64 bytes of base64")?;
    verifier
        .key
        .verify_strict(&end_message(body), &signature)
        .map_err(|_| "the end line's signature does not verify".to_owned())
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The node's home directory (the node must be stopped).
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
    /// Where to write the bundle; it must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these logs (member id or origin; repeatable). Default: every log.
    #[arg(long)]
    pub log: Vec<String>,
    /// Carry no payload at all.
    #[arg(long)]
    pub headers_only: bool,
    /// Carry the payloads this participant may read (member id). Default:
    /// public payloads only.
    #[arg(long = "for")]
    pub audience: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

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

/// `concord export`.
///
/// # Errors
/// Exit 3 for a bad argument or an existing output file; exit 5 when the
/// node holds the store.
pub fn export_command(args: &ExportArgs) -> CliResult {
    let home = Home::new(&args.home);
    let config = home.config()?;
    let roster_files = home.roster_files()?;
    let roster = home.roster()?;
    let identity = home.identity()?;
    let input = |e: anyhow::Error| CliError::new(exit::INVALID_INPUT, e);
    let mut logs = Vec::new();
    for log in &args.log {
        logs.push(crate::views::resolve_log(&roster, log)?);
    }
    let audience = match &args.audience {
        Some(id) => {
            let member = roster
                .members
                .iter()
                .find(|m| m.id.as_str() == id)
                .ok_or_else(|| input(anyhow::anyhow!("--for {id}: no such roster participant")))?;
            Some((id.clone(), member.role, member.country))
        }
        None => None,
    };
    if args.out.exists() {
        return Err(input(anyhow::anyhow!(
            "{} exists; choose a new path",
            args.out.display()
        )));
    }
    let store = audit::open_stopped(&home.db_path())?;
    let exporter =
        Origin::for_member(&config.federation, &config.id).map_err(|e| input(e.into()))?;
    let head = Head {
        audience: audience.as_ref().map(|(id, _, _)| id.clone()),
        created: crate::clock::now(),
        exporter: exporter.to_string(),
        federation: config.federation.clone(),
        format: FORMAT.into(),
        headers_only: args.headers_only,
        rosters: roster_files.iter().map(|f| BASE64.encode(f)).collect(),
    };
    let filter = if args.headers_only {
        PayloadFilter::None
    } else {
        match audience {
            Some((_, role, country)) => PayloadFilter::ReadableBy(role, country),
            None => PayloadFilter::PublicOnly,
        }
    };
    // Written beside the target and renamed: no half bundle is ever seen
    // under the name asked for.
    let partial = args.out.with_extension("partial");
    let file = File::create(&partial)
        .map_err(|e| input(anyhow::anyhow!("creating {}: {e}", partial.display())))?;
    let result = export(
        &store,
        &logs,
        &head,
        filter,
        &identity.log_key,
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
        .and_then(|()| std::fs::rename(&partial, &args.out))
        .map_err(|e| {
            CliError::new(
                exit::STORAGE,
                anyhow::anyhow!("writing {}: {e}", args.out.display()),
            )
        })?;
    summary.out = args.out.display().to_string();
    summary.bytes = std::fs::metadata(&args.out).map_or(0, |m| m.len());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serialises")
        );
    } else {
        println!("exported {} ({} bytes)", summary.out, summary.bytes);
        for log in &summary.logs {
            println!(
                "  {:<40} {:>8} entries  {:>3} checkpoints  {:>8} payloads  {:>4} purged",
                log.origin, log.size, log.checkpoints, log.payloads, log.purged
            );
        }
        println!("  {} equivocation proof(s)", summary.evidence);
    }
    Ok(())
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
) -> Result<ExportSummary, CliError> {
    let write_error =
        |e: io::Error| CliError::new(exit::STORAGE, anyhow::anyhow!("writing the bundle: {e}"));
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
                    CliError::new(
                        exit::FAILURE,
                        anyhow::anyhow!(
                            "a stored header of {origin} does not decode: {e}; run `concord audit`"
                        ),
                    )
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

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The node's home directory (the node must be stopped).
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
    /// The bundle to import.
    pub bundle: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

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

/// `concord import`: audits the bundle against the home's roster, and
/// stores it only if the audit is clean.
///
/// # Errors
/// Exit 6 with nothing stored when the bundle has findings; exit 6 after
/// storing when entries conflict with the store; exit 5 when the node holds
/// the store.
pub fn import_command(args: &ImportArgs) -> CliResult {
    crate::heap::keep_free_top();
    let home = Home::new(&args.home);
    let config = home.config()?;
    let roster = home.roster()?;
    let own = Origin::for_member(&config.federation, &config.id)
        .map_err(|e| CliError::new(exit::INVALID_INPUT, e))?;
    let store = audit::open_stopped(&home.db_path())?;
    let progress = Progress::new(!args.json);
    // Records too: the replica path refuses an entry whose record does not
    // validate, and an import must not stop halfway.
    let audited = audit_file(
        &args.bundle,
        Some((roster.clone(), format!("home {}", home.dir.display()))),
        true,
        &progress,
    )?;
    progress.finish();
    if !audited.report.findings.is_empty() {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&audited.report).expect("serialises")
            );
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
            exit::AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{}: {} finding(s); nothing was imported",
                args.bundle.display(),
                audited.report.findings.len()
            ),
        ));
    }
    let summary = import(&store, &roster, &own, &args.bundle)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serialises")
        );
    } else {
        println!("imported {}", args.bundle.display());
        for log in &summary.logs {
            match &log.skipped {
                Some(why) => println!("  {:<40} skipped: {why}", log.origin),
                None => println!(
                    "  {:<40} {:>8} new  {:>8} already held  {:>3} checkpoints  {} refused",
                    log.origin,
                    log.appended,
                    log.already_held,
                    log.checkpoints_stored,
                    log.refused.len()
                ),
            }
            for refusal in &log.refused {
                println!("      refused: {refusal}");
            }
        }
        println!("  {} equivocation proof(s) recorded", summary.evidence);
    }
    let refused: usize = summary.logs.iter().map(|l| l.refused.len()).sum();
    if refused > 0 {
        return Err(CliError::new(
            exit::AUDIT_FINDINGS,
            anyhow::anyhow!(
                "{refused} entries conflict with this node's store; see `concord status` for the evidence"
            ),
        ));
    }
    Ok(())
}

/// Stores an audited bundle through the verified replica path.
///
/// # Errors
/// The bundle cannot be read again, or the store fails.
pub fn import(
    store: &Store,
    roster: &Roster,
    own: &Origin,
    path: &Path,
) -> Result<ImportSummary, CliError> {
    let file = File::open(path).map_err(|e| {
        CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!("opening {}: {e}", path.display()),
        )
    })?;
    with_reader(file, |reader| {
        import_events(reader, store, roster, own, path)
    })
}

fn import_events(
    reader: &mut BundleReader,
    store: &Store,
    roster: &Roster,
    own: &Origin,
    path: &Path,
) -> Result<ImportSummary, CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(exit::FAILURE, e))?;
    let mut summary = ImportSummary::default();
    let mut checkpoints: Vec<String> = Vec::new();
    let read_error = |e: io::Error| {
        CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!("reading {}: {e}", path.display()),
        )
    };
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
                            CliError::new(
                                exit::INVALID_INPUT,
                                anyhow::anyhow!(
                                    "{} line {line} changed after its audit: {why}",
                                    path.display()
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let outcome = store.ingest(&origin, items, roster)?;
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
                    CliError::new(
                        exit::INVALID_INPUT,
                        anyhow::anyhow!("{}: a proof changed after its audit: {e}", path.display()),
                    )
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
) -> Result<(), CliError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use concord_protocol::entry::{self, NewEntry};
    use concord_protocol::record::Kind;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::any;
    use proptest::sample::Index;

    fn signed() -> SignedEntry {
        let origin = Origin::new("test.example/cl").expect("origin");
        let new = NewEntry {
            origin: &origin,
            index: 0,
            time: 1,
            kind: Kind::Notice,
            refers_to: None,
            payload: b"{}",
            visibility: Visibility::Federation,
        };
        entry::sign_entry(&new, &SigningKey::from_bytes(&[7; 32])).expect("signs")
    }

    #[test]
    fn entry_lines_decode_only_in_their_canonical_layout() {
        let entry = signed();
        for payload in [None, Some(b"{}".as_slice())] {
            let line = entry_line(&entry.to_wire(payload));
            assert_eq!(
                decode_entry_line(&line),
                Ok((entry.clone(), payload.map(<[u8]>::to_vec)))
            );
            let text = String::from_utf8(line).expect("ascii");
            let spaced = text.replacen("\"header\":", "\"header\": ", 1);
            let reordered = text
                .replacen("{\"entry\":{", "{\"type\":\"entry\",\"entry\":{", 1)
                .replacen(",\"type\":\"entry\"}", "}", 1);
            for changed in [spaced, reordered] {
                assert_eq!(
                    decode_entry_line(changed.as_bytes()),
                    Err("the line is not in RFC 8785 form".into()),
                    "{changed}"
                );
            }
            let cut = &text[..text.len() - 3];
            assert!(
                decode_entry_line(cut.as_bytes())
                    .is_err_and(|e| e.starts_with("not an entry line")),
                "{cut}"
            );
            let unknown = text.replacen("\"type\":\"entry\"", "\"type\":\"entry\",\"x\":1", 1);
            assert!(
                decode_entry_line(unknown.as_bytes()).is_err_and(|e| e.contains("unknown field")),
                "{unknown}"
            );
            let bad_base64 = text.replacen("\"signature\":\"", "\"signature\":\"!", 1);
            assert_eq!(
                decode_entry_line(bad_base64.as_bytes()),
                Err("base64 field signature is malformed".into())
            );
        }
    }

    /// The line splitter reads ahead on its own thread; an audit that stops
    /// early must stop it too, even on input that never ends.
    #[test]
    fn an_audit_that_stops_early_stops_the_reader() {
        let endless = std::io::repeat(b'\n');
        let audit =
            audit_reader(endless, "endless", None, false, &Progress::new(false)).expect("reads");
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
        let error = audit_reader(input, "failing", None, false, &Progress::new(false))
            .err()
            .expect("the read fails");
        assert_eq!(error.to_string(), "the disk went away");
    }

    /// A line longer than the limit is a finding at its line.
    #[test]
    fn a_line_longer_than_the_limit_is_found() {
        let endless = std::io::repeat(b'x');
        let audit =
            audit_reader(endless, "endless", None, false, &Progress::new(false)).expect("reads");
        assert_eq!(audit.report.findings[0].line, Some(1));
    }

    proptest::proptest! {
        // Each case is cheap, and the replaced byte must often land on the
        // few bytes of the line's frame.
        #![proptest_config(proptest::test_runner::Config::with_cases(4096))]

        /// The entry-line splitter, written by hand for speed, accepts no
        /// line that the strict path would refuse: whatever it decodes,
        /// serde reads as the same entry, and the line is in RFC 8785 form.
        /// Lines carry any header bytes, signature and payload; then one
        /// byte of the line is replaced by any other.
        #[test]
        fn the_entry_line_splitter_accepts_only_what_serde_and_the_form_check_accept(
            header_bytes in vec(any::<u8>(), 1..300),
            signature in vec(any::<u8>(), 64),
            payload in option::of(vec(any::<u8>(), 0..300)),
            at in any::<Index>(),
            byte in any::<u8>(),
        ) {
            let entry = SignedEntry::from_parts(header_bytes, &signature).expect("64 bytes");
            let mut line = entry_line(&entry.to_wire(payload.as_deref()));
            proptest::prop_assert_eq!(decode_entry_line(&line), Ok((entry, payload)));
            let at = at.index(line.len());
            line[at] = byte;
            if let Ok(decoded) = decode_entry_line(&line) {
                let parsed: Result<Line, _> = serde_json::from_slice(&line);
                let Ok(Line::Entry { entry: wire }) = parsed else {
                    return Err(proptest::test_runner::TestCaseError::fail("serde refuses it"));
                };
                proptest::prop_assert_eq!(wire.decode().map_err(|e| e.to_string()), Ok(decoded));
                proptest::prop_assert!(canonical::is_canonical(&line));
            }
        }
    }
}
