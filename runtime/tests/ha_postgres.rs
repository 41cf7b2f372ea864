//! The HA topology on PostgreSQL: three servers, one database.

#[path = "ha/suite.rs"]
mod suite;
mod support;

ha_suite!(edge_testkit::Engine::Postgres);
