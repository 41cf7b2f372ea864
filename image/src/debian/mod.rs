//! Debian archive client: which packages to take from a Debian mirror, fetched
//! and verified the way apt does it (signed `InRelease` → index hashes →
//! `.deb` hashes), cached so a warm build downloads nothing.
//!
//! Pure parts: [`sources`] (APT sources), [`release`] (`InRelease` signature
//! and fields), [`index`] (`Packages` and version picking), [`deb`] (reading a
//! `.deb` over a reader). IO: [`fetch`] (HTTP and the cache, behind
//! [`Archive`]).
//!
//! This file owns the error type users read. Must not hold parsing or IO
//! logic itself.

use std::path::PathBuf;

pub mod deb;
pub mod fetch;
pub mod index;
pub mod release;
pub mod sources;

pub use deb::{DebEntry, EntryKind, extract};
pub use fetch::{Archive, ArchiveOptions};
pub use index::{Index, Origin, Package};
pub use release::{Keyring, Release};
pub use sources::{AptSource, host_sources, mirror};

/// What can go wrong getting packages from a Debian archive. The texts are
/// written for the person running the build: what, where, what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}:{line}: {message}", .path.display())]
    Sources {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("cannot use keyring {origin}: {message}")]
    Keyring { origin: String, message: String },

    #[error("no APT sources to fetch from: give a mirror or configure /etc/apt/sources.list.d")]
    NoSources,

    /// The archive could not be reached and the cache has no usable copy.
    #[error("cannot get {what} from {url}: {cause}; {cache_note}")]
    Unreachable {
        what: String,
        url: String,
        cause: String,
        cache_note: String,
    },

    /// A download does not match the hash and size its signed index gives.
    #[error(
        "{what} from {url} does not match its checksum: {detail}; nothing was cached \
         (the mirror may be mid-update or corrupt: retry later or use another mirror)"
    )]
    Checksum {
        what: String,
        url: String,
        detail: String,
    },

    #[error(
        "the {suite} release at {url} is not signed by a trusted key: {reason}; \
         signatures by: {}; check the mirror or use a keyring that holds the archive's key",
        if .signers.is_empty() { "none".to_owned() } else { .signers.join(", ") }
    )]
    BadSignature {
        suite: String,
        url: String,
        reason: String,
        signers: Vec<String>,
    },

    #[error(
        "the {suite} release at {url} expired on {valid_until} (Valid-Until): the mirror is \
         stale or the clock is wrong; pass --allow-expired-release to use it anyway \
         (apt's Check-Valid-Until \"false\")"
    )]
    ReleaseExpired {
        suite: String,
        url: String,
        valid_until: String,
    },

    #[error("{what} from {url} is malformed: {message}")]
    Malformed {
        what: String,
        url: String,
        message: String,
    },

    #[error(
        "package {name}{} not found for {arch} in {} (check the name, the architecture, \
         and the sources' components)",
        .version.as_ref().map(|v| format!(" (= {v})")).unwrap_or_default(),
        if .suites.is_empty() { "no suites".to_owned() } else { .suites.join(", ") }
    )]
    PackageNotFound {
        name: String,
        version: Option<String>,
        arch: String,
        suites: Vec<String>,
    },

    #[error("cannot read package {}: {message}", .path.display())]
    Deb { path: PathBuf, message: String },
}
