//! Datastore behaviour under faults, on the server databases: a restart in the
//! middle of a write load, and secrets kept out of every log line.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edge_config::endpoint::Endpoint;
use edge_datastore::{DatastoreError, Event, EventKind, KeyRange, Revision, Store, StoreOptions};
use edge_testkit::{Engine, ServerOptions, free_port, unique_db_name};

use super::suite::collect_until;

/// Polls `done` until it holds, failing the test after two minutes (a quiet
/// machine needs a few seconds).
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The database restarts while four writers on two instances keep writing:
/// operations in flight fail `Unavailable` (never a false success), the store
/// reconnects by itself, no acknowledged write is lost, and a watcher resumes
/// with no gap and no duplicate.
pub async fn database_restart_under_write_load(engine: Engine) {
    let mut server = engine
        .start(ServerOptions::default())
        .expect("dedicated database instance");
    let endpoint = Endpoint::parse(&server.url(&unique_db_name("restart"))).expect("endpoint");
    let options = StoreOptions {
        connect_timeout: Duration::from_secs(2),
        op_timeout: Duration::from_secs(3),
        ..StoreOptions::default()
    };
    let stores = [
        Store::open(&endpoint, options.clone())
            .await
            .expect("open a"),
        Store::open(&endpoint, options).await.expect("open b"),
    ];
    let start = stores[0].current_revision().await.expect("revision") + 1;
    let mut watch = stores[1]
        .watch(KeyRange::prefix("/r/"), start)
        .await
        .expect("watch");

    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    // Acknowledged writes per writer, in all and after the restart.
    let acks: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    let acks_after: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = stores[w % 2].clone();
        let (stop, restarted) = (stop.clone(), restarted.clone());
        let (acks, acks_after) = (acks.clone(), acks_after.clone());
        writers.push(tokio::spawn(async move {
            let (mut acked, mut unavailable) = (BTreeMap::new(), 0);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("/r/{w}/{i:06}");
                i += 1;
                match store.create(&key, key.as_bytes().to_vec(), 0).await {
                    Ok(kv) => {
                        acked.insert(kv.mod_revision, key);
                        acks[w].fetch_add(1, Ordering::Relaxed);
                        if restarted.load(Ordering::Relaxed) {
                            acks_after[w].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) if e.is_unavailable() => {
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("write during a restart failed with {e:?}, not Unavailable"),
                }
            }
            (acked, unavailable)
        }));
    }

    // Count, don't time: the restart lands while every writer is writing,
    // and the run ends once every writer was acknowledged again after it.
    let all_reach =
        |counts: &[AtomicUsize; 4], n: usize| counts.iter().all(|c| c.load(Ordering::Relaxed) >= n);
    wait_until("every writer acknowledged 20 times", || {
        all_reach(&acks, 20)
    })
    .await;
    let server = tokio::task::spawn_blocking(move || {
        server.restart().expect("restart the database");
        server
    })
    .await
    .expect("restart task");
    restarted.store(true, Ordering::Relaxed);
    wait_until(
        "every writer acknowledged 20 times after the restart",
        || all_reach(&acks_after, 20),
    )
    .await;
    stop.store(true, Ordering::Relaxed);

    let mut acked: BTreeMap<Revision, String> = BTreeMap::new();
    let mut unavailable = 0;
    for w in writers {
        let (a, u) = w.await.expect("writer");
        acked.extend(a);
        unavailable += u;
    }
    assert!(
        unavailable > 0,
        "no write noticed the restart: the test proves nothing"
    );

    // Every acknowledged write is there. (Writes answered Unavailable may or
    // may not have been applied; both are allowed.)
    let listed = stores[0]
        .list(&KeyRange::prefix("/r/"), 0, None)
        .await
        .expect("list after restart");
    let present: BTreeMap<Revision, String> = listed
        .kvs
        .iter()
        .map(|kv| (kv.mod_revision, kv.key.clone()))
        .collect();
    for (revision, key) in &acked {
        assert_eq!(present.get(revision), Some(key), "acknowledged write lost");
    }

    // The watcher sees the whole log once, in order.
    let end = listed.revision;
    let events = collect_until(&mut watch, end, Duration::from_secs(30)).await;
    let revisions: Vec<Revision> = events.iter().map(Event::revision).collect();
    assert_eq!(
        revisions,
        (start..=end).collect::<Vec<_>>(),
        "watch across a restart has gaps or duplicates"
    );
    assert!(events.iter().all(|e| e.kind == EventKind::Put));
    for e in &events {
        assert_eq!(present.get(&e.revision()), Some(&e.kv.key));
    }
    for s in &stores {
        s.close().await;
    }
    drop(server);
}

/// A writer into a shared buffer, for capturing log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// With every log level on (ours and the SQL driver's), nothing the store
/// does — connecting, writing, watching, failing to authenticate, failing to
/// connect — prints a password.
pub async fn passwords_never_reach_logs(engine: Engine) {
    let _ = tracing_log::LogTracer::init();
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    // The test runs on a current-thread runtime: the store's tasks run on
    // this thread and log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = engine.shared();
    let good = Endpoint::parse(&server.url(&unique_db_name("logs"))).expect("endpoint");
    let store = Store::open(&good, StoreOptions::default())
        .await
        .expect("open");
    let mut watch = store
        .watch(KeyRange::prefix("/s/"), 0)
        .await
        .expect("watch");
    let kv = store
        .create("/s/a", b"v".to_vec(), 0)
        .await
        .expect("create");
    collect_until(&mut watch, kv.mod_revision, Duration::from_secs(10)).await;
    store.close().await;

    let wrong = server
        .url("logs")
        .replace(server.password(), "wrong-pw-Zq9");
    let err = Store::open(
        &Endpoint::parse(&wrong).expect("endpoint"),
        StoreOptions::default(),
    )
    .await
    .expect_err("wrong password refused");
    tracing::error!(error = %err, "as a caller would log it");

    let unreachable = server
        .url("logs")
        .replace(&server.port().to_string(), &free_port().to_string())
        .replace(server.password(), "unreach-pw-Kx7");
    let options = StoreOptions {
        connect_timeout: Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let err = Store::open(&Endpoint::parse(&unreachable).expect("endpoint"), options)
        .await
        .expect_err("unreachable");
    assert!(matches!(err, DatastoreError::Unavailable { .. }), "{err:?}");
    tracing::error!(error = %err, "as a caller would log it");

    let out = String::from_utf8(captured.0.lock().expect("capture lock").clone()).expect("utf8");
    assert!(out.contains("datastore open"), "capture saw nothing: {out}");
    assert!(
        out.contains("***"),
        "the endpoint was never logged redacted: {out}"
    );
    for secret in [server.password(), "wrong-pw-Zq9", "unreach-pw-Kx7"] {
        assert!(
            !out.contains(secret),
            "log output contains the password {secret:?}:\n{out}"
        );
    }
}
