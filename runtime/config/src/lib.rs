//! Edgeplane's configuration: one typed model for flags, config files and
//! `EDGE_*` environment variables, with validated value types.
//!
//! The value types, bottom up: `secret` (the redacting wrapper), `types`
//! (CIDRs, node names, labels, taints, file modes), `token` (the join token),
//! `endpoint` (datastore endpoints and their TLS files), `san` (subject
//! alternative names). `server` reads `edged server`'s flags and runtime
//! config file; `tree`, `edge`, `validate`, `render` and `scrub` are the
//! device model (`edge.yaml`, the image's site config, `edge.*` kernel
//! arguments) that `edged init`, `edgectl config` and `edge-image` share;
//! `device` names the partitions and paths an image and `edged init` agree on.
//!
//! Owns parsing and validation of everything an operator writes. Must not
//! start anything or do IO beyond reading the files it is pointed at: no
//! tokio, no sockets, so the image builder validates a site config without
//! linking a server. Errors say which key was wrong, where, and what is
//! expected, and never quote a secret. Depends on no other Edgeplane crate
//! (only on `vrrp`'s value types).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod agent;
pub mod device;
pub mod edge;
pub mod endpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod render;
pub mod san;
pub mod scrub;
pub mod secret;
pub mod server;
pub mod token;
pub mod tree;
pub mod types;
pub mod validate;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod surfaces_tests;

use std::path::PathBuf;

/// A configuration problem, naming the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("invalid {key}: {message}")]
    Invalid { key: String, message: String },
}
