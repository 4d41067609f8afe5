//! [`BundleWriter`]: a bundle written line by line, signed at its end.

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::canonical;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{SignedEntry, WireEntry};
use concord_protocol::equivocation::EquivocationProof;
use concord_protocol::note::NoteVerifier;
use concord_protocol::origin::Origin;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::store::LogHead;

use super::format::{
    EndBody, Head, Line, LineDigest, LogLine, PurgeLine, SectionHasher, SignerLine, Version,
    end_message, entry_line, sha256_hex,
};

/// Writes a bundle line by line, in the version its head names;
/// [`BundleWriter::finish`] signs it.
pub struct BundleWriter<W: Write> {
    out: W,
    version: Version,
    lines: u64,
    digests: Vec<LineDigest>,
    /// The log sections so far, the last one open (signed from v2 on).
    sections: Vec<SectionHasher>,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle with its head line.
    ///
    /// # Errors
    /// The writer's, or a head whose `format` names no known version.
    pub fn new(out: W, head: &Head) -> io::Result<Self> {
        let version = Version::of(&head.format).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown bundle format {:?}", head.format),
            )
        })?;
        let mut writer = Self {
            out,
            version,
            lines: 0,
            digests: Vec::new(),
            sections: Vec::new(),
        };
        writer.write(&Line::Bundle(head.clone()), true)?;
        Ok(writer)
    }

    pub(super) fn write(&mut self, line: &Line, digested: bool) -> io::Result<()> {
        let bytes = canonical::to_canonical_vec(line).map_err(io::Error::other)?;
        self.write_raw(&bytes, digested)
    }

    /// The open log section.
    fn section(&mut self) -> io::Result<&mut SectionHasher> {
        self.sections.last_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a checkpoint or entry line outside any log section",
            )
        })
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
        self.sections.push(SectionHasher::new(self.lines + 1));
        self.write(
            &Line::Log(LogLine {
                origin: origin.clone(),
                root: BASE64.encode(head.root),
                size: head.size,
            }),
            true,
        )
    }

    /// A checkpoint of the current log (before its entries), with every
    /// cosignature it holds.
    ///
    /// # Errors
    /// The writer's, or no log section begun.
    pub fn checkpoint(&mut self, checkpoint: &SignedCheckpoint) -> io::Result<()> {
        let note = String::from_utf8(checkpoint.to_bytes()).map_err(io::Error::other)?;
        let bytes =
            canonical::to_canonical_vec(&Line::Checkpoint { note }).map_err(io::Error::other)?;
        self.section()?.checkpoint(&bytes);
        self.write_raw(&bytes, false)
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
    /// The writer's, or no log section begun.
    pub fn entry(&mut self, entry: &SignedEntry, payload: Option<&[u8]>) -> io::Result<()> {
        let wire = WireEntry {
            header: BASE64.encode(&entry.header_bytes),
            signature: BASE64.encode(entry.signature),
            payload: payload.map(|p| BASE64.encode(p)),
        };
        let bytes = entry_line(&wire);
        self.section()?.entry(payload.is_some());
        self.write_raw(&bytes, false)
    }

    /// An equivocation proof (after every log).
    ///
    /// # Errors
    /// The writer's.
    pub fn equivocation(&mut self, proof: &EquivocationProof) -> io::Result<()> {
        let digested = self.version.signs_every_line();
        self.write(
            &Line::Equivocation {
                proof: proof.clone(),
            },
            digested,
        )
    }

    /// Signs and writes the end line; returns the inner writer, flushed.
    ///
    /// # Errors
    /// The writer's.
    pub fn finish(mut self, key: &SigningKey, name: &str) -> io::Result<W> {
        let verifier = NoteVerifier::new(name, key.verifying_key()).map_err(io::Error::other)?;
        let sections = std::mem::take(&mut self.sections);
        let body = EndBody {
            digests: std::mem::take(&mut self.digests),
            lines: self.lines,
            sections: self
                .version
                .signs_every_line()
                .then(|| sections.into_iter().map(SectionHasher::finish).collect()),
            signer: SignerLine {
                key_id: hex::encode(verifier.key_id()),
                name: name.to_owned(),
            },
        };
        let signature = key.sign(&end_message(self.version, &body));
        let end = Line::End {
            digests: body.digests,
            lines: body.lines,
            sections: body.sections,
            signature: BASE64.encode(signature.to_bytes()),
            signer: body.signer,
        };
        self.write(&end, false)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
