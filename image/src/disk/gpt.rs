//! GUID Partition Table: protective MBR (LBA 0), primary header (LBA 1) and
//! 128 entries (LBA 2..=33), backup entries (the 32 sectors before the last)
//! and backup header (last LBA), with their CRC32s; 512-byte sectors.
//!
//! Owns: the [`Guid`] type (mixed-endian text form, deterministic
//! [`Guid::derive`]), writing and reading the GPT metadata areas, and the
//! MiB-aligned [`layout`] of partitions on a fresh image.
//!
//! Must not: write partition contents (the caller writes those at
//! `first_lba * 512`), invent GUIDs (every GUID is given or derived from
//! inputs), or panic on a malformed disk in [`Gpt::read`].
//!
//! Written here rather than with the `gpt` crate: that crate is built around
//! opening a device or file by path, generates random GUIDs by default and
//! does not promise a byte-exact layout; the format is ~200 lines and this
//! way every byte is ours and deterministic.

use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::DiskError;

/// Bytes per logical sector; the only size this module writes or reads.
pub const SECTOR_SIZE: u64 = 512;
/// Number of partition entries written (the UEFI minimum array size).
const ENTRY_COUNT: u32 = 128;
const ENTRY_SIZE: u32 = 128;
/// Sectors taken by the entry array: 128 * 128 / 512.
const ENTRY_SECTORS: u64 = (ENTRY_COUNT as u64 * ENTRY_SIZE as u64) / SECTOR_SIZE;
const HEADER_SIZE: u32 = 92;
const SIGNATURE: &[u8; 8] = b"EFI PART";
const REVISION: u32 = 0x0001_0000;
/// First LBA a partition may use: MBR + header + entries.
const FIRST_USABLE: u64 = 2 + ENTRY_SECTORS;
/// Sectors at the end of the disk taken by the backup entries and header.
pub const BACKUP_SECTORS: u64 = ENTRY_SECTORS + 1;
const MIB: u64 = 1024 * 1024;
/// Longest partition name, in UTF-16 code units.
pub const MAX_NAME_UNITS: usize = 36;

/// A GUID as stored on disk: the first three fields little-endian, the last
/// two big-endian (so the text `C12A7328-F81F-...` is stored `28 73 2A C1 1F F8 ...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid([u8; 16]);

impl Guid {
    /// All zeros: an unused partition entry's type.
    pub const ZERO: Guid = Guid([0; 16]);
    /// EFI System Partition.
    pub const EFI_SYSTEM: Guid = Guid::from_u128(0xC12A7328_F81F_11D2_BA4B_00A0C93EC93B);
    /// Linux filesystem data.
    pub const LINUX_FILESYSTEM: Guid = Guid::from_u128(0x0FC63DAF_8483_4772_8E79_3D69D8477DE4);

    /// The GUID whose text form, read as one big-endian hex number, is `v`.
    pub const fn from_u128(v: u128) -> Guid {
        let t = v.to_be_bytes();
        Guid([
            t[3], t[2], t[1], t[0], t[5], t[4], t[7], t[6], t[8], t[9], t[10], t[11], t[12], t[13],
            t[14], t[15],
        ])
    }

    /// The 16 bytes in text order (as printed, without dashes).
    const fn text_bytes(&self) -> [u8; 16] {
        let d = self.0;
        [
            d[3], d[2], d[1], d[0], d[5], d[4], d[7], d[6], d[8], d[9], d[10], d[11], d[12], d[13],
            d[14], d[15],
        ]
    }

    /// From the 16 on-disk bytes.
    pub const fn from_disk_bytes(b: [u8; 16]) -> Guid {
        Guid(b)
    }

    /// The 16 on-disk bytes.
    pub const fn to_disk_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A GUID derived from `seed`: the first 16 bytes of SHA-256(seed) with
    /// the RFC 4122 version (4) and variant (10xx) bits set, so it looks like
    /// any random GUID but is a pure function of the image's inputs.
    pub fn derive(seed: &[u8]) -> Guid {
        let h = Sha256::digest(seed);
        let mut t = [0u8; 16];
        t.copy_from_slice(&h[..16]);
        t[6] = (t[6] & 0x0F) | 0x40;
        t[8] = (t[8] & 0x3F) | 0x80;
        Guid::from_u128(u128::from_be_bytes(t))
    }

    /// Parse `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (either case).
    pub fn parse(s: &str) -> Result<Guid, DiskError> {
        let bad = || {
            DiskError::Gpt(format!(
                "malformed GUID {s:?}: want XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"
            ))
        };
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return Err(bad());
        }
        let hex: String = s.chars().filter(|&c| c != '-').collect();
        if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let v = u128::from_str_radix(&hex, 16).map_err(|_| bad())?;
        Ok(Guid::from_u128(v))
    }
}

impl FromStr for Guid {
    type Err = DiskError;
    fn from_str(s: &str) -> Result<Guid, DiskError> {
        Guid::parse(s)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.text_bytes();
        for (i, b) in t.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// One partition entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptPartition {
    /// Partition name (PARTLABEL), at most 36 UTF-16 code units.
    pub name: String,
    pub type_guid: Guid,
    /// Unique partition GUID (PARTUUID).
    pub guid: Guid,
    pub first_lba: u64,
    /// Inclusive.
    pub last_lba: u64,
    pub attributes: u64,
}

/// A whole GPT disk's metadata. Partitions are stored in entry order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpt {
    pub disk_guid: Guid,
    pub partitions: Vec<GptPartition>,
    /// Size of the whole disk in 512-byte sectors.
    pub total_sectors: u64,
}

/// A partition's place: inclusive LBA range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub first_lba: u64,
    pub last_lba: u64,
}

impl Extent {
    /// Byte offset of the partition's first sector.
    pub fn offset_bytes(&self) -> u64 {
        self.first_lba * SECTOR_SIZE
    }
    /// Size of the partition in bytes.
    pub fn size_bytes(&self) -> u64 {
        (self.last_lba + 1 - self.first_lba) * SECTOR_SIZE
    }
}

/// The result of [`layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptLayout {
    pub extents: Vec<Extent>,
    pub total_sectors: u64,
}

impl GptLayout {
    pub fn total_bytes(&self) -> u64 {
        self.total_sectors * SECTOR_SIZE
    }
}

/// Place partitions of the given sizes (bytes, each rounded up to a whole
/// MiB) one after the other, the first at 1 MiB (LBA 2048), every start
/// MiB-aligned; the disk ends 33 sectors after the last partition, room for
/// the backup entries and header.
pub fn layout(sizes_bytes: &[u64]) -> Result<GptLayout, DiskError> {
    let mut extents = Vec::with_capacity(sizes_bytes.len());
    let mut next = MIB / SECTOR_SIZE;
    if sizes_bytes.len() > ENTRY_COUNT as usize {
        return Err(DiskError::Gpt(format!(
            "{} partitions requested, at most {ENTRY_COUNT}",
            sizes_bytes.len()
        )));
    }
    for (i, &size) in sizes_bytes.iter().enumerate() {
        if size == 0 {
            return Err(DiskError::Gpt(format!("partition {} has size 0", i + 1)));
        }
        let mib = size.div_ceil(MIB);
        let sectors = mib
            .checked_mul(MIB / SECTOR_SIZE)
            .filter(|s| {
                next.checked_add(*s)
                    .and_then(|n| n.checked_add(BACKUP_SECTORS))
                    .is_some()
            })
            .ok_or_else(|| DiskError::Gpt(format!("partition {} size {size} overflows", i + 1)))?;
        extents.push(Extent {
            first_lba: next,
            last_lba: next + sectors - 1,
        });
        next += sectors;
    }
    let total_sectors = next + BACKUP_SECTORS;
    if total_sectors.checked_mul(SECTOR_SIZE).is_none() {
        return Err(DiskError::Gpt(format!(
            "disk of {total_sectors} sectors is larger than 2^64 bytes"
        )));
    }
    Ok(GptLayout {
        extents,
        total_sectors,
    })
}

fn encode_name(name: &str, index: usize) -> Result<[u8; 72], DiskError> {
    let units: Vec<u16> = name.encode_utf16().collect();
    if units.len() > MAX_NAME_UNITS {
        return Err(DiskError::Gpt(format!(
            "partition {index} name {name:?} is {} UTF-16 units, at most {MAX_NAME_UNITS}",
            units.len()
        )));
    }
    if units.contains(&0) {
        return Err(DiskError::Gpt(format!(
            "partition {index} name {name:?} contains NUL"
        )));
    }
    let mut out = [0u8; 72];
    for (i, u) in units.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    Ok(out)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn guid_at(b: &[u8], at: usize) -> Guid {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Guid(a)
}

impl Gpt {
    fn last_usable(&self) -> u64 {
        self.total_sectors - BACKUP_SECTORS - 1
    }

    fn validate(&self) -> Result<(), DiskError> {
        if self.total_sectors < FIRST_USABLE + BACKUP_SECTORS + 1 {
            return Err(DiskError::Gpt(format!(
                "disk of {} sectors is too small for a GPT (at least {})",
                self.total_sectors,
                FIRST_USABLE + BACKUP_SECTORS + 1
            )));
        }
        if self.partitions.len() > ENTRY_COUNT as usize {
            return Err(DiskError::Gpt(format!(
                "{} partitions, at most {ENTRY_COUNT}",
                self.partitions.len()
            )));
        }
        let last_usable = self.last_usable();
        for (i, p) in self.partitions.iter().enumerate() {
            let n = i + 1;
            if p.type_guid == Guid::ZERO {
                return Err(DiskError::Gpt(format!(
                    "partition {n} ({}) has the all-zero type GUID",
                    p.name
                )));
            }
            if p.first_lba > p.last_lba {
                return Err(DiskError::Gpt(format!(
                    "partition {n} ({}) first LBA {} is after its last LBA {}",
                    p.name, p.first_lba, p.last_lba
                )));
            }
            if p.first_lba < FIRST_USABLE || p.last_lba > last_usable {
                return Err(DiskError::Gpt(format!(
                    "partition {n} ({}) LBAs {}..={} outside the usable {FIRST_USABLE}..={last_usable}",
                    p.name, p.first_lba, p.last_lba
                )));
            }
            for (j, q) in self.partitions.iter().enumerate().take(i) {
                if p.first_lba <= q.last_lba && q.first_lba <= p.last_lba {
                    return Err(DiskError::Gpt(format!(
                        "partition {n} ({}) overlaps partition {} ({})",
                        p.name,
                        j + 1,
                        q.name
                    )));
                }
            }
            encode_name(&p.name, n)?;
        }
        Ok(())
    }

    fn entries_bytes(&self) -> Result<Vec<u8>, DiskError> {
        let mut out = vec![0u8; (ENTRY_COUNT * ENTRY_SIZE) as usize];
        for (i, p) in self.partitions.iter().enumerate() {
            let e = &mut out[i * ENTRY_SIZE as usize..(i + 1) * ENTRY_SIZE as usize];
            e[0..16].copy_from_slice(&p.type_guid.0);
            e[16..32].copy_from_slice(&p.guid.0);
            e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
            e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
            e[48..56].copy_from_slice(&p.attributes.to_le_bytes());
            e[56..128].copy_from_slice(&encode_name(&p.name, i + 1)?);
        }
        Ok(out)
    }

    fn header_sector(
        &self,
        my_lba: u64,
        alternate_lba: u64,
        entries_lba: u64,
        entries_crc: u32,
    ) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[0..8].copy_from_slice(SIGNATURE);
        h[8..12].copy_from_slice(&REVISION.to_le_bytes());
        h[12..16].copy_from_slice(&HEADER_SIZE.to_le_bytes());
        // 16..20 header CRC, 20..24 reserved: zero for now.
        h[24..32].copy_from_slice(&my_lba.to_le_bytes());
        h[32..40].copy_from_slice(&alternate_lba.to_le_bytes());
        h[40..48].copy_from_slice(&FIRST_USABLE.to_le_bytes());
        h[48..56].copy_from_slice(&self.last_usable().to_le_bytes());
        h[56..72].copy_from_slice(&self.disk_guid.0);
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&ENTRY_COUNT.to_le_bytes());
        h[84..88].copy_from_slice(&ENTRY_SIZE.to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..HEADER_SIZE as usize]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }

    fn protective_mbr(&self) -> [u8; 512] {
        let mut m = [0u8; 512];
        let e = &mut m[446..462];
        e[0] = 0x00; // not bootable
        e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]); // CHS of LBA 1
        e[4] = 0xEE; // GPT protective
        e[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
        e[8..12].copy_from_slice(&1u32.to_le_bytes());
        let size = u32::try_from(self.total_sectors - 1).unwrap_or(u32::MAX);
        e[12..16].copy_from_slice(&size.to_le_bytes());
        m[510] = 0x55;
        m[511] = 0xAA;
        m
    }

    /// Write the protective MBR, both headers and both entry arrays. Nothing
    /// else on `disk` is touched; the caller writes partition contents and
    /// makes sure the disk is `total_sectors * 512` bytes long (writing the
    /// backup header at the last sector extends a shorter file to that size).
    pub fn write(&self, disk: &mut (impl Write + Seek)) -> Result<(), DiskError> {
        self.validate()?;
        let entries = self.entries_bytes()?;
        let entries_crc = crc32fast::hash(&entries);
        let last = self.total_sectors - 1;
        let backup_entries_lba = last - ENTRY_SECTORS;
        let primary = self.header_sector(1, last, 2, entries_crc);
        let backup = self.header_sector(last, 1, backup_entries_lba, entries_crc);
        let mut put = |lba: u64, bytes: &[u8], what: &str| -> Result<(), DiskError> {
            disk.seek(SeekFrom::Start(lba * SECTOR_SIZE))
                .and_then(|_| disk.write_all(bytes))
                .map_err(DiskError::io(format!("writing the {what} at LBA {lba}")))
        };
        put(0, &self.protective_mbr(), "protective MBR")?;
        put(1, &primary, "primary GPT header")?;
        put(2, &entries, "primary GPT entries")?;
        put(backup_entries_lba, &entries, "backup GPT entries")?;
        put(last, &backup, "backup GPT header")?;
        Ok(())
    }

    /// Read and check a GPT: protective MBR signature and 0xEE entry, both
    /// headers' signatures and CRCs, both entry arrays' CRCs, and that the
    /// two headers agree. `total_sectors` is the backup header's LBA + 1.
    pub fn read(disk: &mut (impl Read + Seek)) -> Result<Gpt, DiskError> {
        let disk_len = disk
            .seek(SeekFrom::End(0))
            .map_err(DiskError::io("measuring the disk"))?;
        let disk_sectors = disk_len / SECTOR_SIZE;
        if disk_sectors < FIRST_USABLE + BACKUP_SECTORS + 1 {
            return Err(DiskError::Gpt(format!(
                "disk of {disk_len} bytes is too small to hold a GPT"
            )));
        }
        let mbr = read_at(disk, 0, SECTOR_SIZE as usize, "the protective MBR")?;
        if mbr[510..512] != [0x55, 0xAA] {
            return Err(DiskError::Gpt(
                "no 0x55AA boot signature in the protective MBR at LBA 0".into(),
            ));
        }
        if !(0..4).any(|i| mbr[446 + 16 * i + 4] == 0xEE) {
            return Err(DiskError::Gpt(
                "the MBR at LBA 0 has no 0xEE (GPT protective) partition".into(),
            ));
        }
        let primary = read_header(disk, 1, disk_sectors)?;
        let backup = read_header(disk, primary.alternate_lba, disk_sectors)?;
        if backup.alternate_lba != 1 {
            return Err(DiskError::Gpt(format!(
                "backup GPT header at LBA {} points to LBA {} instead of 1",
                primary.alternate_lba, backup.alternate_lba
            )));
        }
        if primary.disk_guid != backup.disk_guid
            || primary.first_usable != backup.first_usable
            || primary.last_usable != backup.last_usable
            || primary.entry_count != backup.entry_count
            || primary.entry_size != backup.entry_size
            || primary.entries_crc != backup.entries_crc
        {
            return Err(DiskError::Gpt(format!(
                "primary (LBA 1) and backup (LBA {}) GPT headers disagree",
                primary.alternate_lba
            )));
        }
        let entries = read_entries(disk, &primary, "primary")?;
        read_entries(disk, &backup, "backup")?;
        let mut partitions = Vec::new();
        for e in entries.chunks_exact(primary.entry_size as usize) {
            let type_guid = guid_at(e, 0);
            if type_guid == Guid::ZERO {
                continue;
            }
            let units: Vec<u16> = e[56..128]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            partitions.push(GptPartition {
                name: String::from_utf16_lossy(&units),
                type_guid,
                guid: guid_at(e, 16),
                first_lba: le64(e, 32),
                last_lba: le64(e, 40),
                attributes: le64(e, 48),
            });
        }
        Ok(Gpt {
            disk_guid: primary.disk_guid,
            partitions,
            total_sectors: primary.alternate_lba + 1,
        })
    }
}

struct Header {
    my_lba: u64,
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: Guid,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

fn read_at(
    disk: &mut (impl Read + Seek),
    offset: u64,
    len: usize,
    what: &str,
) -> Result<Vec<u8>, DiskError> {
    let mut buf = vec![0u8; len];
    disk.seek(SeekFrom::Start(offset))
        .and_then(|_| disk.read_exact(&mut buf))
        .map_err(DiskError::io(format!("reading {what} at byte {offset}")))?;
    Ok(buf)
}

fn read_header(
    disk: &mut (impl Read + Seek),
    lba: u64,
    disk_sectors: u64,
) -> Result<Header, DiskError> {
    if lba >= disk_sectors || lba == 0 {
        return Err(DiskError::Gpt(format!(
            "GPT header LBA {lba} is outside the disk ({disk_sectors} sectors)"
        )));
    }
    let h = read_at(
        disk,
        lba * SECTOR_SIZE,
        SECTOR_SIZE as usize,
        "a GPT header",
    )?;
    if &h[0..8] != SIGNATURE {
        return Err(DiskError::Gpt(format!(
            "no \"EFI PART\" signature at LBA {lba}"
        )));
    }
    let size = le32(&h, 12);
    if !(HEADER_SIZE..=SECTOR_SIZE as u32).contains(&size) {
        return Err(DiskError::Gpt(format!(
            "GPT header size {size} at LBA {lba} outside 92..=512"
        )));
    }
    let stored_crc = le32(&h, 16);
    let mut zeroed = h[..size as usize].to_vec();
    zeroed[16..20].fill(0);
    let crc = crc32fast::hash(&zeroed);
    if crc != stored_crc {
        return Err(DiskError::Gpt(format!(
            "GPT header CRC mismatch at LBA {lba} (stored {stored_crc:08x}, computed {crc:08x})"
        )));
    }
    let hd = Header {
        my_lba: le64(&h, 24),
        alternate_lba: le64(&h, 32),
        first_usable: le64(&h, 40),
        last_usable: le64(&h, 48),
        disk_guid: guid_at(&h, 56),
        entries_lba: le64(&h, 72),
        entry_count: le32(&h, 80),
        entry_size: le32(&h, 84),
        entries_crc: le32(&h, 88),
    };
    if hd.my_lba != lba {
        return Err(DiskError::Gpt(format!(
            "GPT header at LBA {lba} says it is at LBA {}",
            hd.my_lba
        )));
    }
    if hd.entry_size < 128 || !hd.entry_size.is_multiple_of(128) || hd.entry_size > 4096 {
        return Err(DiskError::Gpt(format!(
            "GPT header at LBA {lba}: unsupported entry size {}",
            hd.entry_size
        )));
    }
    if hd.entry_count == 0 || hd.entry_count > 4096 {
        return Err(DiskError::Gpt(format!(
            "GPT header at LBA {lba}: unsupported entry count {}",
            hd.entry_count
        )));
    }
    let entry_sectors =
        (u64::from(hd.entry_count) * u64::from(hd.entry_size)).div_ceil(SECTOR_SIZE);
    if hd.entries_lba == 0 || hd.entries_lba.saturating_add(entry_sectors) > disk_sectors {
        return Err(DiskError::Gpt(format!(
            "GPT header at LBA {lba}: entries at LBA {} ({entry_sectors} sectors) run past the disk",
            hd.entries_lba
        )));
    }
    if hd.alternate_lba >= disk_sectors {
        return Err(DiskError::Gpt(format!(
            "GPT header at LBA {lba}: alternate header LBA {} is past the disk end ({disk_sectors} sectors)",
            hd.alternate_lba
        )));
    }
    Ok(hd)
}

fn read_entries(
    disk: &mut (impl Read + Seek),
    h: &Header,
    which: &str,
) -> Result<Vec<u8>, DiskError> {
    let len = h.entry_count as usize * h.entry_size as usize;
    let bytes = read_at(
        disk,
        h.entries_lba * SECTOR_SIZE,
        len,
        &format!("the {which} GPT entries"),
    )?;
    let crc = crc32fast::hash(&bytes);
    if crc != h.entries_crc {
        return Err(DiskError::Gpt(format!(
            "{which} GPT entries CRC mismatch at LBA {} (stored {:08x}, computed {crc:08x})",
            h.entries_lba, h.entries_crc
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sample() -> Gpt {
        let l = layout(&[64 * MIB, 100 * MIB + 1]).unwrap();
        Gpt {
            disk_guid: Guid::derive(b"disk"),
            total_sectors: l.total_sectors,
            partitions: vec![
                GptPartition {
                    name: "EDGE-ESP".into(),
                    type_guid: Guid::EFI_SYSTEM,
                    guid: Guid::derive(b"esp"),
                    first_lba: l.extents[0].first_lba,
                    last_lba: l.extents[0].last_lba,
                    attributes: 0,
                },
                GptPartition {
                    name: "edge-root-a ü".into(),
                    type_guid: Guid::LINUX_FILESYSTEM,
                    guid: Guid::derive(b"root"),
                    first_lba: l.extents[1].first_lba,
                    last_lba: l.extents[1].last_lba,
                    attributes: 1 << 60,
                },
            ],
        }
    }

    fn written(g: &Gpt) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        g.write(&mut c).unwrap();
        c.into_inner()
    }

    #[test]
    fn guid_text_round_trip_and_disk_order() {
        let g = Guid::parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").unwrap();
        assert_eq!(g, Guid::EFI_SYSTEM);
        assert_eq!(g.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(g.to_disk_bytes()[..4], [0x28, 0x73, 0x2A, 0xC1]);
        assert_eq!(g.to_disk_bytes()[8..10], [0xBA, 0x4B]);
        assert_eq!(
            "0fc63daf-8483-4772-8e79-3d69d8477de4"
                .parse::<Guid>()
                .unwrap(),
            Guid::LINUX_FILESYSTEM
        );
        for bad in [
            "",
            "C12A7328F81F11D2BA4B00A0C93EC93B",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93",
            "G12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC9é",
        ] {
            assert!(Guid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_guids_are_stable_v4() {
        let a = Guid::derive(b"seed");
        assert_eq!(a, Guid::derive(b"seed"));
        assert_ne!(a, Guid::derive(b"seed2"));
        let s = a.to_string();
        assert_eq!(&s[14..15], "4", "{s}");
        assert!("89AB".contains(&s[19..20]), "{s}");
        assert_eq!(Guid::parse(&s).unwrap(), a);
    }

    #[test]
    fn layout_is_mib_aligned() {
        let l = layout(&[64 * MIB, 1, 3 * MIB]).unwrap();
        assert_eq!(
            l.extents[0],
            Extent {
                first_lba: 2048,
                last_lba: 2048 + 131072 - 1
            }
        );
        assert_eq!(l.extents[1].first_lba, 2048 + 131072);
        assert_eq!(l.extents[1].size_bytes(), MIB);
        assert_eq!(l.extents[2].first_lba, l.extents[1].last_lba + 1);
        assert!(l.extents.iter().all(|e| e.offset_bytes() % MIB == 0));
        assert_eq!(l.total_sectors, l.extents[2].last_lba + 1 + 33);
        assert!(layout(&[0]).is_err());
        assert!(layout(&[u64::MAX]).is_err());
    }

    #[test]
    fn write_then_read_round_trips() {
        let g = sample();
        let bytes = written(&g);
        assert_eq!(bytes.len() as u64, g.total_sectors * SECTOR_SIZE);
        assert_eq!(&bytes[512..520], b"EFI PART");
        assert_eq!(&bytes[bytes.len() - 512..bytes.len() - 504], b"EFI PART");
        assert_eq!(bytes[446 + 4], 0xEE);
        let back = Gpt::read(&mut Cursor::new(&bytes)).unwrap();
        assert_eq!(back, g);
        assert_eq!(written(&g), bytes, "deterministic");
    }

    #[test]
    fn read_rejects_corruption() {
        let bytes = written(&sample());
        let mut b = bytes.clone();
        b[512 + 40] ^= 1;
        let e = Gpt::read(&mut Cursor::new(&b)).unwrap_err().to_string();
        assert!(e.contains("GPT header CRC mismatch at LBA 1"), "{e}");
        let mut b = bytes.clone();
        b[1024 + 60] ^= 1;
        let e = Gpt::read(&mut Cursor::new(&b)).unwrap_err().to_string();
        assert!(
            e.contains("primary GPT entries CRC mismatch at LBA 2"),
            "{e}"
        );
        let mut b = bytes.clone();
        let n = b.len();
        b[n - 512] = b'X';
        let e = Gpt::read(&mut Cursor::new(&b)).unwrap_err().to_string();
        assert!(e.contains("signature"), "{e}");
        let mut b = bytes.clone();
        b[510] = 0;
        assert!(Gpt::read(&mut Cursor::new(&b)).is_err());
        assert!(Gpt::read(&mut Cursor::new(&bytes[..bytes.len() - 512])).is_err());
        assert!(Gpt::read(&mut Cursor::new(vec![0u8; 100])).is_err());
        // Arbitrary garbage never panics.
        let mut x = 0x1234_5678u32;
        for _ in 0..200 {
            let mut b = bytes[..64 * 1024].to_vec();
            for _ in 0..8 {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let i = (x as usize >> 8) % 17_000;
                b[i] = (x >> 3) as u8;
            }
            let _ = Gpt::read(&mut Cursor::new(&b));
        }
    }

    #[test]
    fn write_rejects_bad_tables() {
        let mut g = sample();
        g.partitions[1].first_lba = g.partitions[0].last_lba;
        assert!(
            g.write(&mut Cursor::new(Vec::new()))
                .unwrap_err()
                .to_string()
                .contains("overlaps")
        );
        let mut g = sample();
        g.partitions[0].name = "x".repeat(37);
        assert!(g.write(&mut Cursor::new(Vec::new())).is_err());
        let mut g = sample();
        g.partitions[1].last_lba = g.total_sectors - 33;
        assert!(
            g.write(&mut Cursor::new(Vec::new()))
                .unwrap_err()
                .to_string()
                .contains("usable")
        );
        let mut g = sample();
        g.partitions[0].first_lba = 33;
        assert!(g.write(&mut Cursor::new(Vec::new())).is_err());
        let mut g = sample();
        g.partitions[0].type_guid = Guid::ZERO;
        assert!(g.write(&mut Cursor::new(Vec::new())).is_err());
    }
}
