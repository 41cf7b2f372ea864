//! The HA topology on PostgreSQL: three servers, one database.

mod support;
#[path = "ha/suite.rs"]
mod suite;

ha_suite!(edge_testkit::Engine::Postgres);
