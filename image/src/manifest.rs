//! The manifest: what an image is made of. Written beside the image
//! (`FILE.manifest.json`) and inside it (`edge-image.json` on EDGE-BOOT), read
//! back by `edge-image inspect`.
//!
//! Owns the format (stable field names; `format` bumps on an incompatible
//! change). Must not hold a secret: the site config appears only as a hash.

use serde::{Deserialize, Serialize};

pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub builder: String,
    pub board: String,
    pub arch: String,
    pub boot_chain: String,
    /// Every timestamp in the image.
    pub source_date_epoch: u64,
    pub runtime: Runtime,
    pub kernel: KernelInfo,
    /// Every Debian package the image was made from.
    pub packages: Vec<Package>,
    /// The site config's hash (never its contents).
    pub config: ConfigInfo,
    pub cmdline: String,
    pub partitions: Vec<PartitionInfo>,
    /// The raw disk's size in bytes.
    pub disk_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    pub version: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelInfo {
    pub package: String,
    pub version: String,
    /// The modules directory name (`uname -r`).
    pub release: String,
    /// Loaded by the initramfs, in this order.
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigInfo {
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionInfo {
    pub label: String,
    pub filesystem: String,
    pub offset: u64,
    pub bytes: u64,
    /// Bytes of the filesystem actually used (for the read-only ones).
    pub used: u64,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
