//! The datastore on MariaDB through the MySQL protocol (tier 3: a private instance started by the tests).

#[path = "datastore/faults.rs"]
mod faults;
#[path = "datastore/suite.rs"]
mod suite;

use edge_runtime::datastore::Endpoint;
use edge_testkit::{MariaDb, unique_db_name};
use suite::TestDb;

/// A database of its own on the shared instance; the store creates it.
struct My {
    name: String,
}

impl My {
    fn new() -> Self {
        Self {
            name: unique_db_name("ds"),
        }
    }
}

impl TestDb for My {
    fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&MariaDb::shared().url(&self.name)).expect("valid endpoint")
    }
}

datastore_suite!(My::new());

/// Two instances (as two servers would have), four writers, three watchers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_writer_checker() {
    suite::multi_writer_checker(&My::new(), 2, 4, 2000).await
}

#[tokio::test]
async fn wrong_password_is_the_servers_error() {
    let server = MariaDb::shared();
    let url = server
        .url("kubernetes")
        .replace(server.password(), "not-the-password-xyz");
    suite::wrong_password_is_the_servers_error(
        Endpoint::parse(&url).expect("valid endpoint"),
        "not-the-password-xyz",
        "Access denied",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_restart_under_write_load() {
    faults::database_restart_under_write_load(edge_testkit::Engine::MariaDb).await
}

/// Current-thread runtime: the log capture is per thread.
#[tokio::test]
async fn passwords_never_reach_logs() {
    faults::passwords_never_reach_logs(edge_testkit::Engine::MariaDb).await
}
