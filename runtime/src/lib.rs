//! Edgeplane's device runtime: the library behind `edged` and `edgectl`.
//!
//! Layers, bottom up: plain types and pure logic (no IO), IO adapters (the
//! datastore over SQL), roles (server, agent, init), and thin binaries.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod agent;
pub mod apiserver;
pub mod boot;
pub mod controllers;
pub mod ctl;
pub mod https;
pub mod join;
pub mod logging;
pub mod server;
pub mod tunnel;
pub mod vip;
