//! Node passwords: which device owns a node name.
//!
//! An agent sends its node password (random, kept 0600 in its data dir)
//! with each certificate request. The first request for a name stores the
//! password's Argon2id hash in an immutable Secret
//! `kube-system/<node>.node-password.edge`; later requests must match it, so
//! a second device cannot take over a node by using its name. The Secret is
//! owned by the Node (an ownerReference) and goes when the Node goes
//! ([`collect`], on the leader) — K3s leaves it behind (k3s#802).
//!
//! Owns the Secret's name, type and content, and the 403 a mismatch gets.
//! Must not put a password or hash in a log line or an error.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::handlers::Api;
use edge_apimachinery::resources::{ResourceType, find};
use edge_apimachinery::status::{ApiError, GroupResource};
use edge_config::secret::Secret;
use edge_pki::passwd;

/// Where the Secrets live.
pub const NAMESPACE: &str = "kube-system";
/// Their type.
pub const SECRET_TYPE: &str = "edge.io/node-password";
/// The suffix after the node name.
pub const SUFFIX: &str = ".node-password.edge";
/// How long a Secret may wait for its Node before it is taken as abandoned
/// (a join that never registered); K3s waits as long.
pub const ORPHAN_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

fn secrets() -> &'static ResourceType {
    find("", "v1", "secrets").expect("secrets are served")
}

fn nodes() -> &'static ResourceType {
    find("", "v1", "nodes").expect("nodes are served")
}

/// The Secret holding node `node`'s password hash.
pub fn secret_name(node: &str) -> String {
    format!("{node}{SUFFIX}")
}

/// Checks node passwords. Each check costs an Argon2id hash (19 MiB, about
/// 40 ms), so they run one at a time on each of [`HASHERS`] threads of
/// their own, each reusing its working memory ([`passwd::Workspace`]).
#[derive(Debug, Clone, Default)]
pub struct NodePasswords {
    jobs: Arc<std::sync::OnceLock<std::sync::mpsc::Sender<Job>>>,
}

/// Threads that hash node passwords.
pub const HASHERS: usize = 2;

type Job = Box<dyn FnOnce(&mut passwd::Workspace) + Send>;

fn rejected(node: &str) -> ApiError {
    ApiError::forbidden(
        GroupResource::new("", "nodes"),
        node,
        &format!(
            "Node password rejected: the node name \"{node}\" belongs to another device \
             (a duplicate hostname?), or this device's <data-dir>/agent/node-password does not \
             match the one the cluster holds. Give this device a unique node name with \
             --with-node-id or --node-name, or free the name with `kubectl delete node {node}`"
        ),
    )
}

impl NodePasswords {
    fn sender(&self) -> &std::sync::mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = Arc::new(std::sync::Mutex::new(rx));
            for i in 0..HASHERS {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("node-password-{i}"))
                    .spawn(move || {
                        let mut workspace = passwd::Workspace::default();
                        loop {
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(&mut workspace),
                                // Every sender is gone: the server stopped.
                                Err(_) => return,
                            }
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a node-password thread");
                }
            }
            tx
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut passwd::Workspace) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sender()
            .send(Box::new(move |workspace: &mut passwd::Workspace| {
                let _ = tx.send(f(workspace));
            }))
            .map_err(|_| ApiError::service_unavailable("the server is stopping"))?;
        rx.await
            .map_err(|_| ApiError::internal("a node-password thread stopped"))
    }

    /// Accepts `password` for `node`: the first time, records it; after
    /// that, it must match. A mismatch is a 403 that says what to do.
    pub async fn check(
        &self,
        api: &Api,
        node: &str,
        password: &Secret<String>,
    ) -> Result<(), ApiError> {
        let name = secret_name(node);
        for _ in 0..3 {
            if let Some(secret) = api
                .objects
                .try_get(secrets(), Some(NAMESPACE), &name)
                .await?
            {
                let stored = secret["data"]["hash"]
                    .as_str()
                    .and_then(|b| B64.decode(b).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                let (n, p) = (node.to_owned(), password.clone());
                let ok = self
                    .blocking(move |ws| passwd::verify_node_password_in(ws, &n, &p, &stored))
                    .await?;
                return match ok {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(rejected(node)),
                    Err(e) => {
                        tracing::warn!(%node, error = %e, "the stored node password is unreadable");
                        Err(rejected(node))
                    }
                };
            }
            let (n, p) = (node.to_owned(), password.clone());
            let hash = self
                .blocking(move |ws| passwd::hash_node_password_in(ws, &n, &p))
                .await?
                .map_err(ApiError::internal)?;
            let mut secret = json!({
                "metadata": {"name": name, "namespace": NAMESPACE},
                "type": SECRET_TYPE,
                "immutable": true,
                "data": {"hash": B64.encode(hash)},
            });
            if let Some(owner) = api.objects.try_get(nodes(), None, node).await? {
                secret["metadata"]["ownerReferences"] = owner_reference(&owner);
            }
            match api
                .create_object(secrets(), Some(NAMESPACE), secret, false)
                .await
            {
                Ok(_) => {
                    tracing::info!(%node, "recorded the node's password");
                    return Ok(());
                }
                // Another request for the same name won the race: check against it.
                Err(e) if e.code == 409 => continue,
                Err(e) => return Err(e),
            }
        }
        Err(rejected(node))
    }
}

fn owner_reference(node: &Value) -> Value {
    json!([{
        "apiVersion": "v1",
        "kind": "Node",
        "name": node["metadata"]["name"],
        "uid": node["metadata"]["uid"],
    }])
}

/// One pass of the leader's node-password collector at `now`: a Secret
/// whose Node exists is owned by it (the Node may have been registered
/// after the Secret was made); a Secret whose owner Node is gone is deleted;
/// a Secret that never had a Node is deleted after [`ORPHAN_AFTER`].
/// Returns the node names whose Secret it deleted.
pub async fn collect(api: &Api, now: jiff::Timestamp) -> Result<Vec<String>, ApiError> {
    let page = api
        .objects
        .list(secrets(), Some(NAMESPACE), 0, None, None)
        .await?;
    let mut deleted = Vec::new();
    for secret in page.items {
        if secret["type"] != SECRET_TYPE {
            continue;
        }
        let name = secret["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let Some(node_name) = name.strip_suffix(SUFFIX) else {
            continue;
        };
        let owner_uid = secret["metadata"]["ownerReferences"][0]["uid"].as_str();
        match api.objects.try_get(nodes(), None, node_name).await? {
            Some(node) if node["metadata"]["uid"].as_str() == owner_uid => {}
            Some(node) => {
                let owners = owner_reference(&node);
                api.update_with(secrets(), Some(NAMESPACE), &name, |s| {
                    s["metadata"]["ownerReferences"] = owners.clone();
                    true
                })
                .await?;
            }
            None => {
                let created = secret["metadata"]["creationTimestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .unwrap_or(now);
                if owner_uid.is_some() || now.duration_since(created) > ORPHAN_AFTER {
                    match api
                        .delete_object(secrets(), Some(NAMESPACE), &name, &json!({}), false)
                        .await
                    {
                        Ok(_) | Err(ApiError { code: 404, .. }) => {}
                        Err(e) => return Err(e),
                    }
                    tracing::info!(node = %node_name, "node gone; deleted its password");
                    deleted.push(node_name.to_owned());
                }
            }
        }
    }
    Ok(deleted)
}
