//! `concord demo`: the Pacific Alliance federation on loopback.

use std::time::Duration;

use crate::cli::exit::{CliError, CliResult, FAILURE};
use crate::cli::{DemoArgs, LogFormat};
use crate::demo::Options;

pub fn demo(args: &DemoArgs, log_format: LogFormat) -> CliResult {
    let options = Options {
        log_json: matches!(log_format, LogFormat::Json),
        dir: args.dir.clone(),
        exit_after_sync: args.exit_after_sync,
        timeout: Duration::from_secs(args.timeout_secs),
        keep: args.keep,
    };
    crate::demo::run(&options).map_err(|e| CliError::new(FAILURE, e))
}
