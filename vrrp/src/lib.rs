//! VRRPv3 (RFC 5798, RFC 9568) for a virtual IP held by exactly one healthy
//! server, in process.
//!
//! Layers, bottom up:
//! - [`packet`]: the wire format and both IPv4 checksum forms (pure);
//! - [`receive`]: the receive checks and drop reasons (pure);
//! - [`machine`]: the sans-IO state machine with its timers (pure);
//! - [`health`]: fall/rise counting with keepalived `weight` semantics (pure);
//! - [`config`]: validated configuration newtypes (pure);
//! - [`net`]: the [`net::NetOps`] trait, its Linux implementation and a fake;
//! - [`driver`]: the tokio loop joining them, with a [`driver::Handle`].
//!
//! IPv4 only. `net`, `driver` and the `vrrp-node` binary (which runs one
//! instance from the command line) need the default `linux` feature; without
//! it the crate is the pure protocol and builds without tokio.

pub mod config;
#[cfg(feature = "linux")]
pub mod driver;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod machine;
#[cfg(feature = "linux")]
pub mod net;
pub mod packet;
pub mod receive;
pub mod stats;

pub use config::{
    AdvertInterval, ConfigError, HealthConfig, InterfaceName, Priority, VirtualIp, Vrid, VrrpConfig,
};
#[cfg(feature = "linux")]
pub use driver::{Handle, Instance};
pub use error::{Capability, Error};
pub use machine::State;
pub use packet::ChecksumMode;
pub use stats::Snapshot;
