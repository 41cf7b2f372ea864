//! The datastore on MariaDB through the MySQL protocol (tier 3: a private instance started by the tests).

#[path = "datastore/faults.rs"]
mod faults;
#[path = "datastore/suite.rs"]
mod suite;

use edge_runtime::datastore::Endpoint;

server_datastore_suite!(edge_testkit::Engine::MariaDb, "Access denied");
