//! History compaction, on the leader: every interval ([`INTERVAL`], 5
//! minutes, on a server) the datastore is compacted to the revision it had
//! one interval before, as kube-apiserver compacts etcd. Watches and
//! paginated lists therefore have at least one interval of history, and the
//! log does not grow without bound (the first complaint of K3s users on
//! external SQL datastores).
//!
//! Owns calling [`edge_datastore::Store::compact`]. Must not compact past
//! a revision younger than one interval.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use edge_datastore::{Revision, Store};

/// Time between compactions, and the history kept, on a server.
pub const INTERVAL: Duration = Duration::from_secs(300);

/// Every `interval` until cancelled, while `leader` says this server leads:
/// compacts to the revision recorded at the previous tick, then records the
/// current one. A tick as non-leader forgets the recorded revision, so a new
/// leader first waits a whole interval.
pub async fn run(
    store: &Store,
    interval: Duration,
    leader: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    let mut previous: Option<Revision> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if !*leader.borrow() {
            previous = None;
            continue;
        }
        let current = match store.current_revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "compaction skipped");
                continue;
            }
        };
        if let Some(target) = previous {
            match store.compact(target).await {
                Ok(()) => tracing::debug!(revision = target, "compacted"),
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
        previous = Some(current);
    }
}
