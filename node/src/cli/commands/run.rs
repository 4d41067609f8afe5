//! `concord run`: the node until SIGINT or SIGTERM.

use std::path::Path;

use crate::cli::exit::{CliError, CliResult, FAILURE};
use crate::home::Home;
use crate::own_log::ForkRisk;

pub fn run(dir: &Path, fork_risk: ForkRisk, stop_with_parent: Option<u32>) -> CliResult {
    let home = Home::new(dir);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(FAILURE, e))?;
    let outcome = runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signals.cancel();
        });
        if let Some(parent) = stop_with_parent {
            let orphaned = shutdown.clone();
            tokio::spawn(async move {
                wait_for_parent_to_end(parent).await;
                tracing::info!("the process that started this node ended; stopping");
                orphaned.cancel();
            });
        }
        crate::run::run(&home, fork_risk, shutdown).await
    });
    // The node has stopped and flushed; a task still parked (a signal
    // listener that never fired) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    outcome?;
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

/// Returns once `parent` is no longer this process's parent: when a parent
/// ends, the kernel gives the process another. Compared with the id the
/// starter passed, not with the parent seen at start, which may already be
/// the new one. Polling needs no `prctl` and so no unsafe code; a node
/// stops within a second.
async fn wait_for_parent_to_end(parent: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}
