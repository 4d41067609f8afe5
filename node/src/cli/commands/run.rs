//! `concord run`: the node until SIGINT or SIGTERM.

use std::path::Path;

use crate::cli::exit::{CliError, CliResult, FAILURE};
use crate::home::Home;
use crate::own_log::ForkRisk;

pub fn run(dir: &Path, fork_risk: ForkRisk) -> CliResult {
    let home = Home::new(dir);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(FAILURE, e))?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signals.cancel();
        });
        crate::run::run(&home, fork_risk, shutdown).await
    })?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
