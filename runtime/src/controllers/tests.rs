//! The controllers' logic on the datastore's in-memory twin: no database, no
//! listener, times passed in where a loop would read the clock, and tokio's
//! paused clock where a loop's period matters.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use edge_apimachinery::resources::{ResourceType, find};
use edge_apimachinery::semantics::{micro_time_string, time_string};
use edge_config::types::NodeName;
use edge_datastore::{DatastoreError, EventKind, MemoryBackend, Revision};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The default `--node-monitor-grace-period`.
const GRACE: Duration = Duration::from_secs(40);

use crate::apiserver::handlers::Api;
use crate::apiserver::masterleases;
use crate::apiserver::storage::ObjectStore;

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

fn ready_condition(node: &Value) -> Value {
    node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn ready_status(node: &Value) -> String {
    ready_condition(node)["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn get_node(api: &Api, name: &str) -> Value {
    api.objects
        .get(rt("", "nodes"), None, name)
        .await
        .unwrap_or_else(|e| panic!("node {name}: {}", e.message))
}

/// A node without a lease, Ready since `posted` (as its own status update
/// writes it).
async fn unleased_node(api: &Api, name: &str, posted: jiff::Timestamp) {
    let nodes = rt("", "nodes");
    api.create_object(nodes, None, json!({"metadata": {"name": name}}), false)
        .await
        .expect("node");
    api.update_with(nodes, None, name, |n| {
        n["status"]["conditions"] = json!([{
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "edged is posting ready status",
            "lastHeartbeatTime": time_string(posted),
            "lastTransitionTime": time_string(posted),
        }]);
        true
    })
    .await
    .expect("ready");
}

/// A node Ready since `renewed`, whose lease was last renewed then.
async fn node(api: &Api, name: &str, renewed: jiff::Timestamp) {
    unleased_node(api, name, renewed).await;
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
    // A whole second, so renewTime (to the microsecond) is exactly t0.
    // "unleased" is created 2 to 3 s after it; without a lease, its
    // creation is what counts.
    let t0 = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 2).expect("t0");
    let at = |ms: i64| t0 + jiff::SignedDuration::from_millis(ms);
    node(&api, "silent", t0).await;
    node(&api, "fresh", at(30_000)).await;
    unleased_node(&api, "unleased", t0).await;
    let pass = |now| super::node::mark_silent_nodes(&api, now, GRACE);

    // 40 s is the grace: not yet...
    assert!(pass(at(40_000)).await.expect("pass").is_empty());
    assert_eq!(ready_status(&get_node(&api, "silent").await), "True");
    // ...just past it, Unknown, as kube-controller-manager writes it: the
    // last heartbeat stays the one the node posted.
    assert_eq!(pass(at(40_001)).await.expect("pass"), ["silent"]);
    let unknown = json!({
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
        "lastHeartbeatTime": time_string(t0),
        "lastTransitionTime": time_string(at(40_001)),
    });
    let silent = get_node(&api, "silent").await;
    assert_eq!(ready_condition(&silent), unknown);
    assert_eq!(
        silent["status"]["conditions"].as_array().map(Vec::len),
        Some(1),
        "only Ready is written: {silent}"
    );
    assert_eq!(
        silent["spec"]["taints"],
        json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": time_string(at(40_001))},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": time_string(at(40_001))},
        ]),
        "tainted unreachable, as kube-controller-manager does: {silent}"
    );
    assert_eq!(ready_status(&get_node(&api, "fresh").await), "True");
    assert_eq!(ready_status(&get_node(&api, "unleased").await), "True");

    // Marked once: a later pass leaves it, and its transition time, alone.
    assert!(pass(at(41_000)).await.expect("pass").is_empty());
    assert_eq!(ready_condition(&get_node(&api, "silent").await), unknown);
    // Later, the fresh one and the unleased one have gone silent too.
    assert_eq!(pass(at(71_000)).await.expect("pass"), ["fresh", "unleased"]);
}

#[tokio::test(start_paused = true)]
async fn only_the_leader_marks_silent_nodes() {
    let api = cluster().await;
    // The loop reads the wall clock: this lease is two minutes stale.
    let now = jiff::Timestamp::now();
    node(&api, "silent", now - jiff::SignedDuration::from_secs(120)).await;
    node(&api, "fresh", now).await;
    let (leader, leading) = watch::channel(false);
    let cancel = CancellationToken::new();
    let start = tokio::time::Instant::now();
    // Passes run at 0, 5, 10, ... s; look half-way between them.
    let after = |secs: u64| start + Duration::from_millis(secs * 1000 + 2500);

    let run = super::node::lifecycle(&api, leading, GRACE, cancel.clone());
    let check = async {
        tokio::time::sleep_until(after(10)).await;
        assert_eq!(
            ready_status(&get_node(&api, "silent").await),
            "True",
            "three passes as a follower mark nothing"
        );
        leader.send(true).expect("loop listens");
        tokio::time::sleep_until(after(15)).await;
        assert_eq!(ready_status(&get_node(&api, "silent").await), "Unknown");
        assert_eq!(ready_status(&get_node(&api, "fresh").await), "True");
        cancel.cancel();
    };
    // Cancelled at 17.5 s, the loop returns before its next pass (20 s).
    tokio::time::timeout_at(start + Duration::from_secs(19), async {
        tokio::join!(run, check)
    })
    .await
    .expect("the loop ends when cancelled");
}

#[tokio::test(start_paused = true)]
async fn a_node_marked_unknown_is_restored_by_its_own_heartbeat() {
    let api = cluster().await;
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600);
    node(&api, "n", t0).await;
    let marked_at = t0 + jiff::SignedDuration::from_secs(41);
    let marked = super::node::mark_silent_nodes(&api, marked_at, GRACE)
        .await
        .expect("pass");
    assert_eq!(marked, ["n"]);
    let unknown = ready_condition(&get_node(&api, "n").await);
    assert_eq!(unknown["status"], "Unknown");

    // A renewed lease alone does not bring it back: the leader only ever
    // marks nodes Unknown.
    let leases = rt("coordination.k8s.io", "leases");
    let now = jiff::Timestamp::now();
    api.update_with(leases, Some("kube-node-lease"), "n", |l| {
        l["spec"]["renewTime"] = json!(micro_time_string(now));
        true
    })
    .await
    .expect("renew")
    .expect("lease exists");
    assert!(
        super::node::mark_silent_nodes(&api, now, GRACE)
            .await
            .expect("pass")
            .is_empty()
    );
    assert_eq!(ready_condition(&get_node(&api, "n").await), unknown);

    // The node's heartbeat does: one round (the loop returns after its
    // first step when already cancelled) renews the lease and sets Ready.
    let settings = super::node::NodeSettings {
        name: "n".parse::<NodeName>().expect("name"),
        hostname: "n".into(),
        addresses: Vec::new(),
        external_addresses: Vec::new(),
        labels: Vec::new(),
        taints: Vec::new(),
        server: true,
    };
    let heartbeat = || async {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let round = super::node::heartbeat(&api, &settings, cancel);
        tokio::time::timeout(super::node::LEASE_RENEW / 2, round)
            .await
            .expect("one round, then the cancelled loop returns");
    };
    let before = jiff::Timestamp::now();
    heartbeat().await;
    let after = jiff::Timestamp::now();
    let node = get_node(&api, "n").await;
    let ready = ready_condition(&node);
    let stamp = ready["lastTransitionTime"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        time_string(before) <= stamp && stamp <= time_string(after),
        "transition {stamp} is the heartbeat's: {ready}"
    );
    assert_eq!(
        ready,
        json!({
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "edged is posting ready status",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        })
    );
    let lease = api
        .objects
        .get(leases, Some("kube-node-lease"), "n")
        .await
        .expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "n");
    assert_eq!(
        lease["spec"]["leaseDurationSeconds"],
        super::node::LEASE_DURATION_SECONDS
    );
    let renewed = lease["spec"]["renewTime"].as_str().unwrap_or("").to_owned();
    assert!(
        micro_time_string(before) <= renewed && renewed <= micro_time_string(after),
        "renewed at {renewed}"
    );

    // Still tainted until the leader's next pass sees it Ready with a
    // fresh lease; then the unreachable taints go, and only they.
    assert!(
        node["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.len() == 2)
    );
    let after_pass = jiff::Timestamp::now();
    assert!(
        super::node::mark_silent_nodes(&api, after_pass, GRACE)
            .await
            .expect("pass")
            .is_empty()
    );
    let node = get_node(&api, "n").await;
    assert!(node["spec"]["taints"].is_null(), "taints cleared: {node}");

    // A Ready node's heartbeat renews the lease only; the Node is not rewritten.
    heartbeat().await;
    let again = get_node(&api, "n").await;
    assert_eq!(
        again["metadata"]["resourceVersion"],
        node["metadata"]["resourceVersion"]
    );
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

/// Creates or updates the ConfigMap `default/history` to `v`; returns the
/// write's revision.
async fn write_history(api: &Api, v: &str) -> Revision {
    let configmaps = rt("", "configmaps");
    let written = match api
        .update_with(configmaps, Some("default"), "history", |cm| {
            cm["data"]["v"] = json!(v);
            true
        })
        .await
        .expect("update")
    {
        Some(cm) => cm,
        None => api
            .create_object(
                configmaps,
                Some("default"),
                json!({"metadata": {"name": "history"}, "data": {"v": v}}),
                false,
            )
            .await
            .expect("create"),
    };
    written["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("resourceVersion")
}

/// `default/history` as of `revision`: its `v`, or the API's error code.
async fn history_at(api: &Api, revision: Revision) -> Result<String, u16> {
    let page = api
        .objects
        .list(
            rt("", "configmaps"),
            Some("default"),
            0,
            None,
            Some(revision),
        )
        .await
        .map_err(|e| e.code)?;
    Ok(page
        .items
        .iter()
        .find(|cm| cm["metadata"]["name"] == "history")
        .and_then(|cm| cm["data"]["v"].as_str())
        .unwrap_or("<absent>")
        .to_owned())
}

/// A compaction loop with `interval` on `api`'s store, as a task.
fn compaction(
    api: &Api,
    interval: Duration,
    leader: watch::Receiver<bool>,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let store = api.objects.datastore().clone();
    let cancel = cancel.clone();
    tokio::spawn(async move { super::compaction::run(&store, interval, leader, cancel).await })
}

#[tokio::test(start_paused = true)]
async fn the_leader_compacts_history_older_than_one_interval() {
    let api = cluster().await;
    let store = api.objects.datastore().clone();
    let initial = store.compact_revision().await.expect("revision");
    // Not the server's 300 s: the loop must use the interval it is given.
    let interval = Duration::from_secs(60);
    let start = tokio::time::Instant::now();
    // Ticks run at 1, 2, ... intervals; look half-way between them.
    let after = |ticks: u32| start + interval * ticks + interval / 2;
    let (_leader, leading) = watch::channel(true);
    let cancel = CancellationToken::new();
    let task = compaction(&api, interval, leading, &cancel);

    let v1 = write_history(&api, "1").await;
    let v2 = write_history(&api, "2").await;
    tokio::time::sleep_until(after(1)).await;
    // The first tick only notes the revision (v2) it will compact to next.
    assert_eq!(store.compact_revision().await.expect("revision"), initial);
    assert_eq!(history_at(&api, v1).await, Ok("1".into()));
    let v3 = write_history(&api, "3").await;
    let v4 = write_history(&api, "4").await;

    tokio::time::sleep_until(after(2)).await;
    assert_eq!(store.compact_revision().await.expect("revision"), v2);
    // Older than the window: gone, for the datastore and for the API.
    let key = ObjectStore::key(rt("", "configmaps"), Some("default"), "history");
    match store.get_at(&key, v1).await {
        Err(DatastoreError::Compacted {
            requested,
            compact_revision,
        }) => assert_eq!((requested, compact_revision), (v1, v2)),
        other => panic!("read at {v1} after compacting to {v2}: {other:?}"),
    }
    assert_eq!(history_at(&api, v1).await, Err(410));
    // The window (one interval) is kept, from the compaction point on.
    assert_eq!(history_at(&api, v2).await, Ok("2".into()));
    assert_eq!(history_at(&api, v3).await, Ok("3".into()));
    assert_eq!(history_at(&api, v4).await, Ok("4".into()));

    cancel.cancel();
    tokio::time::timeout(interval / 4, task)
        .await
        .expect("the loop ends when cancelled")
        .expect("compaction loop");
}

#[tokio::test(start_paused = true)]
async fn only_the_leader_compacts_and_cancel_stops_the_loop() {
    let api = cluster().await;
    let store = api.objects.datastore().clone();
    let initial = store.compact_revision().await.expect("revision");
    let interval = Duration::from_secs(60);
    let start = tokio::time::Instant::now();
    let after = |ticks: u32| start + interval * ticks + interval / 2;
    let (leader, leading) = watch::channel(false);
    let cancel = CancellationToken::new();
    let task = compaction(&api, interval, leading, &cancel);
    let compacted = || async { store.compact_revision().await.expect("revision") };

    write_history(&api, "1").await;
    let v2 = write_history(&api, "2").await;
    tokio::time::sleep_until(after(3)).await;
    assert_eq!(compacted().await, initial, "a follower never compacts");

    // Leading from tick 4: it notes v2 there and compacts to it at tick 5.
    leader.send(true).expect("loop listens");
    tokio::time::sleep_until(after(4)).await;
    assert_eq!(compacted().await, initial);
    let v3 = write_history(&api, "3").await;
    tokio::time::sleep_until(after(5)).await;
    assert_eq!(compacted().await, v2);

    // Leadership lost: nothing more, however long it waits.
    leader.send(false).expect("loop listens");
    let v4 = write_history(&api, "4").await;
    tokio::time::sleep_until(after(8)).await;
    assert_eq!(compacted().await, v2);
    assert_eq!(history_at(&api, v3).await, Ok("3".into()));

    // Leading again from tick 9: what it noted at tick 5 (v3) is forgotten;
    // it notes v4 and compacts to that at tick 10.
    leader.send(true).expect("loop listens");
    tokio::time::sleep_until(after(9)).await;
    assert_eq!(compacted().await, v2);
    tokio::time::sleep_until(after(10)).await;
    assert_eq!(compacted().await, v4);

    // Cancelled half-way to its next tick, the loop ends before that tick.
    cancel.cancel();
    tokio::time::timeout(interval / 4, task)
        .await
        .expect("the loop ends when cancelled")
        .expect("compaction loop");
}
