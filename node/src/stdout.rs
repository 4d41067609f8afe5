//! Standard output of the commands and the demo, which its reader may close
//! before everything was written (`concord list … | head -1`).
//!
//! Rust ignores `SIGPIPE`, so a write to a closed pipe fails with `EPIPE`
//! and `println!` panics on it. Everything the node prints for its user
//! goes through [`write`] instead (by this module's `out!` and `outln!`), which turns that into
//! [`StdoutError::Closed`]: the command stops where it is, and the CLI
//! ends quietly with exit 0, as a reader that took what it wanted expects.

use std::io::Write as _;

/// Why standard output took no more.
#[derive(Debug, thiserror::Error)]
pub enum StdoutError {
    /// The reader went away (`EPIPE`): not a failure of the command.
    #[error("standard output was closed by its reader")]
    Closed,
    /// Any other failure to write (a full disk behind a redirection, say).
    #[error("writing to standard output: {0}")]
    Io(#[source] std::io::Error),
}

/// Writes `args` to standard output.
///
/// # Errors
/// [`StdoutError::Closed`] once the reader has gone, [`StdoutError::Io`]
/// for any other failure.
pub fn write(args: std::fmt::Arguments<'_>) -> Result<(), StdoutError> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => StdoutError::Closed,
            _ => StdoutError::Io(e),
        })
}

/// `print!` that returns a [`StdoutError`] instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(::std::format_args!($($arg)*))
    };
}

/// `println!` that returns a [`StdoutError`] instead of panicking.
macro_rules! outln {
    () => {
        $crate::stdout::write(::std::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(::std::format_args!("{}\n", ::std::format_args!($($arg)*)))
    };
}
