//! Configuration: one typed model for flags, config files and `EDGE_*`
//! environment variables, with validated value types.
//!
//! `server` reads `edged server`'s flags and runtime config file; `edge`,
//! `tree`, `validate` and `render` are the device model (`edge.yaml`, the
//! image's site config, `edge.*` kernel arguments) that `edged init` and
//! `edgectl config` share.
//!
//! Owns parsing and validation of everything an operator writes. Must not
//! start anything; errors say which key was wrong, where, and what is expected.

pub mod edge;
#[doc(hidden)]
pub mod fuzzing;
pub mod render;
pub mod server;
pub mod tree;
pub mod types;
pub mod validate;

#[cfg(test)]
mod fuzz_tests;

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
