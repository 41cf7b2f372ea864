//! Leader election for the singleton loops (node liveness, namespace
//! deletion, compaction), through a Lease in `kube-system` as Kubernetes
//! controllers do: the holder renews every 2 s; another server takes over
//! when the lease is 15 s stale.
//!
//! Owns the `edge-controller` Lease. Must not report leadership it has not
//! renewed within the lease duration.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::apiserver::handlers::Api;
use edge_apimachinery::resources::find;
use edge_apimachinery::semantics::micro_time_string;
use edge_apimachinery::status::ApiError;

/// Name of the lease in `kube-system`.
pub const LEASE_NAME: &str = "edge-controller";
/// How long a leader's claim lasts without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews, and others retry.
pub const RETRY: Duration = Duration::from_secs(2);

/// Campaigns until cancelled; `leader` says whether this server leads now.
pub async fn run(
    api: &Api,
    identity: &str,
    leader: watch::Sender<bool>,
    cancel: CancellationToken,
) {
    let mut failing = false;
    loop {
        let leading = match try_acquire(api, identity, jiff::Timestamp::now()).await {
            Ok(l) => {
                failing = false;
                l
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e.message, "leader election cannot reach the API; not leading");
                }
                failing = true;
                false
            }
        };
        if *leader.borrow() != leading {
            tracing::info!(identity, leading, "leadership changed");
            let _ = leader.send(leading);
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
    let _ = leader.send(false);
    // Hand over at once on a clean stop.
    let _ = release(api, identity).await;
}

/// One campaign at time `now`: takes the lease when it is free or stale,
/// renews it when held. Returns whether `identity` holds it now.
pub(crate) async fn try_acquire(
    api: &Api,
    identity: &str,
    now: jiff::Timestamp,
) -> Result<bool, ApiError> {
    let leases = find("coordination.k8s.io", "v1", "leases").expect("leases are served");
    let stamp = micro_time_string(now);
    let duration = LEASE_DURATION.as_secs() as i64;
    let mut ours = false;
    let result = api
        .update_with(leases, Some("kube-system"), LEASE_NAME, |lease| {
            let holder = lease["spec"]["holderIdentity"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let renewed = lease["spec"]["renewTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let expired = holder.is_empty()
                || renewed.is_none_or(|r| now.duration_since(r).as_secs() >= duration);
            if holder != identity && !expired {
                ours = false;
                return false;
            }
            ours = true;
            if holder != identity {
                let transitions = lease["spec"]["leaseTransitions"].as_i64().unwrap_or(0);
                lease["spec"]["leaseTransitions"] = json!(transitions + 1);
                lease["spec"]["acquireTime"] = json!(stamp);
                lease["spec"]["holderIdentity"] = json!(identity);
            }
            lease["spec"]["leaseDurationSeconds"] = json!(duration);
            lease["spec"]["renewTime"] = json!(stamp);
            true
        })
        .await?;
    if result.is_some() {
        return Ok(ours);
    }
    let lease = json!({
        "metadata": {"name": LEASE_NAME},
        "spec": {"holderIdentity": identity, "leaseDurationSeconds": duration, "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}
    });
    match api
        .create_object(leases, Some("kube-system"), lease, false)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

async fn release(api: &Api, identity: &str) -> Result<(), ApiError> {
    let leases = find("coordination.k8s.io", "v1", "leases").expect("leases are served");
    api.update_with(leases, Some("kube-system"), LEASE_NAME, |lease| {
        if lease["spec"]["holderIdentity"] != identity {
            return false;
        }
        lease["spec"]["holderIdentity"] = json!("");
        true
    })
    .await
    .map(drop)
}
