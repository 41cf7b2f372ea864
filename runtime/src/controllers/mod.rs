//! The server's own control loops: the objects a cluster starts with, this
//! server's Node and its heartbeat Lease, the `kubernetes` Service endpoints,
//! namespace deletion, node liveness, compaction, and the leader election
//! that makes the singleton loops run on exactly one server.
//!
//! Owns background work that keeps the API's objects true. Each loop is a
//! task that survives datastore outages (it logs, waits and retries) and ends
//! when the server's cancellation token fires. Must not bypass the API's
//! storage rules: loops write through [`crate::apiserver::handlers::Api`].

pub mod builtin;
pub mod compaction;
pub mod endpoints;
pub mod leader;
pub mod namespace;
pub mod node;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `step` every `period` until cancelled; errors are logged (the first
/// of a run of failures at warn, the rest at debug) and the loop goes on.
pub async fn every<F, Fut, E>(
    name: &'static str,
    period: Duration,
    cancel: CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut failing = false;
    loop {
        match step().await {
            Ok(()) => {
                if failing {
                    tracing::info!(controller = name, "recovered");
                }
                failing = false;
            }
            Err(e) => {
                if failing {
                    tracing::debug!(controller = name, error = %e, "still failing");
                } else {
                    tracing::warn!(controller = name, error = %e, "failed; retrying");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
    }
}
