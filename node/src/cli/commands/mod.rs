//! One file per command (or family of commands): read the arguments, call
//! the room that does the work, print its report, choose the exit code.

pub mod audit;
pub mod bundle;
pub mod consult;
pub mod demo;
pub mod init;
pub mod publish;
pub mod purge;
pub mod quarantine;
pub mod read;
pub mod roster;
pub mod run;
pub mod screen;
pub mod token;

use std::path::Path;

use serde::Serialize;

use super::exit::CliError;
use crate::query::MAX_BODY_BYTES;
use crate::stdout::StdoutError;

fn print_json<T: Serialize>(value: &T) -> Result<(), StdoutError> {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialise")
    )
}

/// The bytes of `path` (`-`: standard input), no more than a record may be.
fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let limit = MAX_BODY_BYTES as u64 + 1;
    let result = if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| CliError::input(format!("reading {}: {e}", path.display())))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(CliError::input(format!(
            "{} is larger than the {MAX_BODY_BYTES} bytes a record may have",
            path.display()
        )));
    }
    Ok(bytes)
}
