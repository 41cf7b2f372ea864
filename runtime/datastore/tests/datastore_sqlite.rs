//! The datastore on SQLite (tier 2: loopback, temp dirs).

#[path = "datastore/suite.rs"]
mod suite;

use edge_config::endpoint::Endpoint;
use suite::TestDb;

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl TestDb for Sqlite {
    fn endpoint(&self) -> Endpoint {
        // A directory that does not exist yet: the store creates it.
        let path = self.dir.path().join("server/db/state.db");
        Endpoint::parse(&format!("sqlite://{}", path.display())).expect("valid endpoint")
    }
}

datastore_suite!(Sqlite::new());

/// SQLite serves one server; one instance, four writers, three watchers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_writer_checker() {
    suite::multi_writer_checker(&Sqlite::new(), 1, 4, 2000).await
}

#[tokio::test]
async fn reopening_keeps_data_and_revision() {
    let db = Sqlite::new();
    let store = suite::open(&db).await;
    let kv = store.create("/k", b"v".to_vec(), 0).await.expect("create");
    store.close().await;
    drop(store);
    let store = suite::open(&db).await;
    assert_eq!(
        store.current_revision().await.expect("revision"),
        kv.mod_revision
    );
    assert_eq!(store.get("/k").await.expect("get").1, Some(kv));
}
