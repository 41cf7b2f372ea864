//! The contract between an image and `edged init`: partition labels and
//! where the image puts what `edged init` reads. `edge-image` writes by these
//! names and `edged init` finds by them; a mismatch would boot every device
//! into a missing partition, so both take them from here.
//!
//! Owns the names. Must not do IO.

/// The FAT boot partition: `edge.yaml`, `status/`, the boot chain (the FAT
/// volume label, and the GPT partition name on GPT disks).
pub const BOOT_LABEL: &str = "EDGE-BOOT";
/// The read-only root the device runs from (GPT partition name).
pub const ROOT_A_LABEL: &str = "EDGE-ROOT-A";
/// Reserved for A/B upgrades: same size as A, empty.
pub const ROOT_B_LABEL: &str = "EDGE-ROOT-B";
/// The data partition (the ext4 label, and the GPT partition name).
pub const DATA_LABEL: &str = "EDGE-DATA";

/// The site config in the root filesystem, relative to `/`.
pub const SITE_CONFIG: &str = "usr/lib/edge/site.yaml";
