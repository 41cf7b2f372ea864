//! The datastore on MariaDB through the MySQL protocol (tier 3: a private instance started by the tests).

#[path = "datastore/faults.rs"]
mod faults;
#[path = "datastore/suite.rs"]
mod suite;
#[path = "datastore/tls.rs"]
mod tls;

use edge_config::endpoint::Endpoint;

server_datastore_suite!(edge_testkit::Engine::MariaDb, "Access denied");

/// `--datastore-cafile/-certfile/-keyfile` against a server that accepts TLS only.
#[tokio::test]
async fn tls_only_server() {
    tls::tls_only_server(edge_testkit::Engine::MariaDb).await
}
