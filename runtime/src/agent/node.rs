//! The agent's Node over the API: registration (labels, taints,
//! addresses; the server allocates the podCIDR from `--cluster-cidr`) and
//! the heartbeat (the Lease every `--node-status-update-frequency`, Ready
//! when the leader marked it Unknown, and registering again when someone
//! deleted the Node).
//!
//! Owns the agent's writes of its Node and Lease. What those objects hold is
//! `crate::controllers::node`'s, shared with the servers' own nodes. Must
//! not write anything but its own Node and Lease (the API forbids it anyway).

use std::time::Duration;

use http::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::client::{ApiClient, CallError};
use crate::controllers::node::{self as shared, NodeSettings};

/// After a failed heartbeat, the next try comes this soon (not a whole
/// period later), so a lost server costs one short gap in renewals.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

fn node_path(name: &str) -> String {
    format!("/api/v1/nodes/{name}")
}

fn lease_path(name: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
}

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

/// Creates the Node or brings it up to date; returns it.
pub async fn register(api: &ApiClient, settings: &NodeSettings) -> Result<Value, CallError> {
    let wanted = shared::describe(settings);
    let name = settings.name.as_str();
    let mut last = None;
    for _ in 0..5 {
        let mut node = match api.get(&node_path(name)).await? {
            Some(node) => node,
            None => match api.call(Method::POST, "/api/v1/nodes", Some(&wanted)).await {
                Ok(node) => node,
                Err(e) if e.code() == Some(409) => continue,
                Err(e) => return Err(e),
            },
        };
        if !shared::merge_registration(&mut node, &wanted) {
            return Ok(node);
        }
        let status = node["status"].clone();
        let result = async {
            let mut stored = api.call(Method::PUT, &node_path(name), Some(&node)).await?;
            stored["status"] = status;
            api.call(
                Method::PUT,
                &format!("{}/status", node_path(name)),
                Some(&stored),
            )
            .await
        }
        .await;
        match result {
            Ok(node) => return Ok(node),
            Err(e) if e.code() == Some(409) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| CallError::Status {
        method: Method::PUT,
        path: node_path(name),
        code: 409,
        message: "too many concurrent writers".into(),
    }))
}

/// The heartbeat's memory between beats: the last Lease written, so a beat
/// is one write when nothing else changed.
#[derive(Debug, Default)]
struct Beat {
    lease: Option<Value>,
}

impl Beat {
    async fn renew_lease(
        &mut self,
        api: &ApiClient,
        name: &str,
        node_uid: Option<&str>,
    ) -> Result<(), CallError> {
        let now = jiff::Timestamp::now();
        if let Some(mut lease) = self.lease.take() {
            shared::renew(&mut lease, name, now);
            match api.call(Method::PUT, &lease_path(name), Some(&lease)).await {
                Ok(stored) => {
                    self.lease = Some(stored);
                    return Ok(());
                }
                // Someone else wrote it, or it is gone: read it again below.
                Err(e) if matches!(e.code(), Some(404 | 409)) => {}
                Err(e) => return Err(e),
            }
        }
        let stored = match api.get(&lease_path(name)).await? {
            Some(mut lease) => {
                shared::renew(&mut lease, name, now);
                api.call(Method::PUT, &lease_path(name), Some(&lease))
                    .await?
            }
            None => {
                let lease = shared::lease(name, now, node_uid);
                api.call(Method::POST, LEASES, Some(&lease)).await?
            }
        };
        self.lease = Some(stored);
        Ok(())
    }

    /// One heartbeat: renew the Lease, then make sure the Node exists and
    /// says Ready.
    async fn beat(&mut self, api: &ApiClient, settings: &NodeSettings) -> Result<(), CallError> {
        let name = settings.name.as_str();
        let node = match api.get(&node_path(name)).await? {
            Some(node) => node,
            None => {
                tracing::warn!(node = %name, "the Node was deleted; registering it again");
                self.lease = None;
                register(api, settings).await?
            }
        };
        self.renew_lease(api, name, node["metadata"]["uid"].as_str())
            .await?;
        let mut node = node;
        if shared::mark_ready(&mut node, jiff::Timestamp::now()) {
            api.call(
                Method::PUT,
                &format!("{}/status", node_path(name)),
                Some(&node),
            )
            .await?;
            tracing::info!(node = %name, "posted Ready");
        }
        Ok(())
    }
}

/// Beats every `period` until `cancel`; after a failure, again after
/// [`RETRY_AFTER_FAILURE`]. `on_beat` hears how long each beat took and
/// whether it succeeded (the load generator's latency figures).
pub async fn heartbeat(
    api: &ApiClient,
    settings: &NodeSettings,
    period: Duration,
    cancel: CancellationToken,
    on_beat: impl Fn(Duration, bool),
) {
    let mut state = Beat::default();
    let mut failing = false;
    loop {
        let started = std::time::Instant::now();
        let result = state.beat(api, settings).await;
        on_beat(started.elapsed(), result.is_ok());
        let wait = match &result {
            Ok(()) => {
                if failing {
                    tracing::info!(node = %settings.name, "heartbeat recovered");
                }
                failing = false;
                period
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(node = %settings.name, error = %e, "heartbeat failed; retrying");
                }
                failing = true;
                RETRY_AFTER_FAILURE
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
