//! The HA topology on MariaDB: three servers, one database.

mod support;
#[path = "ha/suite.rs"]
mod suite;

ha_suite!(edge_testkit::Engine::MariaDb);
