//! What is on a partition, from its first bytes, and which partition carries
//! a label, from sysfs `uevent` text. Pure functions over bytes and text.
//!
//! Owns the "is this partition blank?" decision that allows formatting. Must
//! not do IO. A partition is blank only when no known signature is found:
//! anything recognised (a filesystem, swap, LUKS, a boot sector) is never
//! formatted.

/// How many bytes [`probe`] wants: past btrfs's superblock at 64 KiB.
pub const PROBE_BYTES: usize = 68 * 1024;

/// What a partition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsKind {
    /// No signature: safe to format.
    Blank,
    Ext4 {
        label: String,
    },
    Vfat {
        label: String,
    },
    /// Something else; never formatted.
    Other(&'static str),
}

fn at(b: &[u8], offset: usize, magic: &[u8]) -> bool {
    b.get(offset..offset + magic.len()) == Some(magic)
}

fn label(b: &[u8], offset: usize, len: usize) -> String {
    b.get(offset..offset + len)
        .map(|l| {
            String::from_utf8_lossy(l)
                .trim_end_matches(['\0', ' '])
                .to_owned()
        })
        .unwrap_or_default()
}

/// Identifies a partition from its first [`PROBE_BYTES`] bytes.
pub fn probe(b: &[u8]) -> FsKind {
    // ext2/3/4: magic 0xEF53 at 1024 + 56; volume name at 1024 + 120.
    if at(b, 1024 + 56, &[0x53, 0xEF]) {
        return FsKind::Ext4 {
            label: label(b, 1024 + 120, 16),
        };
    }
    if at(b, 510, &[0x55, 0xAA]) {
        if at(b, 82, b"FAT32") {
            return FsKind::Vfat {
                label: label(b, 71, 11),
            };
        }
        if at(b, 54, b"FAT") {
            return FsKind::Vfat {
                label: label(b, 43, 11),
            };
        }
        return FsKind::Other("a boot sector or partition table");
    }
    let signatures: &[(usize, &[u8], &'static str)] = &[
        (0, b"XFSB", "xfs"),
        (0, b"hsqs", "squashfs"),
        (0, b"LUKS\xba\xbe", "LUKS"),
        (1024, &[0xE2, 0xE1, 0xF5, 0xE0], "erofs"),
        (1024, &[0x10, 0x20, 0xF5, 0xF2], "f2fs"),
        (65536 + 64, b"_BHRfS_M", "btrfs"),
        (4096 - 10, b"SWAPSPACE2", "swap"),
        (4096 - 10, b"SWAP-SPACE", "swap"),
    ];
    for (offset, magic, name) in signatures {
        if at(b, *offset, magic) {
            return FsKind::Other(name);
        }
    }
    FsKind::Blank
}

/// `DEVNAME` and `PARTNAME` (the GPT partition name) of a sysfs `uevent`.
pub fn uevent(text: &str) -> (Option<String>, Option<String>) {
    let mut dev = None;
    let mut part = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("DEVNAME=") {
            dev = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("PARTNAME=") {
            part = Some(v.to_owned());
        }
    }
    (dev, part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut b = vec![0u8; PROBE_BYTES];
        assert_eq!(probe(&b), FsKind::Blank);
        b[1024 + 56] = 0x53;
        b[1024 + 57] = 0xEF;
        b[1024 + 120..1024 + 129].copy_from_slice(b"EDGE-DATA");
        assert_eq!(
            probe(&b),
            FsKind::Ext4 {
                label: "EDGE-DATA".into()
            }
        );
        let mut f = vec![0u8; PROBE_BYTES];
        f[510] = 0x55;
        f[511] = 0xAA;
        f[82..87].copy_from_slice(b"FAT32");
        f[71..82].copy_from_slice(b"EDGE-BOOT  ");
        assert_eq!(
            probe(&f),
            FsKind::Vfat {
                label: "EDGE-BOOT".into()
            }
        );
        let mut l = vec![0u8; PROBE_BYTES];
        l[..6].copy_from_slice(b"LUKS\xba\xbe");
        assert_eq!(probe(&l), FsKind::Other("LUKS"));
        // Short reads (a tiny partition) are not a panic.
        assert_eq!(probe(&[0u8; 10]), FsKind::Blank);
    }

    #[test]
    fn uevents() {
        let (d, p) = uevent(
            "MAJOR=179\nMINOR=3\nDEVNAME=mmcblk0p3\nDEVTYPE=partition\nPARTN=3\nPARTNAME=EDGE-DATA\n",
        );
        assert_eq!(d.as_deref(), Some("mmcblk0p3"));
        assert_eq!(p.as_deref(), Some("EDGE-DATA"));
    }
}
