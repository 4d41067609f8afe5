//! The API's HTTP/1.1 server: accepting connections up to a cap, each
//! served by hyper with a header read timeout, all tracked until shutdown.
//!
//! `axum::serve` has neither: a client that opens connections and never
//! finishes a request held a descriptor each until the node hit its file
//! limit and stopped answering anyone. Here a connection is accepted only
//! with one of [`ApiLimits::max_connections`] permits in hand (past the
//! cap, new ones wait in the kernel's backlog), and hyper closes one that
//! does not send a request's headers within
//! [`ApiLimits::header_timeout_ms`] of connecting or of its previous
//! request. Bodies have their own deadline ([`super::limits`]). Nothing
//! here bounds how long a response may stream, so a long-lived answer (a
//! change feed) only holds its permit.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::home::ApiLimits;

/// Pause after a failed accept (out of descriptors, say) before the next,
/// so that the loop does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` fires, then lets every
/// open connection finish its request and waits for it.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ApiLimits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.get()));
    let connections = TaskTracker::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms.get()));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => {
                permit.expect("the semaphore is never closed")
            }
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.cancelled() => {
                    // Finish the request under way, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "API connection ended");
            }
            drop(permit);
        });
    }
    connections.close();
    connections.wait().await;
}
