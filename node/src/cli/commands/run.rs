//! `concord run`: the node until SIGINT or SIGTERM.

use std::path::Path;

use crate::cli::exit::{CliError, CliResult, FAILURE};
use crate::home::Home;
use crate::own_log::ForkRisk;

pub fn run(dir: &Path, fork_risk: ForkRisk, stop_with_parent: bool) -> CliResult {
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
        if stop_with_parent {
            let orphaned = shutdown.clone();
            tokio::spawn(async move {
                wait_for_parent_to_end().await;
                tracing::info!("the process that started this node ended; stopping");
                orphaned.cancel();
            });
        }
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

/// Returns once this process's parent has ended: the kernel then gives the
/// process a new parent, so the parent's id changes. Polling needs no
/// `prctl` and so no unsafe code; a node stops within a second.
async fn wait_for_parent_to_end() {
    let parent = std::os::unix::process::parent_id();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}
