//! [`BundleReader`]: a bundle's lines read as events, split on a thread of
//! their own ([`super::lines`]) so that reading overlaps the checks.

use std::io::{self, Read};
use std::sync::mpsc;

use concord_protocol::canonical;
use concord_protocol::equivocation::EquivocationProof;

use crate::audit::CHUNK;

use super::format::{
    ENTRY_PREFIX, EndBody, Head, Line, LineDigest, LogLine, PurgeLine, SectionDigest,
    SectionHasher, Version, entry_line_has_payload, sha256_hex,
};
use super::lines::{LineRef, LineSplitter, READ_AHEAD_BATCHES, RawLine};

/// One entry line as read, with its number; decoded where it is checked.
pub(super) type EntryLine = (u64, LineRef);

/// What a reader yields, in bundle order.
pub(super) enum Event {
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
        /// What was read of each log section, as a v2 end line signs it.
        sections: Vec<SectionDigest>,
    },
    /// A line that is not a well-formed bundle line.
    Bad(u64, String),
}

/// Runs `body` with a reader of `input` whose lines are split on another
/// thread, so that reading overlaps the checks of the lines before.
pub(super) fn with_reader<T>(
    input: impl Read + Send,
    body: impl FnOnce(&mut BundleReader) -> T,
) -> T {
    let (sender, batches) = mpsc::sync_channel(READ_AHEAD_BATCHES);
    std::thread::scope(|scope| {
        scope.spawn(move || LineSplitter::new(input).run(&sender));
        // Dropped before the scope joins the splitter, which then stops.
        let mut reader = BundleReader {
            batches,
            batch: Vec::new().into_iter(),
            line: 0,
            seen: Vec::new(),
            sections: Vec::new(),
            version: None,
            pending: None,
        };
        body(&mut reader)
    })
}

/// Reads a bundle's lines as events.
pub(super) struct BundleReader {
    batches: mpsc::Receiver<io::Result<Vec<RawLine>>>,
    batch: std::vec::IntoIter<RawLine>,
    /// The number of the last line read.
    pub(super) line: u64,
    seen: Vec<LineDigest>,
    /// The log sections read so far, the last one open; none unless the
    /// version signs them.
    sections: Vec<SectionHasher>,
    /// The version the head line named.
    version: Option<Version>,
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

    pub(super) fn next_event(&mut self) -> io::Result<Option<Event>> {
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
    pub(super) fn entries(&mut self, first: u64, bytes: LineRef) -> io::Result<Event> {
        self.hash_entry(&bytes);
        let mut lines = vec![(first, bytes)];
        while lines.len() < CHUNK {
            match self.read_line()? {
                Some((number, Ok(bytes))) if bytes.starts_with(ENTRY_PREFIX) => {
                    self.hash_entry(&bytes);
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

    /// Whether the head named a version whose end line signs every line.
    fn signs_every_line(&self) -> bool {
        self.version.is_some_and(Version::signs_every_line)
    }

    /// Adds an entry line's payload flag to its section's digest; one
    /// outside any section
    /// is a finding of the audit already.
    fn hash_entry(&mut self, bytes: &[u8]) {
        if let Some(section) = self.sections.last_mut() {
            // A line not laid out as an entry line is a finding of its own.
            section.entry(entry_line_has_payload(bytes).unwrap_or(false));
        }
    }

    pub(super) fn other(&mut self, number: u64, bytes: &[u8]) -> Event {
        let line: Line = match serde_json::from_slice(bytes) {
            Ok(line) => line,
            Err(e) => return Event::Bad(number, format!("not a bundle line: {e}")),
        };
        if !canonical::is_canonical(bytes) {
            return Event::Bad(number, "the line is not in RFC 8785 form".into());
        }
        // Read before this line: only a head line sets the version.
        let signs_every_line = self.signs_every_line();
        let mut digested = |event| {
            self.seen.push(LineDigest {
                line: number,
                sha256: sha256_hex(bytes),
            });
            event
        };
        match line {
            Line::Bundle(head) => {
                self.version = self.version.or_else(|| Version::of(&head.format));
                digested(Event::Head(number, head))
            }
            Line::Log(log) => {
                if signs_every_line {
                    self.sections.push(SectionHasher::new(number));
                }
                digested(Event::Log(number, log))
            }
            Line::Purge(purge) => digested(Event::Purge(number, purge)),
            Line::Checkpoint { note } => {
                if let Some(section) = self.sections.last_mut() {
                    section.checkpoint(bytes);
                }
                Event::Checkpoint(number, note)
            }
            Line::Equivocation { proof } => {
                if signs_every_line {
                    digested(Event::Equivocation(number, proof))
                } else {
                    Event::Equivocation(number, proof)
                }
            }
            // A canonical entry line starts with the prefix; this one did not.
            Line::Entry { .. } => Event::Bad(number, "the line is not in RFC 8785 form".into()),
            Line::End {
                digests,
                lines,
                sections,
                signature,
                signer,
            } => Event::End {
                line: number,
                body: EndBody {
                    digests,
                    lines,
                    sections,
                    signer,
                },
                signature,
                seen: std::mem::take(&mut self.seen),
                sections: std::mem::take(&mut self.sections)
                    .into_iter()
                    .map(SectionHasher::finish)
                    .collect(),
            },
        }
    }
}
