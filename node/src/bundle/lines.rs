//! Splitting a bundle into lines, on a thread of its own.
//!
//! The input is read in blocks straight into buffers that the lines then
//! point into: no line is copied or allocated on its own, and a block's
//! buffer goes back to the splitter for the next read once no line of it is
//! held. A bundle of a million entries is two gigabytes; copying it line by
//! line cost more than reading it.

use std::io::{self, Read};
use std::ops::{Deref, Range};
use std::sync::{Arc, mpsc};

/// The longest line a reader accepts: an entry with the largest payload is
/// about 350 KiB of base64; a roster chain stays far below this.
pub const MAX_LINE: usize = 4 << 20;

/// Lines are read ahead in blocks of about this many bytes (longer when
/// one line is)...
pub const READ_AHEAD_BYTES: usize = 1 << 20;
/// ...or of this many lines, when they are short.
const READ_AHEAD_LINES: usize = 4096;
/// Blocks read ahead of the one being checked.
pub const READ_AHEAD_BATCHES: usize = 2;

/// One line without its newline, where it lies in the block read.
pub struct LineRef {
    block: Arc<Block>,
    range: Range<usize>,
}

impl Deref for LineRef {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.block.bytes[self.range.clone()]
    }
}

/// A buffer of whole lines; handed back to the splitter when dropped.
struct Block {
    bytes: Vec<u8>,
    spare: mpsc::Sender<Vec<u8>>,
}

impl Drop for Block {
    fn drop(&mut self) {
        // The splitter may have ended; the buffer is then simply freed.
        let _ = self.spare.send(std::mem::take(&mut self.bytes));
    }
}

/// One line as read, newline removed, with its 1-based number; or why it
/// is unusable.
pub type RawLine = (u64, Result<LineRef, String>);

/// A line found in the block being filled: its number, and where it lies
/// or why it is unusable.
type Split = (u64, Result<Range<usize>, String>);

/// Reads `input` and sends its lines in batches, one block each.
pub struct LineSplitter<R: Read> {
    input: R,
    /// The number of the last line split off.
    line: u64,
    /// The block being filled; bytes past `filled` are stale.
    buf: Vec<u8>,
    filled: usize,
    ended: bool,
    /// Nothing more is split: the input ended, or a line longer than
    /// [`MAX_LINE`] was met.
    stopped: bool,
    spare_sender: mpsc::Sender<Vec<u8>>,
    spare: mpsc::Receiver<Vec<u8>>,
}

impl<R: Read> LineSplitter<R> {
    pub fn new(input: R) -> Self {
        let (spare_sender, spare) = mpsc::channel();
        Self {
            input,
            line: 0,
            buf: Vec::new(),
            filled: 0,
            ended: false,
            stopped: false,
            spare_sender,
            spare,
        }
    }

    /// The next block's lines; `None` once everything was split. A line
    /// longer than [`MAX_LINE`] is the last one: the input may be a stream
    /// that never ends, and a bundle with such a line is refused whatever
    /// follows it. A last line without its newline is reported truncated.
    pub fn next_batch(&mut self) -> io::Result<Option<Vec<RawLine>>> {
        if self.stopped {
            return Ok(None);
        }
        let mut lines: Vec<Split> = Vec::new();
        // Where the line being split starts, and how far it was searched.
        let mut start = 0;
        let mut searched = 0;
        loop {
            while lines.len() < READ_AHEAD_LINES {
                let Some(at) = memchr::memchr(b'\n', &self.buf[searched..self.filled]) else {
                    searched = self.filled;
                    break;
                };
                let end = searched + at;
                if end - start > MAX_LINE {
                    return Ok(Some(self.too_long(lines)));
                }
                self.line += 1;
                lines.push((self.line, Ok(start..end)));
                start = end + 1;
                searched = start;
            }
            if self.filled - start > MAX_LINE {
                return Ok(Some(self.too_long(lines)));
            }
            let full = lines.len() >= READ_AHEAD_LINES || self.filled >= READ_AHEAD_BYTES;
            if full && !lines.is_empty() {
                return Ok(Some(self.ship(lines, start)));
            }
            if self.ended {
                self.stopped = true;
                if start < self.filled {
                    self.line += 1;
                    lines.push((
                        self.line,
                        Err("the line has no newline: the bundle is truncated".into()),
                    ));
                }
                return Ok((!lines.is_empty()).then(|| self.ship(lines, self.filled)));
            }
            self.read_more()?;
        }
    }

    /// Reads more into the block, straight from the input: up to the block
    /// size, or a little more when one line is longer.
    fn read_more(&mut self) -> io::Result<()> {
        const AT_LEAST: usize = 64 << 10;
        let want = (self.filled + AT_LEAST).max(READ_AHEAD_BYTES);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.filled..want]) {
                Ok(0) => self.ended = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    /// The lines split so far, then the next one reported as too long;
    /// nothing more is read.
    fn too_long(&mut self, mut lines: Vec<Split>) -> Vec<RawLine> {
        self.stopped = true;
        self.line += 1;
        lines.push((
            self.line,
            Err(format!(
                "the line is longer than {MAX_LINE} bytes; nothing after it is read"
            )),
        ));
        // Nothing is split after it, so none of it is kept for the next block.
        self.ship(lines, self.filled)
    }

    /// Hands the block over with its `lines`; the bytes from `rest` on
    /// begin the next block.
    fn ship(&mut self, lines: Vec<Split>, rest: usize) -> Vec<RawLine> {
        let tail = rest..self.filled;
        let mut next = self.spare.try_recv().unwrap_or_default();
        if next.len() < tail.len() {
            next.resize(tail.len(), 0);
        }
        next[..tail.len()].copy_from_slice(&self.buf[tail.clone()]);
        self.filled = tail.len();
        let block = Arc::new(Block {
            bytes: std::mem::replace(&mut self.buf, next),
            spare: self.spare_sender.clone(),
        });
        lines
            .into_iter()
            .map(|(number, line)| {
                let line = line.map(|range| LineRef {
                    block: Arc::clone(&block),
                    range,
                });
                (number, line)
            })
            .collect()
    }

    /// Sends the batches until the input ends, fails, or the reader hangs
    /// up.
    pub fn run(mut self, batches: &mpsc::SyncSender<io::Result<Vec<RawLine>>>) {
        loop {
            let batch = match self.next_batch() {
                Ok(Some(batch)) => Ok(batch),
                Ok(None) => return,
                Err(e) => Err(e),
            };
            let failed = batch.is_err();
            if batches.send(batch).is_err() || failed {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `input`, as text or as the reason it is unusable.
    fn split(input: impl Read) -> Vec<(u64, Result<String, String>)> {
        let mut splitter = LineSplitter::new(input);
        let mut all = Vec::new();
        while let Some(batch) = splitter.next_batch().expect("reads") {
            all.extend(batch.into_iter().map(|(number, line)| {
                (
                    number,
                    line.map(|l| String::from_utf8(l.to_vec()).expect("text")),
                )
            }));
        }
        all
    }

    #[test]
    fn lines_are_split_across_blocks_whole_and_numbered() {
        // Lines of every length around the block size, so that some end
        // exactly at a block's end and some straddle it.
        let lines: Vec<String> = (0..3000)
            .map(|i| "x".repeat((i * 997) % 2500))
            .chain(std::iter::once("y".repeat(READ_AHEAD_BYTES + 5)))
            .chain((0..10).map(|i| i.to_string()))
            .collect();
        let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let expected: Vec<_> = (1..).zip(lines.iter().map(|l| Ok(l.clone()))).collect();
        assert_eq!(split(input.as_bytes()), expected);
        // The same through reads of at most 1,000 bytes.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1000).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert_eq!(split(Trickle(input.as_bytes())), expected);
    }

    #[test]
    fn many_short_lines_come_in_several_batches() {
        let input = "{}\n".repeat(3 * READ_AHEAD_LINES + 1);
        let mut splitter = LineSplitter::new(input.as_bytes());
        let mut sizes = Vec::new();
        while let Some(batch) = splitter.next_batch().expect("reads") {
            sizes.push(batch.len());
        }
        assert_eq!(
            sizes,
            [READ_AHEAD_LINES; 3]
                .into_iter()
                .chain([1])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_last_line_without_newline_is_truncated() {
        assert_eq!(
            split(&b"{}\n{\"a\""[..]),
            [
                (1, Ok("{}".to_string())),
                (
                    2,
                    Err("the line has no newline: the bundle is truncated".to_string())
                )
            ]
        );
        assert_eq!(split(&b""[..]), []);
    }

    #[test]
    fn a_line_longer_than_the_limit_ends_the_reading() {
        let endless = split(io::repeat(b'x'));
        assert_eq!(endless.len(), 1);
        assert!(
            endless[0]
                .1
                .as_ref()
                .is_err_and(|why| why.starts_with("the line is longer than"))
        );

        let mut input = b"{}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.extend_from_slice(b"\n{}\n");
        let lines = split(&input[..]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], (1, Ok("{}".to_string())));
        assert!(lines[1].0 == 2 && lines[1].1.is_err());

        // A line of exactly the limit is accepted.
        let mut input = vec![b'x'; MAX_LINE];
        input.push(b'\n');
        let lines = split(&input[..]);
        assert!(lines.len() == 1 && lines[0].1.as_ref().is_ok_and(|l| l.len() == MAX_LINE));
    }

    #[test]
    fn blocks_are_reused_once_their_lines_are_dropped() {
        let input = format!("{}\n", "z".repeat(1000)).repeat(3000);
        let mut splitter = LineSplitter::new(input.as_bytes());
        let first = splitter.next_batch().expect("reads").expect("lines");
        let first_buffer = first[0].1.as_ref().expect("line").block.bytes.as_ptr();
        drop(first);
        let second = splitter.next_batch().expect("reads").expect("lines");
        drop(second);
        let third = splitter.next_batch().expect("reads").expect("lines");
        let third_buffer = third[0].1.as_ref().expect("line").block.bytes.as_ptr();
        assert_eq!(first_buffer, third_buffer);
    }
}
