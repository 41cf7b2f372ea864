//! Classic MBR partition table (LBA 0), for boards whose firmware reads
//! only MBR (the Raspberry Pi): disk signature, up to four primary entries
//! with LBA start and length, CHS fields set to the conventional "beyond
//! 1024 cylinders" 0xFE 0xFF 0xFF, and the 0x55AA signature.
//!
//! Owns: encoding and decoding that one sector.
//!
//! Must not: write anything but sector 0 (partition contents are the
//! caller's), generate the disk signature (it is an argument), or panic on
//! a malformed sector in [`Mbr::read`] / [`Mbr::from_sector`].

use std::io::{Read, Seek, SeekFrom, Write};

use super::DiskError;

/// Partition type: FAT32 with LBA addressing.
pub const FAT32_LBA: u8 = 0x0C;
/// Partition type: Linux native.
pub const LINUX: u8 = 0x83;
/// CHS address meaning "use the LBA fields".
const CHS_BEYOND: [u8; 3] = [0xFE, 0xFF, 0xFF];

/// One primary partition entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbrPartition {
    pub bootable: bool,
    /// Partition type byte ([`FAT32_LBA`], [`LINUX`], ...).
    pub kind: u8,
    pub first_lba: u32,
    pub sectors: u32,
}

/// An MBR: written to slots 1..=n in order; read back as the non-empty
/// slots in slot order (an empty slot between used ones is skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mbr {
    pub disk_signature: u32,
    pub partitions: Vec<MbrPartition>,
}

impl Mbr {
    fn validate(&self) -> Result<(), DiskError> {
        if self.partitions.len() > 4 {
            return Err(DiskError::Mbr(format!(
                "{} partitions, an MBR holds at most 4",
                self.partitions.len()
            )));
        }
        for (i, p) in self.partitions.iter().enumerate() {
            let n = i + 1;
            if p.kind == 0 {
                return Err(DiskError::Mbr(format!(
                    "partition {n} has type 0 (means unused)"
                )));
            }
            if p.sectors == 0 || p.first_lba == 0 {
                return Err(DiskError::Mbr(format!(
                    "partition {n} must start after LBA 0 and be non-empty (start {}, {} sectors)",
                    p.first_lba, p.sectors
                )));
            }
            if u64::from(p.first_lba) + u64::from(p.sectors) > u64::from(u32::MAX) + 1 {
                return Err(DiskError::Mbr(format!(
                    "partition {n} ends beyond the 2 TiB MBR limit"
                )));
            }
            for (j, q) in self.partitions.iter().enumerate().take(i) {
                let (a0, a1) = (
                    u64::from(p.first_lba),
                    u64::from(p.first_lba) + u64::from(p.sectors),
                );
                let (b0, b1) = (
                    u64::from(q.first_lba),
                    u64::from(q.first_lba) + u64::from(q.sectors),
                );
                if a0 < b1 && b0 < a1 {
                    return Err(DiskError::Mbr(format!(
                        "partition {n} overlaps partition {}",
                        j + 1
                    )));
                }
            }
        }
        Ok(())
    }

    /// The 512-byte sector: boot code area zero, signature at 440.
    pub fn to_sector(&self) -> Result<[u8; 512], DiskError> {
        self.validate()?;
        let mut s = [0u8; 512];
        s[440..444].copy_from_slice(&self.disk_signature.to_le_bytes());
        for (i, p) in self.partitions.iter().enumerate() {
            let e = &mut s[446 + 16 * i..446 + 16 * (i + 1)];
            e[0] = if p.bootable { 0x80 } else { 0x00 };
            e[1..4].copy_from_slice(&CHS_BEYOND);
            e[4] = p.kind;
            e[5..8].copy_from_slice(&CHS_BEYOND);
            e[8..12].copy_from_slice(&p.first_lba.to_le_bytes());
            e[12..16].copy_from_slice(&p.sectors.to_le_bytes());
        }
        s[510] = 0x55;
        s[511] = 0xAA;
        Ok(s)
    }

    /// Write sector 0.
    pub fn write(&self, disk: &mut (impl Write + Seek)) -> Result<(), DiskError> {
        let s = self.to_sector()?;
        disk.seek(SeekFrom::Start(0))
            .and_then(|_| disk.write_all(&s))
            .map_err(DiskError::io("writing the MBR at LBA 0"))
    }

    /// Decode sector 0.
    pub fn from_sector(s: &[u8]) -> Result<Mbr, DiskError> {
        if s.len() < 512 {
            return Err(DiskError::Mbr(format!(
                "sector 0 is {} bytes, want 512",
                s.len()
            )));
        }
        if s[510..512] != [0x55, 0xAA] {
            return Err(DiskError::Mbr(format!(
                "no 0x55AA signature at bytes 510..512 of LBA 0 (found {:02X}{:02X})",
                s[510], s[511]
            )));
        }
        let mut partitions = Vec::new();
        for i in 0..4 {
            let e = &s[446 + 16 * i..446 + 16 * (i + 1)];
            let kind = e[4];
            if kind == 0 {
                continue;
            }
            if e[0] != 0 && e[0] != 0x80 {
                return Err(DiskError::Mbr(format!(
                    "entry {} has an invalid boot flag {:#04x}",
                    i + 1,
                    e[0]
                )));
            }
            partitions.push(MbrPartition {
                bootable: e[0] == 0x80,
                kind,
                first_lba: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
                sectors: u32::from_le_bytes([e[12], e[13], e[14], e[15]]),
            });
        }
        Ok(Mbr {
            disk_signature: u32::from_le_bytes([s[440], s[441], s[442], s[443]]),
            partitions,
        })
    }

    /// Read and decode sector 0 of `disk`.
    pub fn read(disk: &mut (impl Read + Seek)) -> Result<Mbr, DiskError> {
        let mut s = [0u8; 512];
        disk.seek(SeekFrom::Start(0))
            .and_then(|_| disk.read_exact(&mut s))
            .map_err(DiskError::io("reading the MBR at LBA 0"))?;
        Mbr::from_sector(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn pi() -> Mbr {
        Mbr {
            disk_signature: 0xDEAD_BEEF,
            partitions: vec![
                MbrPartition {
                    bootable: true,
                    kind: FAT32_LBA,
                    first_lba: 2048,
                    sectors: 131072,
                },
                MbrPartition {
                    bootable: false,
                    kind: LINUX,
                    first_lba: 133120,
                    sectors: 204800,
                },
            ],
        }
    }

    #[test]
    fn layout_bytes() {
        let s = pi().to_sector().unwrap();
        assert_eq!(&s[440..444], &[0xEF, 0xBE, 0xAD, 0xDE]);
        assert_eq!(
            &s[446..462],
            &[
                0x80, 0xFE, 0xFF, 0xFF, 0x0C, 0xFE, 0xFF, 0xFF, 0x00, 0x08, 0, 0, 0, 0, 2, 0
            ]
        );
        assert_eq!(s[462 + 4], 0x83);
        assert!(s[478..510].iter().all(|&b| b == 0));
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert!(s[..440].iter().all(|&b| b == 0));
    }

    #[test]
    fn round_trip() {
        let mut c = Cursor::new(Vec::new());
        pi().write(&mut c).unwrap();
        assert_eq!(c.get_ref().len(), 512);
        assert_eq!(Mbr::read(&mut c).unwrap(), pi());
    }

    #[test]
    fn rejects_bad() {
        let mut m = pi();
        m.partitions[1].first_lba = 4000;
        assert!(m.to_sector().unwrap_err().to_string().contains("overlaps"));
        let mut m = pi();
        m.partitions.extend([m.partitions[0]; 3]);
        assert!(m.to_sector().is_err());
        let mut m = pi();
        m.partitions[0].sectors = 0;
        assert!(m.to_sector().is_err());
        let mut m = pi();
        m.partitions[0].kind = 0;
        assert!(m.to_sector().is_err());
        assert!(
            Mbr::from_sector(&[0u8; 512])
                .unwrap_err()
                .to_string()
                .contains("0x55AA")
        );
        assert!(Mbr::from_sector(&[0u8; 10]).is_err());
        let mut s = pi().to_sector().unwrap();
        s[446] = 0x12;
        assert!(Mbr::from_sector(&s).is_err());
        assert!(Mbr::read(&mut Cursor::new(vec![0u8; 100])).is_err());
    }
}
