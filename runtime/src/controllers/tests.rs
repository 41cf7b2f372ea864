//! The controllers' logic on the datastore's in-memory twin: no database, no
//! listener, times passed in where a loop would read the clock.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use edge_apimachinery::resources::{ResourceType, find};
use edge_apimachinery::semantics::micro_time_string;
use edge_datastore::{EventKind, MemoryBackend};
use serde_json::{Value, json};

use crate::apiserver::handlers::Api;
use crate::apiserver::masterleases;

fn rt(group: &str, plural: &str) -> &'static ResourceType {
    find(group, "v1", plural).expect("served")
}

/// An API server's verbs over an in-memory database.
fn api_on(backend: &Arc<MemoryBackend>) -> Api {
    Api::in_memory(backend, "10.43.0.0/16", "10.42.0.0/16")
}

/// A cluster with its built-in objects.
async fn cluster() -> Api {
    let api = api_on(&Arc::default());
    super::builtin::run(&api, 6443)
        .await
        .expect("builtin objects");
    api
}

fn ready_status(node: &Value) -> String {
    node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// A Ready node whose lease was last renewed at `renewed`.
async fn node(api: &Api, name: &str, renewed: jiff::Timestamp) {
    let nodes = rt("", "nodes");
    api.create_object(nodes, None, json!({"metadata": {"name": name}}), false)
        .await
        .expect("node");
    api.update_with(nodes, None, name, |n| {
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        true
    })
    .await
    .expect("ready");
    api.create_object(
        rt("coordination.k8s.io", "leases"),
        Some("kube-node-lease"),
        json!({"metadata": {"name": name},
               "spec": {"holderIdentity": name, "renewTime": micro_time_string(renewed)}}),
        false,
    )
    .await
    .expect("lease");
}

#[tokio::test]
async fn builtin_objects_are_created_once() {
    let api = cluster().await;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        api.objects
            .get(rt("", "namespaces"), None, ns)
            .await
            .unwrap_or_else(|e| panic!("{ns}: {}", e.message));
    }
    let svc = api
        .objects
        .get(rt("", "services"), Some("default"), "kubernetes")
        .await
        .expect("kubernetes service");
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1");
    // Idempotent: a second server running it changes nothing.
    let before = api.objects.current_revision().await.expect("revision");
    super::builtin::run(&api, 6443).await.expect("again");
    assert_eq!(
        api.objects.current_revision().await.expect("revision"),
        before
    );
}

#[tokio::test]
async fn a_node_whose_lease_went_stale_becomes_ready_unknown() {
    let api = cluster().await;
    let now = jiff::Timestamp::now();
    node(&api, "fresh", now - jiff::SignedDuration::from_secs(10)).await;
    node(&api, "silent", now - jiff::SignedDuration::from_secs(41)).await;

    let marked = super::node::mark_silent_nodes(&api, now)
        .await
        .expect("pass");
    assert_eq!(marked, ["silent"]);
    let get = |name: &'static str| api.objects.get(rt("", "nodes"), None, name);
    assert_eq!(ready_status(&get("silent").await.expect("node")), "Unknown");
    assert_eq!(ready_status(&get("fresh").await.expect("node")), "True");
    // Marked once: the next pass leaves it alone.
    assert!(
        super::node::mark_silent_nodes(&api, now)
            .await
            .expect("pass")
            .is_empty()
    );
    // Later, the fresh one has gone silent too.
    let later = now + jiff::SignedDuration::from_secs(60);
    let marked = super::node::mark_silent_nodes(&api, later)
        .await
        .expect("pass");
    assert_eq!(marked, ["fresh"]);
}

#[tokio::test]
async fn the_leader_lease_is_handed_over_only_when_stale() {
    let api = cluster().await;
    let t0 = jiff::Timestamp::now();
    let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
    let acquire = |who: &'static str, t| super::leader::try_acquire(&api, who, t);

    assert!(
        acquire("a", at(0)).await.expect("a"),
        "a takes the free lease"
    );
    assert!(!acquire("b", at(5)).await.expect("b"), "a's lease is fresh");
    assert!(acquire("a", at(10)).await.expect("a"), "a renews");
    assert!(!acquire("b", at(24)).await.expect("b"), "renewed 14 s ago");
    assert!(
        acquire("b", at(25)).await.expect("b"),
        "15 s stale: b takes over"
    );
    assert!(!acquire("a", at(26)).await.expect("a"), "a lost it");

    let lease = api
        .objects
        .get(
            rt("coordination.k8s.io", "leases"),
            Some("kube-system"),
            super::leader::LEASE_NAME,
        )
        .await
        .expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn the_kubernetes_endpoints_are_the_live_servers() {
    let backend: Arc<MemoryBackend> = Arc::default();
    let api = api_on(&backend);
    super::builtin::run(&api, 6443).await.expect("builtin");
    let store = api.objects.datastore();
    let mut leases = Vec::new();
    for ip in ["10.0.0.2", "10.0.0.1"] {
        let lease = store
            .lease_grant(Duration::from_secs(15))
            .await
            .expect("lease");
        let ip: IpAddr = ip.parse().expect("ip");
        let value = json!({"ip": ip.to_string(), "port": 6443}).to_string();
        store
            .create(&masterleases::key(ip), value.into_bytes(), lease)
            .await
            .expect("announce");
        leases.push(lease);
    }
    let addresses = || async {
        super::endpoints::reconcile_once(&api)
            .await
            .expect("reconcile");
        let ep = api
            .objects
            .get(rt("", "endpoints"), Some("default"), "kubernetes")
            .await
            .expect("endpoints");
        let slice = api
            .objects
            .get(
                rt("discovery.k8s.io", "endpointslices"),
                Some("default"),
                "kubernetes",
            )
            .await
            .expect("slice");
        let from_slice: Vec<String> = slice["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["addresses"][0].as_str().unwrap_or("").to_owned())
            .collect();
        let from_ep: Vec<String> = ep["subsets"][0]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["ip"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(from_ep, from_slice, "Endpoints and EndpointSlice agree");
        from_ep
    };
    assert_eq!(addresses().await, ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(
        masterleases::live_addresses(&api).await.expect("live"),
        ["10.0.0.1:6443", "10.0.0.2:6443"]
    );
    // A server whose lease ends (revoked here; expiry does the same) drops out.
    store.lease_revoke(leases[0]).await.expect("revoke");
    assert_eq!(addresses().await, ["10.0.0.1"]);
}

#[tokio::test]
async fn a_deleted_namespace_is_emptied_then_finalized() {
    let api = cluster().await;
    let namespaces = rt("", "namespaces");
    let configmaps = rt("", "configmaps");
    api.create_object(
        namespaces,
        None,
        json!({"metadata": {"name": "doomed"}}),
        false,
    )
    .await
    .expect("namespace");
    super::namespace::pass(&api, "CA").await.expect("fill");
    let root_ca = api
        .objects
        .get(
            configmaps,
            Some("doomed"),
            super::namespace::ROOT_CA_CONFIGMAP,
        )
        .await
        .expect("root CA published");
    assert_eq!(root_ca["data"]["ca.crt"], "CA");
    api.create_object(
        configmaps,
        Some("doomed"),
        json!({"metadata": {"name": "app"}, "data": {"k": "v"}}),
        false,
    )
    .await
    .expect("configmap");

    let deleted = api
        .delete_object(namespaces, None, "doomed", &json!({}), false)
        .await
        .expect("delete");
    assert_eq!(deleted["status"]["phase"], "Terminating");
    // A terminating namespace takes no new objects.
    let refused = api
        .create_object(
            configmaps,
            Some("doomed"),
            json!({"metadata": {"name": "late"}}),
            false,
        )
        .await
        .expect_err("refused");
    assert_eq!(refused.code, 403, "{}", refused.message);

    // First pass deletes the contents, the next finalizes the namespace.
    super::namespace::pass(&api, "CA").await.expect("empty");
    super::namespace::pass(&api, "CA").await.expect("finalize");
    let gone = api
        .objects
        .get(namespaces, None, "doomed")
        .await
        .expect_err("gone");
    assert_eq!(gone.code, 404, "{}", gone.message);
    let left = api
        .objects
        .list(configmaps, Some("doomed"), 0, None, None)
        .await
        .expect("list");
    assert!(left.items.is_empty(), "{:?}", left.items);

    // The system namespaces cannot be deleted.
    let e = api
        .delete_object(namespaces, None, "kube-system", &json!({}), false)
        .await
        .expect_err("refused");
    assert_eq!(e.code, 403, "{}", e.message);
}

#[tokio::test]
async fn a_watch_resumes_from_a_resource_version_and_a_compacted_one_is_gone() {
    let api = cluster().await;
    let configmaps = rt("", "configmaps");
    let created = api
        .create_object(
            configmaps,
            Some("default"),
            json!({"metadata": {"name": "w"}, "data": {"v": "0"}}),
            false,
        )
        .await
        .expect("create");
    let rv = |o: &Value| -> i64 {
        o["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("resourceVersion")
    };
    let mut versions = vec![rv(&created)];
    for v in ["1", "2"] {
        let updated = api
            .update_with(configmaps, Some("default"), "w", |cm| {
                cm["data"]["v"] = json!(v);
                true
            })
            .await
            .expect("update")
            .expect("exists");
        versions.push(rv(&updated));
    }
    // From the create's version: both updates, in order; from the first
    // update's: only the second (a client resuming after a disconnect).
    for (from, want) in [(versions[0], vec!["1", "2"]), (versions[1], vec!["2"])] {
        let mut watch = api
            .objects
            .watch(configmaps, Some("default"), from)
            .await
            .expect("watch");
        let mut seen = Vec::new();
        while seen.len() < want.len() {
            let batch = tokio::time::timeout(Duration::from_secs(10), watch.recv())
                .await
                .expect("events within 10 s")
                .expect("events");
            for event in batch {
                let decoded = api
                    .objects
                    .decode_event(configmaps, &event)
                    .expect("decode");
                assert_eq!(decoded.kind, EventKind::Put);
                seen.push(
                    decoded.object["data"]["v"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
        }
        assert_eq!(seen, want, "watch from {from}");
    }
    // History before a compaction cannot be watched: 410 Gone.
    api.objects
        .datastore()
        .compact(versions[2])
        .await
        .expect("compact");
    let e = api
        .objects
        .watch(configmaps, Some("default"), versions[0])
        .await
        .expect_err("compacted");
    assert_eq!(e.code, 410, "{}", e.message);
}
