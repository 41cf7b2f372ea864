//! Namespace lifecycle, on the leader: a namespace marked for deletion has its
//! objects deleted, then its `kubernetes` finalizer removed, then goes; every
//! active namespace gets a `default` ServiceAccount and the
//! [`ROOT_CA_CONFIGMAP`] ConfigMap (what kube-controller-manager's root CA
//! publisher provides: pods verify the API server with it).
//!
//! Owns the content of terminating namespaces and the data of
//! [`ROOT_CA_CONFIGMAP`]. Must not delete anything in a namespace that is not
//! marked for deletion.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::every;
use crate::apiserver::handlers::Api;
use edge_apimachinery::resources::{RESOURCES, find};
use edge_apimachinery::status::ApiError;

/// The ConfigMap in every namespace that holds the cluster's server CA.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// Runs the loop until cancelled. `server_ca_pem` is what
/// [`ROOT_CA_CONFIGMAP`] publishes under `ca.crt`.
pub async fn run(
    api: &Api,
    server_ca_pem: &str,
    leader: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    every("namespace", Duration::from_secs(1), cancel, || {
        let leader = *leader.borrow();
        async move {
            if leader {
                pass(api, server_ca_pem).await?;
            }
            Ok::<(), ApiError>(())
        }
    })
    .await;
}

/// One pass over every namespace: a terminating one is emptied, then
/// finalized; a live one gets its default ServiceAccount and
/// [`ROOT_CA_CONFIGMAP`].
pub async fn pass(api: &Api, server_ca_pem: &str) -> Result<(), ApiError> {
    let namespaces = find("", "v1", "namespaces").expect("namespaces are served");
    let all = api
        .objects
        .list(namespaces, None, 0, None, None)
        .await?
        .items;
    // Two reads per namespace, never a list of every ServiceAccount
    // or ConfigMap in the cluster: both helpers read their one
    // object first and write only when it is missing or changed.
    for ns in &all {
        let name = ns["metadata"]["name"].as_str().unwrap_or_default();
        if ns["metadata"].get("deletionTimestamp").is_some() {
            terminate(api, name).await?;
            continue;
        }
        let filled = async {
            super::builtin::ensure_default_service_account(api, name).await?;
            publish_root_ca(api, name, server_ca_pem).await
        };
        match filled.await {
            // Deleted since it was listed: it refuses new content
            // (403) or is gone (404); nothing to fill.
            Err(e) if e.code == 403 || e.code == 404 => {}
            other => other?,
        }
    }
    Ok(())
}

/// Creates [`ROOT_CA_CONFIGMAP`] in `namespace`, or puts the CA back into it
/// if someone changed or removed it (as kube-controller-manager does).
async fn publish_root_ca(api: &Api, namespace: &str, ca_pem: &str) -> Result<(), ApiError> {
    let rt = find("", "v1", "configmaps").expect("configmaps are served");
    let wanted = json!({"ca.crt": ca_pem});
    let updated = api
        .update_with(rt, Some(namespace), ROOT_CA_CONFIGMAP, |cm| {
            if cm["data"] == wanted {
                return false;
            }
            cm["data"] = wanted.clone();
            true
        })
        .await?;
    if updated.is_none() {
        super::builtin::ensure(
            api,
            rt,
            Some(namespace),
            json!({
                "metadata": {
                    "name": ROOT_CA_CONFIGMAP,
                    "annotations": {
                        "kubernetes.io/description":
                            "The CA that signs the API server's serving certificate, \
                             for clients inside the cluster (kubernetes.default.svc)."
                    }
                },
                "data": wanted,
            }),
        )
        .await?;
    }
    Ok(())
}

/// Deletes what a terminating namespace holds; finalizes it once it is empty.
async fn terminate(api: &Api, namespace: &str) -> Result<(), ApiError> {
    let mut remaining = 0;
    for rt in RESOURCES.iter().filter(|r| r.namespaced && r.is_stored()) {
        let items = api
            .objects
            .list(rt, Some(namespace), 0, None, None)
            .await?
            .items;
        remaining += items.len();
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            match api
                .delete_object(rt, Some(namespace), name, &json!({}), false)
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    if remaining > 0 {
        // Deleted objects are gone on the next pass; finalizers may hold some.
        return Ok(());
    }
    let namespaces = find("", "v1", "namespaces").expect("namespaces are served");
    api.update_with(namespaces, None, namespace, |ns| {
        let finalizers: Vec<Value> = ns["spec"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != "kubernetes")
            .collect();
        if ns["spec"]["finalizers"].as_array().map(Vec::len) == Some(finalizers.len()) {
            return false;
        }
        ns["spec"]["finalizers"] = json!(finalizers);
        true
    })
    .await?;
    tracing::info!(namespace, "namespace deleted");
    Ok(())
}
