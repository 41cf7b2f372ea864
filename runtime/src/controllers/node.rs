//! This server as a Kubernetes node: its Node object (labels, taints,
//! addresses, system info, the Ready condition), its heartbeat Lease in
//! `kube-node-lease` renewed every 10 s, and — on the leader — node liveness:
//! a node whose lease has not been renewed for 40 s turns `Ready=Unknown`.
//!
//! Owns the Node and Lease this server writes. Must not change labels or
//! taints an operator set later, except the ones the flags name.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::every;
use crate::apiserver::handlers::Api;
use edge_apimachinery::discovery::GIT_VERSION;
use edge_apimachinery::resources::{ResourceType, find};
use edge_apimachinery::semantics::{micro_time_string, time_string};
use edge_apimachinery::status::ApiError;
use edge_config::types::{Label, NodeName, Taint};

/// How often the heartbeat lease is renewed (the kubelet's default).
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
/// The lease's duration, and the grace before a silent node turns NotReady
/// (kube-controller-manager's `--node-monitor-grace-period`).
pub const LEASE_DURATION_SECONDS: i64 = 40;

fn nodes() -> &'static ResourceType {
    find("", "v1", "nodes").expect("nodes are served")
}

fn leases() -> &'static ResourceType {
    find("coordination.k8s.io", "v1", "leases").expect("leases are served")
}

/// What this node is.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub name: NodeName,
    pub hostname: String,
    pub addresses: Vec<IpAddr>,
    pub labels: Vec<Label>,
    pub taints: Vec<Taint>,
    /// A server (control plane) rather than an agent.
    pub server: bool,
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn os_image() -> String {
    read_trimmed("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "Linux".into())
}

fn memory_kib() -> u64 {
    read_trimmed("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn ready_condition(status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    })
}

/// The Node object as this server describes itself.
fn describe(settings: &NodeSettings) -> Value {
    let now = time_string(jiff::Timestamp::now());
    let mut labels = serde_json::Map::new();
    for (k, v) in [
        ("kubernetes.io/hostname", settings.hostname.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch()),
        ("node.kubernetes.io/instance-type", "edge"),
    ] {
        labels.insert(k.into(), json!(v));
    }
    if settings.server {
        labels.insert(
            "node-role.kubernetes.io/control-plane".into(),
            json!("true"),
        );
        labels.insert("node-role.kubernetes.io/master".into(), json!("true"));
    }
    for l in &settings.labels {
        labels.insert(l.key.clone(), json!(l.value));
    }
    let taints: Vec<Value> = settings
        .taints
        .iter()
        .map(|t| {
            let mut v = json!({"key": t.key, "effect": t.effect.as_str()});
            if !t.value.is_empty() {
                v["value"] = json!(t.value);
            }
            v
        })
        .collect();
    let mut addresses: Vec<Value> = settings
        .addresses
        .iter()
        .map(|ip| json!({"type": "InternalIP", "address": ip.to_string()}))
        .collect();
    addresses.push(json!({"type": "Hostname", "address": settings.hostname}));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let capacity = json!({
        "cpu": cpus.to_string(),
        "memory": format!("{}Ki", memory_kib()),
        "pods": "110",
    });
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut spec = json!({});
    if !taints.is_empty() {
        spec["taints"] = json!(taints);
    }
    json!({
        "metadata": {"name": settings.name.as_str(), "labels": labels},
        "spec": spec,
        "status": {
            "addresses": addresses,
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [ready_condition("True", "KubeletReady", "edged is posting ready status", &now)],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch(),
                "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
                "containerRuntimeVersion": "none",
                "kernelVersion": kernel,
                "kubeProxyVersion": "",
                "kubeletVersion": GIT_VERSION,
                "machineID": read_trimmed("/etc/machine-id"),
                "operatingSystem": "linux",
                "osImage": os_image(),
                "systemUUID": read_trimmed("/sys/class/dmi/id/product_uuid"),
            }
        }
    })
}

/// Creates this server's Node, or brings an existing one up to date: the
/// labels and taints the flags name, addresses, system info, Ready.
pub async fn register(api: &Api, settings: &NodeSettings) -> Result<(), ApiError> {
    let wanted = describe(settings);
    match api
        .create_object(nodes(), None, wanted.clone(), false)
        .await
    {
        Ok(_) => return Ok(()),
        Err(e) if e.code == 409 => {}
        Err(e) => return Err(e),
    }
    api.update_with(nodes(), None, settings.name.as_str(), |node| {
        let before = node.clone();
        let labels = node["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut merged = labels;
        for (k, v) in wanted["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
        {
            merged.insert(k.clone(), v.clone());
        }
        node["metadata"]["labels"] = Value::Object(merged);
        let mut taints = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for t in wanted["spec"]["taints"].as_array().into_iter().flatten() {
            if !taints
                .iter()
                .any(|have| have["key"] == t["key"] && have["effect"] == t["effect"])
            {
                taints.push(t.clone());
            }
        }
        if !taints.is_empty() {
            node["spec"]["taints"] = json!(taints);
        }
        let mut status = wanted["status"].clone();
        status["conditions"] = merge_ready(
            &node["status"]["conditions"],
            &wanted["status"]["conditions"][0],
        );
        node["status"] = status;
        *node != before
    })
    .await
    .map(drop)
}

/// Replaces the Ready condition, keeping its transition time when its status
/// did not change.
fn merge_ready(existing: &Value, ready: &Value) -> Value {
    let mut out: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
    match out.iter_mut().find(|c| c["type"] == "Ready") {
        Some(c) => {
            let transition = if c["status"] == ready["status"] {
                c["lastTransitionTime"].clone()
            } else {
                ready["lastTransitionTime"].clone()
            };
            *c = ready.clone();
            c["lastTransitionTime"] = transition;
        }
        None => out.push(ready.clone()),
    }
    json!(out)
}

/// Renews this node's Lease every 10 s, and flips Ready back to True when the
/// leader marked it Unknown while this server was away.
pub async fn heartbeat(api: &Api, settings: &NodeSettings, cancel: CancellationToken) {
    let name = settings.name.as_str().to_owned();
    every("node-heartbeat", LEASE_RENEW, cancel, || async {
        let now = micro_time_string(jiff::Timestamp::now());
        let renewed = api
            .update_with(leases(), Some("kube-node-lease"), &name, |lease| {
                lease["spec"]["renewTime"] = json!(now);
                lease["spec"]["holderIdentity"] = json!(name);
                lease["spec"]["leaseDurationSeconds"] = json!(LEASE_DURATION_SECONDS);
                true
            })
            .await?;
        if renewed.is_none() {
            let owner = api.objects.try_get(nodes(), None, &name).await?;
            let mut lease = json!({
                "metadata": {"name": name},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now}
            });
            if let Some(uid) = owner.as_ref().and_then(|n| n["metadata"]["uid"].as_str()) {
                lease["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]);
            }
            super::builtin::ensure(api, leases(), Some("kube-node-lease"), lease).await?;
        }
        let stamp = time_string(jiff::Timestamp::now());
        api.update_with(nodes(), None, &name, |node| {
            let ready = node["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            if ready {
                return false;
            }
            node["status"]["conditions"] = merge_ready(
                &node["status"]["conditions"],
                &ready_condition("True", "KubeletReady", "edged is posting ready status", &stamp),
            );
            true
        })
        .await
        .map(drop)
    })
    .await;
}

/// On the leader: marks nodes whose lease went stale `Ready=Unknown`.
pub async fn lifecycle(api: &Api, leader: watch::Receiver<bool>, cancel: CancellationToken) {
    every("node-lifecycle", Duration::from_secs(5), cancel, || {
        let leader = *leader.borrow();
        async move {
            if leader {
                mark_silent_nodes(api, jiff::Timestamp::now()).await?;
            }
            Ok::<(), ApiError>(())
        }
    })
    .await;
}

/// One pass of [`lifecycle`] at time `now`: every node whose lease (or, with
/// none, whose creation) is more than the lease duration old gets
/// `Ready=Unknown`, keeping the Ready condition's last heartbeat time.
/// Never sets Ready back to True: that is the node's own [`heartbeat`].
/// Returns the nodes it marked.
pub async fn mark_silent_nodes(api: &Api, now: jiff::Timestamp) -> Result<Vec<String>, ApiError> {
    let page = api
        .objects
        .list(leases(), Some("kube-node-lease"), 0, None, None)
        .await?;
    let nodes_page = api.objects.list(nodes(), None, 0, None, None).await?;
    let mut marked = Vec::new();
    for node in nodes_page.items {
        let name = node["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let renewed = page
            .items
            .iter()
            .find(|l| l["metadata"]["name"] == name.as_str())
            .and_then(|l| l["spec"]["renewTime"].as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let created = node["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let last = renewed.or(created).unwrap_or(now);
        let silent =
            now.duration_since(last) > jiff::SignedDuration::from_secs(LEASE_DURATION_SECONDS);
        if !silent {
            continue;
        }
        let stamp = time_string(now);
        let mut changed = false;
        api.update_with(nodes(), None, &name, |n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .cloned()
                .unwrap_or(Value::Null);
            if ready["status"] == "Unknown" {
                return false;
            }
            let mut unknown = ready_condition(
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
                &stamp,
            );
            // As kube-controller-manager: the heartbeat time stays the last
            // one the node posted; only the transition is now.
            if let Some(posted) = ready["lastHeartbeatTime"].as_str() {
                unknown["lastHeartbeatTime"] = json!(posted);
            }
            n["status"]["conditions"] = merge_ready(&n["status"]["conditions"], &unknown);
            changed = true;
            true
        })
        .await?;
        if changed {
            tracing::warn!(node = %name, "node stopped renewing its lease; marked Ready=Unknown");
            marked.push(name);
        }
    }
    Ok(marked)
}
