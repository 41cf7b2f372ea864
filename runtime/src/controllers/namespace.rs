//! Namespace lifecycle, on the leader: a namespace marked for deletion has its
//! objects deleted, then its `kubernetes` finalizer removed, then goes; every
//! active namespace gets a `default` ServiceAccount.
//!
//! Owns the content of terminating namespaces. Must not delete anything in a
//! namespace that is not marked for deletion.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::every;
use crate::apiserver::handlers::Api;
use crate::apiserver::resources::{RESOURCES, find};
use crate::apiserver::status::ApiError;

/// Runs the loop until cancelled.
pub async fn run(api: &Api, leader: watch::Receiver<bool>, cancel: CancellationToken) {
    let namespaces = find("", "v1", "namespaces").expect("namespaces are served");
    let accounts = find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    every("namespace", Duration::from_secs(1), cancel, || {
        let leader = *leader.borrow();
        async move {
            if !leader {
                return Ok::<(), ApiError>(());
            }
            let all = api
                .objects
                .list(namespaces, None, 0, None, None)
                .await?
                .items;
            let with_account: Vec<String> = api
                .objects
                .list(accounts, None, 0, None, None)
                .await?
                .items
                .iter()
                .filter(|sa| sa["metadata"]["name"] == "default")
                .filter_map(|sa| sa["metadata"]["namespace"].as_str().map(str::to_owned))
                .collect();
            for ns in &all {
                let name = ns["metadata"]["name"].as_str().unwrap_or_default();
                if ns["metadata"].get("deletionTimestamp").is_some() {
                    terminate(api, name).await?;
                } else if !with_account.iter().any(|n| n == name) {
                    super::bootstrap::ensure_default_service_account(api, name).await?;
                }
            }
            Ok(())
        }
    })
    .await;
}

/// Deletes what a terminating namespace holds; finalizes it once it is empty.
async fn terminate(api: &Api, namespace: &str) -> Result<(), ApiError> {
    let mut remaining = 0;
    for rt in RESOURCES.iter().filter(|r| r.namespaced) {
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
