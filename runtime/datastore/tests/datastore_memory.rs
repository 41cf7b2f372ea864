//! The datastore contract on the in-memory twin (tier 1: no IO): the same
//! suite the SQL backends pass, so code tested on the twin behaves the same
//! on a database.

#[path = "datastore/suite.rs"]
mod suite;

use std::sync::Arc;

use edge_config::endpoint::Endpoint;
use edge_datastore::MemoryBackend;
use suite::TestDb;

/// One fresh in-memory database per test.
struct Memory(Arc<MemoryBackend>);

impl Memory {
    fn new() -> Self {
        Self(Arc::default())
    }
}

impl TestDb for Memory {
    fn endpoint(&self) -> Endpoint {
        unreachable!("the memory twin has no endpoint")
    }
    fn memory(&self) -> Option<Arc<MemoryBackend>> {
        Some(self.0.clone())
    }
}

datastore_suite!(Memory::new());

/// Two instances on one backend (as two servers on one database), four
/// writers, three watchers: the exact global sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_writer_checker() {
    suite::multi_writer_checker(&Memory::new(), 2, 4, 2000).await
}
