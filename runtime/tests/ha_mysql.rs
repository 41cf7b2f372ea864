//! The HA topology on MariaDB: three servers, one database.

#[path = "ha/suite.rs"]
mod suite;
mod support;

ha_suite!(edge_testkit::Engine::MariaDb);
