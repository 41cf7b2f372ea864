//! A node's own objects and node liveness. What a node says about itself
//! (its Node: labels, taints, addresses, system info, the Ready condition;
//! its heartbeat Lease in `kube-node-lease`) is built here as pure values,
//! written in process by a server ([`register`], [`heartbeat`]) and over the
//! API by an agent (`crate::agent::node`). On the leader, node liveness
//! ([`lifecycle`]): a node whose lease has not been renewed within the grace
//! period (`--node-monitor-grace-period`, 40 s) turns `Ready=Unknown` and
//! gets the `node.kubernetes.io/unreachable` taints; they go when it is
//! Ready again. The same loop collects the password Secrets of deleted
//! nodes.
//!
//! Owns the Node and Lease a node writes, and the unreachable taints. Must
//! not change labels or taints an operator set later, except the ones the
//! flags name.

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
/// The lease's duration (the kubelet's default), which is also the default
/// grace before a silent node turns NotReady (kube-controller-manager's
/// `--node-monitor-grace-period`).
pub const LEASE_DURATION_SECONDS: i64 = 40;
/// The taint key of a node that stopped posting its status.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

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
    /// `--node-external-ip`.
    pub external_addresses: Vec<IpAddr>,
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

/// The Node object as a node describes itself.
pub fn describe(settings: &NodeSettings) -> Value {
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
        .chain(
            settings
                .external_addresses
                .iter()
                .map(|ip| json!({"type": "ExternalIP", "address": ip.to_string()})),
        )
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
        merge_registration(node, &wanted)
    })
    .await
    .map(drop)
}

/// Brings an existing Node up to date with what the node says about itself
/// (`wanted`, from [`describe`]): the flags' labels and taints are added
/// (others are kept), status is replaced but the Ready condition keeps its
/// transition time. Returns whether anything changed.
pub fn merge_registration(node: &mut Value, wanted: &Value) -> bool {
    let before = node.clone();
    let mut labels = node["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (k, v) in wanted["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
    {
        labels.insert(k.clone(), v.clone());
    }
    node["metadata"]["labels"] = Value::Object(labels);
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
}

/// The node's Lease in `kube-node-lease`, renewed at `now`, owned by its
/// Node when the Node's uid is known.
pub fn lease(name: &str, now: jiff::Timestamp, owner_uid: Option<&str>) -> Value {
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": micro_time_string(now),
        }
    });
    if let Some(uid) = owner_uid {
        lease["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]);
    }
    lease
}

/// Renews `lease` at `now` for node `name`.
pub fn renew(lease: &mut Value, name: &str, now: jiff::Timestamp) {
    lease["spec"]["renewTime"] = json!(micro_time_string(now));
    lease["spec"]["holderIdentity"] = json!(name);
    lease["spec"]["leaseDurationSeconds"] = json!(LEASE_DURATION_SECONDS);
}

fn ready_status_of(node: &Value) -> Option<&str> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

/// Sets the node's Ready condition to True (it is posting its status) if it
/// is not; returns whether it changed.
pub fn mark_ready(node: &mut Value, now: jiff::Timestamp) -> bool {
    if ready_status_of(node) == Some("True") {
        return false;
    }
    let stamp = time_string(now);
    node["status"]["conditions"] = merge_ready(
        &node["status"]["conditions"],
        &ready_condition(
            "True",
            "KubeletReady",
            "edged is posting ready status",
            &stamp,
        ),
    );
    true
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
        let now = jiff::Timestamp::now();
        let renewed = api
            .update_with(leases(), Some("kube-node-lease"), &name, |l| {
                renew(l, &name, now);
                true
            })
            .await?;
        if renewed.is_none() {
            let owner = api.objects.try_get(nodes(), None, &name).await?;
            let uid = owner.as_ref().and_then(|n| n["metadata"]["uid"].as_str());
            super::builtin::ensure(
                api,
                leases(),
                Some("kube-node-lease"),
                lease(&name, now, uid),
            )
            .await?;
        }
        api.update_with(nodes(), None, &name, |node| {
            mark_ready(node, jiff::Timestamp::now())
        })
        .await
        .map(drop)
    })
    .await;
}

/// On the leader, every 5 s: [`mark_silent_nodes`] with `grace`, and the
/// node-password collector.
pub async fn lifecycle(
    api: &Api,
    leader: watch::Receiver<bool>,
    grace: Duration,
    cancel: CancellationToken,
) {
    every("node-lifecycle", Duration::from_secs(5), cancel, || {
        let leader = *leader.borrow();
        async move {
            if leader {
                let now = jiff::Timestamp::now();
                mark_silent_nodes(api, now, grace).await?;
                crate::apiserver::nodepassword::collect(api, now).await?;
            }
            Ok::<(), ApiError>(())
        }
    })
    .await;
}

/// The unreachable taints a silent node gets, `now` being when.
fn unreachable_taints(now: &str) -> [Value; 2] {
    [
        json!({"key": UNREACHABLE_TAINT, "effect": "NoSchedule", "timeAdded": now}),
        json!({"key": UNREACHABLE_TAINT, "effect": "NoExecute", "timeAdded": now}),
    ]
}

/// Adds or removes the unreachable taints; returns whether it changed.
fn set_unreachable_taints(node: &mut Value, unreachable: bool, now: &str) -> bool {
    let mut taints: Vec<Value> = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = taints.iter().any(|t| t["key"] == UNREACHABLE_TAINT);
    if has == unreachable {
        return false;
    }
    taints.retain(|t| t["key"] != UNREACHABLE_TAINT);
    if unreachable {
        taints.extend(unreachable_taints(now));
    }
    if taints.is_empty() {
        if let Some(spec) = node["spec"].as_object_mut() {
            spec.remove("taints");
        }
    } else {
        node["spec"]["taints"] = json!(taints);
    }
    true
}

/// One pass of [`lifecycle`] at time `now`: every node whose lease (or, with
/// none, whose creation) is more than `grace` old gets `Ready=Unknown`,
/// keeping the Ready condition's last heartbeat time, and the unreachable
/// taints (NoSchedule and NoExecute). A node that is Ready again (its own
/// [`heartbeat`] set it) with a fresh lease loses those taints. Never sets
/// Ready back to True. Returns the nodes it marked Unknown.
pub async fn mark_silent_nodes(
    api: &Api,
    now: jiff::Timestamp,
    grace: Duration,
) -> Result<Vec<String>, ApiError> {
    let grace = jiff::SignedDuration::try_from(grace).unwrap_or(jiff::SignedDuration::MAX);
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
        let silent = now.duration_since(last) > grace;
        let tainted = node["spec"]["taints"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["key"] == UNREACHABLE_TAINT));
        let ready = ready_status_of(&node) == Some("True");
        // Nothing to do for a node that talks and carries no unreachable taint.
        if !(silent || (tainted && ready)) {
            continue;
        }
        let stamp = time_string(now);
        let mut changed = false;
        api.update_with(nodes(), None, &name, |n| {
            if !silent {
                // Back: its heartbeat set Ready; the taints go.
                changed =
                    ready_status_of(n) == Some("True") && set_unreachable_taints(n, false, &stamp);
                return changed;
            }
            let ready = n["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .cloned()
                .unwrap_or(Value::Null);
            let tainted = set_unreachable_taints(n, true, &stamp);
            if ready["status"] == "Unknown" {
                // Marked before; only taints an operator removed come back.
                return tainted;
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
        if changed && silent {
            tracing::warn!(node = %name, "node stopped renewing its lease; marked Ready=Unknown and tainted unreachable");
            marked.push(name);
        } else if changed {
            tracing::info!(node = %name, "node is posting its status again; unreachable taints removed");
        }
    }
    Ok(marked)
}
