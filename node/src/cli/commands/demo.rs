//! `concord demo`: the Pacific Alliance federation on loopback.

use crate::cli::exit::{CliError, CliResult, FAILURE};
use crate::demo::DemoArgs;

pub fn demo(args: &DemoArgs) -> CliResult {
    crate::demo::run(args).map_err(|e| CliError::new(FAILURE, e))
}
