//! The datastore behaviour every backend must show. Each backend's test file
//! instantiates these with `datastore_suite!` and a way to make a fresh database.
// Each test binary uses the parts that apply to its backend.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use edge_config::endpoint::Endpoint;
use edge_datastore::{
    DatastoreError, Event, EventKind, KeyRange, Revision, Store, StoreOptions, Watch,
};
use tokio::time::timeout;

/// A fresh, empty database that several store instances can open.
pub trait TestDb: Send + Sync {
    fn endpoint(&self) -> Endpoint;
    /// The in-memory twin's backend, for the memory "database" (its
    /// endpoint is then never used).
    fn memory(&self) -> Option<std::sync::Arc<edge_datastore::MemoryBackend>> {
        None
    }
}

/// A store instance on `db`; several on one `db` share its data, as the
/// servers of a cluster share a database.
pub async fn open(db: &dyn TestDb) -> Store {
    if let Some(backend) = db.memory() {
        return Store::in_memory(&backend, StoreOptions::default());
    }
    Store::open(&db.endpoint(), StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", db.endpoint()))
}

/// Receives events until `until` (inclusive) has been seen or `wait` passes.
pub async fn collect_until(watch: &mut Watch, until: Revision, wait: Duration) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while events.last().map_or(0, Event::revision) < until {
        match tokio::time::timeout_at(deadline, watch.recv()).await {
            Ok(Ok(batch)) => events.extend(batch),
            Ok(Err(e)) => panic!("watch failed after {} events: {e}", events.len()),
            Err(_) => panic!(
                "watch stalled at revision {} (want {until}) after {} events",
                events.last().map_or(0, Event::revision),
                events.len()
            ),
        }
    }
    events
}

pub async fn crud_and_compare_and_swap(db: &dyn TestDb) {
    let store = open(db).await;
    let base = store.current_revision().await.expect("revision");

    let a1 = store
        .create("/a", b"one".to_vec(), 0)
        .await
        .expect("create");
    assert_eq!(
        (a1.mod_revision, a1.create_revision, a1.version),
        (base + 1, base + 1, 1)
    );
    let (rev, got) = store.get("/a").await.expect("get");
    assert_eq!(rev, base + 1);
    assert_eq!(got.as_ref(), Some(&a1));

    let exists = store.create("/a", b"again".to_vec(), 0).await;
    assert!(
        matches!(exists, Err(DatastoreError::KeyExists { .. })),
        "{exists:?}"
    );

    match store
        .update("/a", b"two".to_vec(), a1.mod_revision - 1, 0)
        .await
    {
        Err(DatastoreError::Conflict {
            current, expected, ..
        }) => {
            assert_eq!(expected, a1.mod_revision - 1);
            assert_eq!(*current, a1);
        }
        other => panic!("stale update: {other:?}"),
    }
    let a2 = store
        .update("/a", b"two".to_vec(), a1.mod_revision, 0)
        .await
        .expect("update");
    assert_eq!(
        (a2.mod_revision, a2.create_revision, a2.version),
        (base + 2, base + 1, 2)
    );
    assert_eq!(a2.value, b"two");

    let stale_delete = store.delete("/a", Some(a1.mod_revision)).await;
    assert!(
        matches!(stale_delete, Err(DatastoreError::Conflict { .. })),
        "{stale_delete:?}"
    );
    let (del_rev, deleted) = store
        .delete("/a", Some(a2.mod_revision))
        .await
        .expect("delete");
    assert_eq!(del_rev, base + 3);
    assert_eq!(deleted, a2);
    assert_eq!(store.get("/a").await.expect("get").1, None);

    assert!(matches!(
        store.update("/a", b"x".to_vec(), del_rev, 0).await,
        Err(DatastoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete("/a", None).await,
        Err(DatastoreError::NotFound { .. })
    ));

    // Reads in the past.
    assert_eq!(
        store.get_at("/a", base + 1).await.expect("get_at"),
        Some(a1.clone())
    );
    assert_eq!(
        store.get_at("/a", base + 2).await.expect("get_at"),
        Some(a2.clone())
    );
    assert_eq!(store.get_at("/a", base + 3).await.expect("get_at"), None);
    assert_eq!(store.get_at("/a", base).await.expect("get_at"), None);
    assert!(matches!(
        store.get_at("/a", base + 100).await,
        Err(DatastoreError::FutureRevision { .. })
    ));

    // A key created again starts a new life.
    let a3 = store
        .create("/a", b"three".to_vec(), 0)
        .await
        .expect("recreate");
    assert_eq!((a3.create_revision, a3.version), (base + 4, 1));
    assert_eq!(store.current_revision().await.expect("revision"), base + 4);

    // Keys are compared as bytes, and prefixes do not leak into neighbours.
    for key in ["/b/1", "/b/2", "/b0", "/ba"] {
        store
            .create(key, key.as_bytes().to_vec(), 0)
            .await
            .expect("create");
    }
    let listed = store
        .list(&KeyRange::prefix("/b/"), 0, None)
        .await
        .expect("list");
    let keys: Vec<_> = listed.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/b/1", "/b/2"]);
    assert_eq!(
        store.count(&KeyRange::prefix("/b")).await.expect("count").1,
        4
    );

    // Bad requests fail before reaching the database.
    assert!(matches!(
        store.create("", vec![], 0).await,
        Err(DatastoreError::InvalidRequest(_))
    ));
    store.close().await;
}

/// Many clients doing compare-and-swap increments on one key: every increment
/// lands exactly once.
pub async fn concurrent_compare_and_swap(db: &dyn TestDb) {
    let stores = [open(db).await, open(db).await];
    stores[0]
        .create("/counter", b"0".to_vec(), 0)
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..25 {
                loop {
                    let kv = store.get("/counter").await.expect("get").1.expect("exists");
                    let n: u64 = String::from_utf8(kv.value)
                        .expect("utf8")
                        .parse()
                        .expect("number");
                    match store
                        .update(
                            "/counter",
                            (n + 1).to_string().into_bytes(),
                            kv.mod_revision,
                            0,
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(DatastoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("increment: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.expect("task");
    }
    let kv = stores[1]
        .get("/counter")
        .await
        .expect("get")
        .1
        .expect("exists");
    assert_eq!(kv.value, b"200");
    assert_eq!(kv.version, 201);
    assert!(
        conflicts > 0,
        "eight racing clients never conflicted: the test proves nothing"
    );
}

/// A paginated listing at a fixed revision sees exactly the keys of that
/// revision while writes continue underneath.
pub async fn list_pagination_at_fixed_revision(db: &dyn TestDb) {
    let store = open(db).await;
    let mut expected = BTreeMap::new();
    for i in 0..250 {
        let key = format!("/p/{i:04}");
        store
            .create(&key, format!("v{i}").into_bytes(), 0)
            .await
            .expect("create");
        expected.insert(key, format!("v{i}").into_bytes());
    }
    store
        .create("/q/outside", b"x".to_vec(), 0)
        .await
        .expect("create");

    let first = store
        .list(&KeyRange::prefix("/p/"), 100, None)
        .await
        .expect("first page");
    assert_eq!(first.kvs.len(), 100);
    assert!(first.more);
    let at = first.revision;

    // Writers churn the range (update, delete, create) while we page.
    let churn = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..120 {
                let key = format!("/p/{:04}", i * 2);
                let (_, kv) = store.get(&key).await.expect("get");
                if let Some(kv) = kv {
                    if i % 3 == 0 {
                        store
                            .delete(&key, Some(kv.mod_revision))
                            .await
                            .expect("delete");
                    } else {
                        store
                            .update(&key, b"changed".to_vec(), kv.mod_revision, 0)
                            .await
                            .expect("update");
                    }
                }
                store
                    .create(&format!("/p/{i:04}-new"), b"new".to_vec(), 0)
                    .await
                    .expect("create");
            }
        })
    };

    let mut seen: Vec<_> = first.kvs;
    let mut more = first.more;
    while more {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let last = seen.last().expect("non-empty page").key.clone();
        let page = store
            .list(
                &KeyRange::prefix_from("/p/", &format!("{last}\0")),
                60,
                Some(at),
            )
            .await
            .expect("next page");
        assert_eq!(page.revision, at);
        more = page.more;
        seen.extend(page.kvs);
    }
    churn.await.expect("churn");
    let got: BTreeMap<_, _> = seen.into_iter().map(|kv| (kv.key, kv.value)).collect();
    assert_eq!(
        got, expected,
        "pages at revision {at} differ from the state at {at}"
    );

    // After the churn, the present differs from the past.
    let now = store
        .list(&KeyRange::prefix("/p/"), 0, None)
        .await
        .expect("list now");
    assert!(now.revision > at);
    assert_eq!(now.kvs.len(), 250 - 40 + 120);
    let (_, count) = store.count(&KeyRange::prefix("/p/")).await.expect("count");
    assert_eq!(count, 330);
}

/// A watch from an old revision replays history in order, with previous
/// versions, then carries on live.
pub async fn watch_from_old_revision(db: &dyn TestDb) {
    let store = open(db).await;
    let start = store.current_revision().await.expect("revision") + 1;
    let a = store
        .create("/w/a", b"1".to_vec(), 0)
        .await
        .expect("create");
    store
        .create("/elsewhere", b"x".to_vec(), 0)
        .await
        .expect("create");
    let a2 = store
        .update("/w/a", b"2".to_vec(), a.mod_revision, 0)
        .await
        .expect("update");
    store.delete("/w/a", None).await.expect("delete");
    let b = store
        .create("/w/b", b"b".to_vec(), 0)
        .await
        .expect("create");

    let mut watch = store
        .watch(KeyRange::prefix("/w/"), start)
        .await
        .expect("watch");
    let live = store
        .watch(KeyRange::prefix("/w/"), 0)
        .await
        .expect("live watch");
    let c = store
        .create("/w/c", b"c".to_vec(), 0)
        .await
        .expect("create");

    let events = collect_until(&mut watch, c.mod_revision, Duration::from_secs(10)).await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.kv.key.as_str(),
                e.revision(),
                e.prev.as_ref().map(|p| p.value.clone()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (EventKind::Put, "/w/a", a.mod_revision, None),
            (EventKind::Put, "/w/a", a2.mod_revision, Some(b"1".to_vec())),
            (
                EventKind::Delete,
                "/w/a",
                a2.mod_revision + 1,
                Some(b"2".to_vec())
            ),
            (EventKind::Put, "/w/b", b.mod_revision, None),
            (EventKind::Put, "/w/c", c.mod_revision, None),
        ]
    );
    assert_eq!(
        events[2].prev.as_ref().map(|p| p.mod_revision),
        Some(a2.mod_revision)
    );
    assert!(watch.revision() >= c.mod_revision);

    let mut live = live;
    let events = collect_until(&mut live, c.mod_revision, Duration::from_secs(10)).await;
    assert_eq!(
        events.len(),
        1,
        "a watch from now sees only the future: {events:?}"
    );
}

/// Compaction discards history: reads and watches before it fail with
/// `Compacted`, everything after it is intact.
pub async fn compaction(db: &dyn TestDb) {
    let store = open(db).await;
    let mut kv = store
        .create("/c/k", b"0".to_vec(), 0)
        .await
        .expect("create");
    let first = kv.mod_revision;
    for i in 1..=50 {
        kv = store
            .update("/c/k", i.to_string().into_bytes(), kv.mod_revision, 0)
            .await
            .expect("update");
    }
    let gone = store
        .create("/c/gone", b"x".to_vec(), 0)
        .await
        .expect("create");
    let (gone_deleted, _) = store.delete("/c/gone", None).await.expect("delete");
    let middle = kv.mod_revision - 10;
    let before = store
        .list(&KeyRange::prefix("/c/"), 0, Some(middle))
        .await
        .expect("list at middle");

    store.compact(middle).await.expect("compact");
    assert_eq!(
        store.compact_revision().await.expect("compact revision"),
        middle
    );
    store
        .compact(middle - 5)
        .await
        .expect("an older compaction is a no-op");
    assert_eq!(
        store.compact_revision().await.expect("compact revision"),
        middle
    );

    for result in [
        store.get_at("/c/k", first).await.map(drop),
        store
            .list(&KeyRange::prefix("/c/"), 0, Some(middle - 1))
            .await
            .map(drop),
        store.watch(KeyRange::prefix("/c/"), middle).await.map(drop),
    ] {
        assert!(
            matches!(result, Err(DatastoreError::Compacted { compact_revision, .. }) if compact_revision == middle),
            "{result:?}"
        );
    }
    // At the compaction point and after, history is exact.
    let at = store
        .list(&KeyRange::prefix("/c/"), 0, Some(middle))
        .await
        .expect("list at compaction point");
    assert_eq!(at.kvs, before.kvs);
    assert_eq!(
        store
            .get_at("/c/k", middle + 3)
            .await
            .expect("get_at")
            .map(|kv| kv.mod_revision),
        Some(middle + 3)
    );
    let mut watch = store
        .watch(KeyRange::prefix("/c/"), middle + 1)
        .await
        .expect("watch after");
    let events = collect_until(&mut watch, gone_deleted, Duration::from_secs(10)).await;
    let revisions: Vec<_> = events.iter().map(Event::revision).collect();
    assert_eq!(revisions, (middle + 1..=gone_deleted).collect::<Vec<_>>());
    assert_eq!(store.get("/c/k").await.expect("get").1, Some(kv.clone()));
    assert_eq!(
        store
            .get_at("/c/gone", gone.mod_revision)
            .await
            .expect("get_at"),
        Some(gone.clone())
    );

    let (current, _) = (store.current_revision().await.expect("revision"), ());
    assert!(matches!(
        store.compact(current + 1).await,
        Err(DatastoreError::FutureRevision { .. })
    ));
    // Compacting everything keeps the present.
    store.compact(current).await.expect("compact all");
    assert_eq!(store.get("/c/k").await.expect("get").1, Some(kv));
    assert_eq!(store.get("/c/gone").await.expect("get").1, None);
    assert!(matches!(
        store.get_at("/c/gone", gone.mod_revision).await,
        Err(DatastoreError::Compacted { .. })
    ));
    assert_eq!(
        store
            .list(&KeyRange::prefix("/c/"), 0, Some(current))
            .await
            .expect("list")
            .kvs
            .len(),
        1
    );
}

/// Keys attached to a lease vanish when it expires or is revoked, and
/// watchers see the deletes.
pub async fn leases(db: &dyn TestDb) {
    let store = open(db).await;
    // A 3 s lease kept alive every 250 ms: a stall of over 2.5 s (ten times
    // a slow fsync) would be needed to lose it.
    let ttl = Duration::from_secs(3);
    let lease = store.lease_grant(ttl).await.expect("grant");
    let (granted, left) = store.lease_time_to_live(lease).await.expect("ttl");
    assert_eq!(granted, ttl);
    assert!(left <= ttl && left > Duration::from_secs(1), "{left:?}");
    let mut watch = store
        .watch(KeyRange::prefix("/l/"), 0)
        .await
        .expect("watch");
    let held = store
        .create("/l/held", b"v".to_vec(), lease)
        .await
        .expect("create with lease");
    store
        .create("/l/free", b"v".to_vec(), 0)
        .await
        .expect("create");
    assert!(matches!(
        store.create("/l/bad", b"v".to_vec(), 12345).await,
        Err(DatastoreError::LeaseNotFound { lease: 12345 })
    ));

    // Kept alive past twice its TTL, it stays.
    let kept_since = tokio::time::Instant::now();
    while kept_since.elapsed() < 2 * ttl {
        tokio::time::sleep(Duration::from_millis(250)).await;
        store.lease_keepalive(lease).await.expect("keepalive");
        assert!(store.get("/l/held").await.expect("get").1.is_some());
    }

    // Left alone, it expires (a sweep after its TTL; the deadline is ten
    // times that).
    let deadline = tokio::time::Instant::now() + 10 * ttl;
    while store.get("/l/held").await.expect("get").1.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "leased key outlived its lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.get("/l/free").await.expect("get").1.is_some());
    assert!(matches!(
        store.lease_keepalive(lease).await,
        Err(DatastoreError::LeaseNotFound { .. })
    ));
    let events = collect_until(&mut watch, held.mod_revision + 2, Duration::from_secs(60)).await;
    assert_eq!(events.last().map(|e| e.kind), Some(EventKind::Delete));
    assert_eq!(events.last().map(|e| e.kv.key.as_str()), Some("/l/held"));

    // Revoking deletes at once.
    let lease = store
        .lease_grant(Duration::from_secs(60))
        .await
        .expect("grant");
    for i in 0..3 {
        store
            .create(&format!("/l/r{i}"), b"v".to_vec(), lease)
            .await
            .expect("create");
    }
    store.lease_revoke(lease).await.expect("revoke");
    assert_eq!(
        store
            .count(&KeyRange::prefix("/l/r"))
            .await
            .expect("count")
            .1,
        0
    );
}

/// What one writer was told.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acked {
    revision: Revision,
    key: String,
    kind: EventKind,
    value: Vec<u8>,
}

/// The multi-writer checker: writers on two instances, watchers on both; every
/// watcher must see exactly the global sequence of acknowledged writes.
pub async fn multi_writer_checker(
    db: &dyn TestDb,
    instances: usize,
    writers: usize,
    writes: usize,
) {
    let stores: Vec<Store> = {
        let mut v = Vec::new();
        for _ in 0..instances {
            v.push(open(db).await);
        }
        v
    };
    let start = stores[0].current_revision().await.expect("revision") + 1;
    let mut watches = Vec::new();
    for i in 0..3 {
        watches.push(
            stores[i % instances]
                .watch(KeyRange::prefix("/mw/"), start)
                .await
                .expect("watch"),
        );
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = stores[w % instances].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut acked = Vec::with_capacity(writes);
            let mut live: Vec<(String, Revision)> = Vec::new();
            for i in 0..writes {
                // Mostly creates; every 5th an update and every 7th a delete of
                // one of this writer's keys, with compare-and-swap.
                if i % 7 == 6 && !live.is_empty() {
                    let (key, rev) = live.remove(i % live.len());
                    let (revision, _) = store.delete(&key, Some(rev)).await.expect("delete");
                    acked.push(Acked {
                        revision,
                        key,
                        kind: EventKind::Delete,
                        value: vec![],
                    });
                } else if i % 5 == 4 && !live.is_empty() {
                    let slot = i % live.len();
                    let (key, rev) = live[slot].clone();
                    let value = format!("w{w}-u{i}").into_bytes();
                    let kv = store
                        .update(&key, value.clone(), rev, 0)
                        .await
                        .expect("update");
                    live[slot].1 = kv.mod_revision;
                    acked.push(Acked {
                        revision: kv.mod_revision,
                        key,
                        kind: EventKind::Put,
                        value,
                    });
                } else {
                    let key = format!("/mw/{w}/{i:05}");
                    let value = format!("w{w}-c{i}").into_bytes();
                    let kv = store.create(&key, value.clone(), 0).await.expect("create");
                    live.push((key.clone(), kv.mod_revision));
                    acked.push(Acked {
                        revision: kv.mod_revision,
                        key,
                        kind: EventKind::Put,
                        value,
                    });
                }
            }
            acked
        }));
    }
    let mut all: Vec<Acked> = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer"));
    }
    all.sort_by_key(|a| a.revision);
    let end = all.last().expect("writes happened").revision;
    // Every write in this database went through the checker: the sequence is
    // exactly start..=end, each revision acknowledged once.
    let revisions: Vec<_> = all.iter().map(|a| a.revision).collect();
    assert_eq!(
        revisions,
        (start..=end).collect::<Vec<_>>(),
        "acknowledged revisions are not the gap-free sequence"
    );

    let mut sequences = Vec::new();
    for (i, watch) in watches.iter_mut().enumerate() {
        let events = collect_until(watch, end, Duration::from_secs(60)).await;
        let seen: Vec<Acked> = events
            .iter()
            .map(|e| Acked {
                revision: e.revision(),
                key: e.kv.key.clone(),
                kind: e.kind,
                value: e.kv.value.clone(),
            })
            .collect();
        assert_eq!(
            seen.len(),
            all.len(),
            "watcher {i} saw {} events for {} writes",
            seen.len(),
            all.len()
        );
        for (got, want) in seen.iter().zip(&all) {
            assert_eq!(
                got, want,
                "watcher {i} diverges at revision {}",
                want.revision
            );
        }
        sequences.push(seen);
    }
    let by_key: HashMap<_, _> = all.iter().map(|a| (a.key.clone(), a.clone())).collect();
    let listed = stores[instances - 1]
        .list(&KeyRange::prefix("/mw/"), 0, None)
        .await
        .expect("list");
    let live_keys = by_key.values().filter(|a| a.kind == EventKind::Put).count();
    assert_eq!(listed.kvs.len(), live_keys);
    for s in &stores {
        s.close().await;
    }
}

/// Wrong credentials surface the server's own error, and no error or log line
/// carries the password.
pub async fn wrong_password_is_the_servers_error(
    endpoint: Endpoint,
    password: &str,
    server_says: &str,
) {
    let err = timeout(
        Duration::from_secs(30),
        Store::open(&endpoint, StoreOptions::default()),
    )
    .await
    .expect("refused in time")
    .expect_err("wrong password refused");
    let message = err.to_string();
    assert!(matches!(err, DatastoreError::Refused { .. }), "{err:?}");
    assert!(message.contains(server_says), "{message}");
    assert!(!message.contains(password), "password leaked: {message}");
    assert!(
        !format!("{err:?}").contains(password),
        "password leaked in Debug"
    );
}

/// A fresh database on an engine's shared instance; the store creates it.
pub struct ServerDb {
    engine: edge_testkit::Engine,
    name: String,
}

impl ServerDb {
    pub fn new(engine: edge_testkit::Engine) -> Self {
        Self {
            engine,
            name: edge_testkit::unique_db_name("ds"),
        }
    }
}

impl TestDb for ServerDb {
    fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.engine.shared().url(&self.name)).expect("valid endpoint")
    }
}

/// The suite plus what only server databases have (several instances, real
/// credentials, restarts), for one engine. `$refusal` is the server's own
/// words for a wrong password.
#[macro_export]
macro_rules! server_datastore_suite {
    ($engine:expr, $refusal:expr) => {
        datastore_suite!(suite::ServerDb::new($engine));

        /// Two instances (as two servers would have), four writers, three watchers.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn multi_writer_checker() {
            suite::multi_writer_checker(&suite::ServerDb::new($engine), 2, 4, 2000).await
        }

        #[tokio::test]
        async fn wrong_password_is_the_servers_error() {
            let server = $engine.shared();
            let url = server
                .url("kubernetes")
                .replace(server.password(), "not-the-password-xyz");
            suite::wrong_password_is_the_servers_error(
                Endpoint::parse(&url).expect("valid endpoint"),
                "not-the-password-xyz",
                $refusal,
            )
            .await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn database_restart_under_write_load() {
            faults::database_restart_under_write_load($engine).await
        }

        /// Current-thread runtime: the log capture is per thread.
        #[tokio::test]
        async fn passwords_never_reach_logs() {
            faults::passwords_never_reach_logs($engine).await
        }
    };
}

/// Instantiates the suite for one backend. `$db` makes a fresh database.
#[macro_export]
macro_rules! datastore_suite {
    ($db:expr) => {
        #[tokio::test]
        async fn crud_and_compare_and_swap() {
            suite::crud_and_compare_and_swap(&$db).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_compare_and_swap() {
            suite::concurrent_compare_and_swap(&$db).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn list_pagination_at_fixed_revision() {
            suite::list_pagination_at_fixed_revision(&$db).await
        }
        #[tokio::test]
        async fn watch_from_old_revision() {
            suite::watch_from_old_revision(&$db).await
        }
        #[tokio::test]
        async fn compaction() {
            suite::compaction(&$db).await
        }
        #[tokio::test]
        async fn leases() {
            suite::leases(&$db).await
        }
    };
}
