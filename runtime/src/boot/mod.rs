//! `edged init`: PID 1 on images. Mounts what the system needs, finds the
//! boot (EDGE-BOOT, FAT) and data (EDGE-DATA, ext4, formatted on first boot)
//! partitions, reads and validates the device configuration, applies the
//! hostname and network, writes the runtime config, starts `edged server` or
//! `edged agent` as a child, restarts it with backoff, reaps orphans, stops it
//! cleanly on shutdown, and writes `status/` back to the boot partition. A bad
//! configuration brings up maintenance mode instead of a crash loop.
//!
//! Layers: [`probe`], [`scrub`], [`supervise::Backoff`] and [`layout`] are pure;
//! [`system`] holds the traits for system access (mounts, disks, network) with
//! the Linux implementation, [`rootdir`] the directory-backed stand-in `--root`
//! uses; [`init`] is the role; `main` only picks the implementation.
//!
//! Owns the boot sequence and the child's lifetime. Must not interpret the
//! configuration itself (that is [`edge_config`]) nor put a secret in a log
//! line, a status file or the status endpoint.

pub mod init;
pub mod layout;
pub mod maintenance;
pub mod netlink;
pub mod notify;
pub mod probe;
pub mod rootdir;
pub mod scrub;
pub mod status;
pub mod supervise;
pub mod system;

use std::path::PathBuf;

/// What went wrong while booting.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{label} partition: {message}")]
    Partition { label: String, message: String },
    #[error("{interface}: {message}")]
    Network { interface: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl BootError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
