//! The objects every cluster has: the namespaces `default`, `kube-system`,
//! `kube-public` and `kube-node-lease`, a `default` ServiceAccount in each
//! namespace, and the `kubernetes` Service at the first address of the
//! service network.
//!
//! Idempotent: creating what exists is not an error, so every server runs it
//! at start. Must not overwrite what an operator changed.

use serde_json::json;

use crate::apiserver::handlers::Api;
use edge_apimachinery::resources::{ResourceType, find};
use edge_apimachinery::semantics::SYSTEM_NAMESPACES;
use edge_apimachinery::status::ApiError;

fn rt(group: &str, plural: &str) -> &'static ResourceType {
    find(group, "v1", plural).expect("served resource")
}

/// Creates an object unless it exists. Another server may be creating the
/// same objects at the same moment; whichever wins, the object exists after.
pub async fn ensure(
    api: &Api,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    object: serde_json::Value,
) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_owned();
    if api.objects.try_get(rt, namespace, &name).await?.is_some() {
        return Ok(());
    }
    match api.create_object(rt, namespace, object, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        // A race on an allocation (the kubernetes service's IP) with a server
        // that created the same object.
        Err(e) if e.code == 422 && api.objects.try_get(rt, namespace, &name).await?.is_some() => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Creates the namespaces, their default service accounts and the
/// `kubernetes` Service.
pub async fn run(api: &Api, https_port: u16) -> Result<(), ApiError> {
    for ns in SYSTEM_NAMESPACES {
        ensure(
            api,
            rt("", "namespaces"),
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
        ensure_default_service_account(api, ns).await?;
    }
    let ip = api
        .service_cidr
        .nth(1)
        .map(|ip| ip.to_string())
        .ok_or_else(|| ApiError::internal("the service network has no first address"))?;
    ensure(
        api,
        rt("", "services"),
        Some("default"),
        json!({
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"}
            },
            "spec": {
                "clusterIP": ip,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": https_port}],
                "sessionAffinity": "None",
                "type": "ClusterIP"
            }
        }),
    )
    .await
}

/// Every namespace has a `default` ServiceAccount.
pub async fn ensure_default_service_account(api: &Api, namespace: &str) -> Result<(), ApiError> {
    ensure(
        api,
        rt("", "serviceaccounts"),
        Some(namespace),
        json!({"metadata": {"name": "default"}}),
    )
    .await
}
