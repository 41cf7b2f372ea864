//! The `kubernetes` Service's Endpoints and EndpointSlice: exactly the live
//! servers.
//!
//! Each server holds a key `/registry/masterleases/<ip>`
//! ([`masterleases`]) attached to a datastore lease of 15 s that it keeps
//! alive every 5 s (kube-apiserver's
//! lease endpoint reconciler works the same way). Every server reconciles the
//! Endpoints and EndpointSlice from the set of live keys every 5 s, so a
//! server that dies drops out when its lease expires: within 15–20 s.
//! Must not list a server whose lease has expired.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use std::sync::Arc;

use crate::apiserver::handlers::Api;
use crate::apiserver::masterleases;
use edge_apimachinery::resources::find;
use edge_apimachinery::status::ApiError;
use edge_datastore::{DatastoreError, LeaseId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The datastore lease a server's endpoint key hangs on.
pub const MASTER_LEASE_TTL: Duration = Duration::from_secs(15);
const RENEW: Duration = Duration::from_secs(5);

/// Keeps this server's endpoint key alive.
/// `changed` is notified whenever this server's key was (re)written, so the
/// reconciler need not wait for its next period.
pub async fn announce(
    api: &Api,
    ip: IpAddr,
    port: u16,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) {
    let store = api.objects.datastore();
    let key = masterleases::key(ip);
    let value = json!({"ip": ip.to_string(), "port": port})
        .to_string()
        .into_bytes();
    let mut lease: Option<LeaseId> = None;
    let mut failing = false;
    loop {
        match renew(store, &key, &value, &mut lease).await {
            Ok(wrote) => {
                failing = false;
                if wrote {
                    changed.notify_one();
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot announce this server's endpoint; retrying");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(RENEW) => {}
        }
    }
    // Leaving: drop the key at once rather than after the lease runs out.
    if let Some(id) = lease {
        let _ = store.lease_revoke(id).await;
    }
}

async fn renew(
    store: &edge_datastore::Store,
    key: &str,
    value: &[u8],
    lease: &mut Option<LeaseId>,
) -> Result<bool, DatastoreError> {
    if let Some(id) = *lease {
        match store.lease_keepalive(id).await {
            // The key may have been deleted by hand; then put it back below.
            Ok(()) if store.get(key).await?.1.is_some() => return Ok(false),
            Ok(()) => {}
            Err(DatastoreError::LeaseNotFound { .. }) => *lease = None,
            Err(e) => return Err(e),
        }
    }
    let id = match *lease {
        Some(id) => id,
        None => {
            let id = store.lease_grant(MASTER_LEASE_TTL).await?;
            *lease = Some(id);
            id
        }
    };
    // Replace whatever key is there with one on our lease.
    if let (_, Some(old)) = store.get(key).await? {
        return match store
            .update(key, value.to_vec(), old.mod_revision, id)
            .await
        {
            Ok(_) | Err(DatastoreError::Conflict { .. } | DatastoreError::NotFound { .. }) => {
                Ok(true)
            }
            Err(e) => Err(e),
        };
    }
    match store.create(key, value.to_vec(), id).await {
        Ok(_) | Err(DatastoreError::KeyExists { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

/// The live servers' addresses, sorted, and the port they share.
async fn live(api: &Api) -> Result<(Vec<String>, u16), ApiError> {
    let servers = masterleases::live_servers(api).await?;
    let port = servers.last().map_or(6443, |s| s.port());
    let mut ips: Vec<String> = servers.iter().map(|s| s.ip().to_string()).collect();
    ips.sort();
    Ok((ips, port))
}

/// Makes the `kubernetes` Endpoints and EndpointSlice list the live servers.
pub async fn reconcile(api: &Api, changed: Arc<Notify>, cancel: CancellationToken) {
    let mut failing = false;
    loop {
        match reconcile_once(api).await {
            Ok(()) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e.message, "cannot update the kubernetes endpoints; retrying");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = changed.notified() => {}
            () = tokio::time::sleep(RENEW) => {}
        }
    }
}

/// One pass of the reconciler.
pub async fn reconcile_once(api: &Api) -> Result<(), ApiError> {
    let endpoints = find("", "v1", "endpoints").expect("endpoints are served");
    let slices =
        find("discovery.k8s.io", "v1", "endpointslices").expect("endpointslices are served");
    {
        let (ips, port) = live(api).await?;
        let subsets = if ips.is_empty() {
            json!([])
        } else {
            json!([{
                "addresses": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}]
            }])
        };
        let updated = api
            .update_with(endpoints, Some("default"), "kubernetes", |ep| {
                if ep["subsets"] == subsets {
                    return false;
                }
                ep["subsets"] = subsets.clone();
                true
            })
            .await?;
        if updated.is_none() {
            super::builtin::ensure(
                api,
                endpoints,
                Some("default"),
                json!({"metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}, "subsets": subsets}),
            )
            .await?;
        }
        let family = if ips.first().is_some_and(|ip| ip.contains(':')) {
            "IPv6"
        } else {
            "IPv4"
        };
        let slice_endpoints: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false}}))
            .collect();
        let ports = json!([{"name": "https", "port": port, "protocol": "TCP"}]);
        let updated = api
            .update_with(slices, Some("default"), "kubernetes", |s| {
                if s["endpoints"] == json!(slice_endpoints) && s["ports"] == ports {
                    return false;
                }
                s["endpoints"] = json!(slice_endpoints);
                s["ports"] = ports.clone();
                s["addressType"] = json!(family);
                true
            })
            .await?;
        if updated.is_none() {
            super::builtin::ensure(
                api,
                slices,
                Some("default"),
                json!({
                    "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "edged"}},
                    "addressType": family,
                    "endpoints": slice_endpoints,
                    "ports": ports,
                }),
            )
            .await?;
        }
    }
    Ok(())
}
