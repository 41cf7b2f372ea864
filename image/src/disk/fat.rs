//! FAT filesystem images built in memory (the ESP, the Raspberry Pi boot
//! partition) with `fatfs` 0.3.6, and read back for `inspect` and tests.
//!
//! Owns: formatting (FAT32 from 33 MiB up, below that FAT16 or, for tiny
//! volumes, FAT12 as `fatfs` picks), creating directories as needed and
//! files in the caller's order, and reading every file back.
//!
//! Must not: read the host clock. `fatfs` stamps entries through the
//! `TimeProvider` in its `FsOptions`; 0.3.6 wants a `&'static dyn
//! TimeProvider`, so [`FixedTime`] is one static provider that answers with
//! the timestamp a thread-local holds for the duration of one
//! [`build_fat`] call (no leaked allocation, no global state shared across
//! threads). Every create/modify/access stamp is therefore the spec's.
//! Two fix-ups after `fatfs` 0.3.6 writes (checked with `fsck.vfat -n`):
//! its directories begin [LFN, ".", LFN, ".."] and a FAT32 root child's ".."
//! names the root's cluster instead of 0; `fix_dot_entries` rewrites
//! both. `fs.stats()` before unmount records the free-cluster count.
//! Readers must not panic on malformed bytes: walks are bounded and a panic
//! inside `fatfs` is caught and reported as a malformed filesystem.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use fatfs::{
    Date, DateTime, FatType, FileSystem, FormatVolumeOptions, FsOptions, Time, TimeProvider,
};

use super::DiskError;

const MIB: u64 = 1024 * 1024;
/// From this size up the volume is FAT32 (enough 512-byte clusters for FAT32).
pub const FAT32_MIN_BYTES: u64 = 33 * MIB;
const MAX_DEPTH: usize = 64;

/// A FAT (DOS) date and time, 1980-01-01 00:00:00 to 2107-12-31 23:59:59,
/// in UTC. FAT stores modification times with 2-second resolution: an odd
/// second is kept in the creation time only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FatTimestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl FatTimestamp {
    /// From Unix epoch seconds (UTC), e.g. `SOURCE_DATE_EPOCH`.
    pub fn from_unix_seconds(secs: i64) -> Result<FatTimestamp, DiskError> {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(1980..=2107).contains(&year) {
            return Err(DiskError::Fat(format!(
                "timestamp {secs} (year {year}) is outside FAT's 1980..=2107"
            )));
        }
        Ok(FatTimestamp {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        })
    }

    fn validate(&self) -> Result<(), DiskError> {
        let ok = (1980..=2107).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if ok {
            Ok(())
        } else {
            Err(DiskError::Fat(format!("invalid FAT timestamp {self:?}")))
        }
    }

    fn to_fatfs(self) -> DateTime {
        DateTime {
            date: Date {
                year: self.year,
                month: self.month.into(),
                day: self.day.into(),
            },
            time: Time {
                hour: self.hour.into(),
                min: self.minute.into(),
                sec: self.second.into(),
                millis: 0,
            },
        }
    }
}

/// What to format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FatSpec {
    /// Volume size; a multiple of 512.
    pub size_bytes: u64,
    /// Up to 11 characters: A-Z, 0-9, space and `!#$%&'()-@^_{}~`.
    pub label: String,
    pub volume_id: u32,
    /// Unix epoch seconds (UTC, e.g. `SOURCE_DATE_EPOCH`): every directory
    /// entry's creation, modification and access stamp. Must fall in
    /// 1980..=2107 (see [`FatTimestamp`]).
    pub timestamp: u64,
}

/// One thing to put on the volume; paths are relative, `/`-separated
/// (`EFI/BOOT/BOOTX64.EFI`). Parent directories are created as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FatEntry {
    Dir { path: String },
    File { path: String, data: Vec<u8> },
}

impl FatEntry {
    pub fn dir(path: impl Into<String>) -> FatEntry {
        FatEntry::Dir { path: path.into() }
    }
    pub fn file(path: impl Into<String>, data: impl Into<Vec<u8>>) -> FatEntry {
        FatEntry::File {
            path: path.into(),
            data: data.into(),
        }
    }
}

thread_local! {
    static NOW: Cell<Option<DateTime>> = const { Cell::new(None) };
}

/// The time provider handed to `fatfs`: the thread's current build stamp.
#[derive(Debug)]
struct FixedTime;

static FIXED_TIME: FixedTime = FixedTime;

impl TimeProvider for FixedTime {
    fn get_current_date(&self) -> Date {
        self.get_current_date_time().date
    }
    fn get_current_date_time(&self) -> DateTime {
        // Outside a build (never reached: only build_fat mounts with this
        // provider) answer with the DOS epoch, never the host clock.
        NOW.with(|n| n.get()).unwrap_or(DateTime {
            date: Date {
                year: 1980,
                month: 1,
                day: 1,
            },
            time: Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        })
    }
}

/// Sets the thread's stamp for one build, restores the previous one after.
struct StampGuard(Option<DateTime>);

impl StampGuard {
    fn set(t: DateTime) -> StampGuard {
        StampGuard(NOW.with(|n| n.replace(Some(t))))
    }
}

impl Drop for StampGuard {
    fn drop(&mut self) {
        NOW.with(|n| n.set(self.0));
    }
}

fn label_bytes(label: &str) -> Result<[u8; 11], DiskError> {
    const EXTRA: &[u8] = b" !#$%&'()-@^_{}~";
    if label.len() > 11 || label.is_empty() {
        return Err(DiskError::Fat(format!(
            "label {label:?} must be 1 to 11 characters"
        )));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || EXTRA.contains(&b))
    {
        return Err(DiskError::Fat(format!(
            "label {label:?} may hold only A-Z, 0-9, space and !#$%&'()-@^_{{}}~"
        )));
    }
    let mut out = [b' '; 11];
    out[..label.len()].copy_from_slice(label.as_bytes());
    Ok(out)
}

fn check_path(path: &str) -> Result<Vec<&str>, DiskError> {
    let parts: Vec<&str> = path.split('/').collect();
    let bad = parts.iter().any(|p| {
        p.is_empty()
            || *p == "."
            || *p == ".."
            || p.len() > 255
            || p.chars()
                .any(|c| c.is_control() || "\"*:<>?\\|".contains(c))
    });
    if bad {
        return Err(DiskError::Fat(format!(
            "path {path:?}: want relative `/`-separated names without empty, `.`, `..` or \"*:<>?\\| parts"
        )));
    }
    Ok(parts)
}

/// Format a volume of `spec.size_bytes` and write `entries` in the order
/// given. Same spec and entries give the same bytes.
pub fn build_fat(spec: &FatSpec, entries: &[FatEntry]) -> Result<Vec<u8>, DiskError> {
    let secs = i64::try_from(spec.timestamp).map_err(|_| {
        DiskError::Fat(format!(
            "timestamp {} is outside FAT's 1980..=2107",
            spec.timestamp
        ))
    })?;
    let stamp = FatTimestamp::from_unix_seconds(secs)?;
    stamp.validate()?;
    let label = label_bytes(&spec.label)?;
    if !spec.size_bytes.is_multiple_of(512)
        || spec.size_bytes < 64 * 1024
        || spec.size_bytes / 512 > u64::from(u32::MAX)
    {
        return Err(DiskError::Fat(format!(
            "volume size {} must be a multiple of 512 between 64 KiB and 2 TiB",
            spec.size_bytes
        )));
    }
    let size = usize::try_from(spec.size_bytes).map_err(|_| {
        DiskError::Fat(format!(
            "volume size {} does not fit in memory",
            spec.size_bytes
        ))
    })?;

    // Check every path and the file/dir structure before writing anything.
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut files: BTreeSet<String> = BTreeSet::new();
    for e in entries {
        let (path, is_file) = match e {
            FatEntry::Dir { path } => (path.as_str(), false),
            FatEntry::File { path, .. } => (path.as_str(), true),
        };
        let parts = check_path(path)?;
        let key = |n: usize| parts[..n].join("/").to_ascii_uppercase();
        for n in 1..parts.len() {
            if files.contains(&key(n)) {
                return Err(DiskError::Fat(format!(
                    "path {path:?}: {} is a file",
                    parts[..n].join("/")
                )));
            }
            dirs.insert(key(n));
        }
        let full = key(parts.len());
        if is_file {
            if dirs.contains(&full) || !files.insert(full) {
                return Err(DiskError::Fat(format!(
                    "path {path:?} given twice or already a directory"
                )));
            }
        } else if files.contains(&full) {
            return Err(DiskError::Fat(format!("path {path:?} is already a file")));
        } else {
            dirs.insert(full);
        }
    }

    let fat_hint = if spec.size_bytes >= FAT32_MIN_BYTES {
        FatType::Fat32
    } else {
        FatType::Fat16
    };
    let mut cursor = Cursor::new(vec![0u8; size]);
    fatfs::format_volume(
        &mut cursor,
        FormatVolumeOptions::new()
            .fat_type(fat_hint)
            .volume_id(spec.volume_id)
            .volume_label(label)
            .total_sectors((spec.size_bytes / 512) as u32),
    )
    .map_err(|e| DiskError::Fat(format!("formatting {} bytes: {e}", spec.size_bytes)))?;

    let _stamp = StampGuard::set(stamp.to_fatfs());
    {
        cursor.set_position(0);
        let fs = FileSystem::new(&mut cursor, FsOptions::new().time_provider(&FIXED_TIME))
            .map_err(|e| DiskError::Fat(format!("mounting the new volume: {e}")))?;
        let root = fs.root_dir();
        for e in entries {
            let (path, data) = match e {
                FatEntry::Dir { path } => (path.as_str(), None),
                FatEntry::File { path, data } => (path.as_str(), Some(data.as_slice())),
            };
            let parts: Vec<&str> = path.split('/').collect();
            let dir_count = if data.is_some() {
                parts.len() - 1
            } else {
                parts.len()
            };
            for n in 1..=dir_count {
                root.create_dir(&parts[..n].join("/")).map_err(|e| {
                    DiskError::Fat(format!("creating directory {}: {e}", parts[..n].join("/")))
                })?;
            }
            if let Some(data) = data {
                let mut f = root
                    .create_file(path)
                    .map_err(|e| DiskError::Fat(format!("creating file {path}: {e}")))?;
                f.write_all(data).and_then(|_| f.flush()).map_err(|e| {
                    DiskError::Fat(format!("writing {path} ({} bytes): {e}", data.len()))
                })?;
            }
        }
        drop(root);
        // Counting free clusters records the count in FSInfo (written on
        // unmount), as mkfs.vfat does; fsck.vfat flags it missing otherwise.
        fs.stats()
            .map_err(|e| DiskError::Fat(format!("counting free clusters: {e}")))?;
        fs.unmount()
            .map_err(|e| DiskError::Fat(format!("unmounting the new volume: {e}")))?;
    }
    let mut img = cursor.into_inner();
    fix_dot_entries(&mut img)?;
    Ok(img)
}

/// The geometry of a FAT volume, read from its boot sector.
struct Geometry {
    cluster_bytes: usize,
    fat_offset: usize,
    bits: u8,
    data_offset: usize,
    clusters: u32,
    /// FAT12/16: the fixed root directory region (offset, bytes); FAT32: None.
    fixed_root: Option<(usize, usize)>,
    root_cluster: u32,
}

fn le16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]).into())
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl Geometry {
    fn read(b: &[u8]) -> Option<Geometry> {
        let bps = le16(b, 11)?;
        let spc = usize::from(*b.get(13)?);
        let reserved = le16(b, 14)?;
        let fats = usize::from(*b.get(16)?);
        let root_entries = le16(b, 17)?;
        let fat_size = match le16(b, 22)? {
            0 => le32(b, 36)? as usize,
            n => n,
        };
        let total = match le16(b, 19)? {
            0 => le32(b, 32)? as usize,
            n => n,
        };
        if bps == 0 || spc == 0 {
            return None;
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_sector = reserved + fats * fat_size + root_sectors;
        let clusters = u32::try_from(total.checked_sub(data_sector)? / spc).ok()?;
        let bits = if clusters < 4085 {
            12
        } else if clusters < 65525 {
            16
        } else {
            32
        };
        Some(Geometry {
            cluster_bytes: bps * spc,
            fat_offset: reserved * bps,
            bits,
            data_offset: data_sector * bps,
            clusters,
            fixed_root: (bits != 32)
                .then_some(((reserved + fats * fat_size) * bps, root_sectors * bps)),
            root_cluster: le32(b, 44).unwrap_or(0),
        })
    }

    fn next(&self, b: &[u8], c: u32) -> Option<u32> {
        let c = c as usize;
        let (v, end) = match self.bits {
            12 => {
                let v = le16(b, self.fat_offset + c + c / 2)?;
                (if c % 2 == 1 { v >> 4 } else { v & 0xFFF }, 0xFF8)
            }
            16 => (le16(b, self.fat_offset + 2 * c)?, 0xFFF8),
            _ => (
                (le32(b, self.fat_offset + 4 * c)? & 0x0FFF_FFFF) as usize,
                0x0FFF_FFF8,
            ),
        };
        (v >= 2 && v < end && v < self.clusters as usize + 2).then_some(v as u32)
    }

    /// Byte ranges of a directory: its cluster chain, or the fixed root.
    fn dir_ranges(&self, b: &[u8], first: Option<u32>) -> Vec<(usize, usize)> {
        let Some(mut c) = first else {
            return self.fixed_root.into_iter().collect();
        };
        let mut out = Vec::new();
        while c >= 2 && out.len() <= self.clusters as usize {
            out.push((
                self.data_offset + (c as usize - 2) * self.cluster_bytes,
                self.cluster_bytes,
            ));
            match self.next(b, c) {
                Some(n) => c = n,
                None => break,
            }
        }
        out
    }
}

/// `fatfs` 0.3.6 writes long-name entries before every short entry, `.`
/// and `..` included, so each new directory starts [LFN, ".", LFN, ".."];
/// fsck.vfat calls that corrupt (the dot entries must be the first two).
/// Rewrite each directory's first four slots as [".", "..", deleted,
/// deleted]; and on FAT32 a root child's ".." must point to cluster 0.
/// Only ever run on a volume this module just built.
fn fix_dot_entries(img: &mut [u8]) -> Result<(), DiskError> {
    let geo = Geometry::read(img)
        .ok_or_else(|| DiskError::Fat("unreadable boot sector after formatting".into()))?;
    let root = if geo.bits == 32 {
        Some(geo.root_cluster)
    } else {
        None
    };
    let mut todo: Vec<Option<u32>> = vec![root];
    let mut seen = 0usize;
    while let Some(dir) = todo.pop() {
        seen += 1;
        if seen > geo.clusters as usize + 1 {
            return Err(DiskError::Fat("directory walk does not end (loop?)".into()));
        }
        if let Some(c) = dir.filter(|_| dir != root) {
            let at = geo.data_offset + (c as usize - 2) * geo.cluster_bytes;
            let slots = img.get_mut(at..at + 128).ok_or_else(|| {
                DiskError::Fat(format!("directory cluster {c} outside the volume"))
            })?;
            let is_lfn = |s: &[u8]| s[11] == 0x0F;
            if is_lfn(&slots[0..32])
                && &slots[32..43] == b".          "
                && is_lfn(&slots[64..96])
                && &slots[96..107] == b"..         "
            {
                slots.copy_within(32..64, 0);
                slots.copy_within(96..128, 32);
                slots[64..128].fill(0);
                slots[64] = 0xE5;
                slots[96] = 0xE5;
            }
            // ".." of a child of the FAT32 root must say cluster 0, not the
            // root's cluster (fatfs writes the latter).
            let dotdot = (u32::from(u16::from_le_bytes([slots[52], slots[53]])) << 16)
                | u32::from(u16::from_le_bytes([slots[58], slots[59]]));
            if geo.bits == 32 && &slots[32..43] == b"..         " && dotdot == geo.root_cluster {
                slots[52..54].fill(0);
                slots[58..60].fill(0);
            }
        }
        for (off, len) in geo.dir_ranges(img, dir) {
            let Some(region) = img.get(off..off + len) else {
                break;
            };
            for e in region.chunks_exact(32) {
                if e[0] == 0 {
                    break;
                }
                let attr = e[11];
                if e[0] == 0xE5
                    || attr == 0x0F
                    || attr & 0x08 != 0
                    || attr & 0x10 == 0
                    || e[0] == b'.'
                {
                    continue;
                }
                let cluster = (u32::from(u16::from_le_bytes([e[20], e[21]])) << 16)
                    | u32::from(u16::from_le_bytes([e[26], e[27]]));
                if cluster >= 2 {
                    todo.push(Some(cluster));
                }
            }
        }
    }
    Ok(())
}

fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, DiskError>) -> Result<T, DiskError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(DiskError::Fat(format!(
            "malformed filesystem: the FAT reader failed while {what}"
        ))),
    }
}

/// Every file on the volume with its contents, depth first in directory
/// order, paths `/`-separated without a leading `/`.
pub fn read_fat(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DiskError> {
    guarded("listing files", || {
        let mut cursor = Cursor::new(bytes.to_vec());
        let fs = FileSystem::new(&mut cursor, FsOptions::new())
            .map_err(|e| DiskError::Fat(format!("not a FAT filesystem: {e}")))?;
        let mut out = Vec::new();
        let mut budget = Budget {
            entries: bytes.len() / 32 + 16,
            data: bytes.len() as u64,
        };
        walk(&fs.root_dir(), "", 0, &mut budget, &mut out)?;
        Ok(out)
    })
}

struct Budget {
    entries: usize,
    data: u64,
}

fn walk<T: fatfs::ReadWriteSeek>(
    dir: &fatfs::Dir<'_, T>,
    prefix: &str,
    depth: usize,
    budget: &mut Budget,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), DiskError> {
    if depth > MAX_DEPTH {
        return Err(DiskError::Fat(format!(
            "directories nested deeper than {MAX_DEPTH} at {prefix}"
        )));
    }
    for entry in dir.iter() {
        let entry =
            entry.map_err(|e| DiskError::Fat(format!("reading directory /{prefix}: {e}")))?;
        budget.entries = budget.entries.checked_sub(1).ok_or_else(|| {
            DiskError::Fat(format!(
                "more directory entries than the volume can hold (a loop?) at /{prefix}"
            ))
        })?;
        let name = entry.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.is_dir() {
            walk(&entry.to_dir(), &path, depth + 1, budget, out)?;
        } else if entry.is_file() {
            let len = entry.len();
            budget.data = budget.data.checked_sub(len).ok_or_else(|| {
                DiskError::Fat(format!(
                    "file {path} claims {len} bytes, more than the volume holds"
                ))
            })?;
            let mut data = Vec::with_capacity(len as usize);
            entry
                .to_file()
                .take(len)
                .read_to_end(&mut data)
                .map_err(|e| DiskError::Fat(format!("reading file {path}: {e}")))?;
            if data.len() as u64 != len {
                return Err(DiskError::Fat(format!(
                    "file {path}: read {} of {len} bytes",
                    data.len()
                )));
            }
            out.push((path, data));
        }
    }
    Ok(())
}

/// The volume label: the root directory's label entry if there is one,
/// else the boot sector's; `None` for no label (`NO NAME`) or unreadable
/// bytes. Works on the first sectors of a volume alone (then from the boot
/// sector), which is what `inspect` hands it.
pub fn fat_label(bytes: &[u8]) -> Option<String> {
    let mounted = guarded("reading the label", || {
        let mut cursor = Cursor::new(bytes.to_vec());
        let fs = FileSystem::new(&mut cursor, FsOptions::new())
            .map_err(|e| DiskError::Fat(format!("not a FAT filesystem: {e}")))?;
        let root = fs.read_volume_label_from_root_dir().ok().flatten();
        Ok(root.unwrap_or_else(|| fs.volume_label()))
    });
    let label = match mounted {
        Ok(l) => l,
        Err(_) => bpb_label(bytes)?,
    };
    Some(label.trim_end().to_string()).filter(|l| !l.is_empty() && l != "NO NAME")
}

/// The label field of the boot sector's extended BPB (offset 0x47 on FAT32,
/// 0x2B on FAT12/16), if the sector looks like a FAT boot sector.
fn bpb_label(b: &[u8]) -> Option<String> {
    if b.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    let fat16_sectors_per_fat = u16::from_le_bytes([*b.get(0x16)?, *b.get(0x17)?]);
    let (sig_at, label_at) = if fat16_sectors_per_fat == 0 {
        (0x42, 0x47)
    } else {
        (0x26, 0x2B)
    };
    if *b.get(sig_at)? != 0x29 {
        return None;
    }
    let raw = b.get(label_at..label_at + 11)?;
    if !raw.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return None;
    }
    Some(String::from_utf8_lossy(raw).into_owned())
}

/// The FAT type `fatfs` chose, for tests and inspect.
pub fn fat_type(bytes: &[u8]) -> Result<&'static str, DiskError> {
    guarded("reading the boot sector", || {
        let mut cursor = Cursor::new(bytes.to_vec());
        let fs = FileSystem::new(&mut cursor, FsOptions::new())
            .map_err(|e| DiskError::Fat(format!("not a FAT filesystem: {e}")))?;
        Ok(match fs.fat_type() {
            FatType::Fat12 => "FAT12",
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: u64) -> FatSpec {
        FatSpec {
            size_bytes: size,
            label: "EDGE-BOOT".into(),
            volume_id: 0x1234_ABCD,
            timestamp: 1_700_000_000,
        }
    }

    fn big() -> Vec<u8> {
        (0..5 * MIB as usize + 123)
            .map(|i| (i * 7 % 251) as u8)
            .collect()
    }

    #[test]
    fn unix_to_dos() {
        let t = FatTimestamp::from_unix_seconds(1_700_000_000).unwrap();
        assert_eq!(
            t,
            FatTimestamp {
                year: 2023,
                month: 11,
                day: 14,
                hour: 22,
                minute: 13,
                second: 20
            }
        );
        let t = FatTimestamp::from_unix_seconds(315_532_800).unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (1980, 1, 1, 0));
        let t = FatTimestamp::from_unix_seconds(951_782_400).unwrap(); // 2000-02-29
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
        assert!(FatTimestamp::from_unix_seconds(0).is_err());
        assert!(FatTimestamp::from_unix_seconds(i64::MAX / 4).is_err());
    }

    #[test]
    fn fat32_build_is_deterministic_and_reads_back() {
        let kernel = big();
        let entries = [
            FatEntry::dir("loader/entries"),
            FatEntry::file("EFI/BOOT/BOOTX64.EFI", kernel.clone()),
            FatEntry::file("EFI/Linux/edge a.conf", &b"hello"[..]),
            FatEntry::file("empty", Vec::new()),
        ];
        let a = build_fat(&spec(40 * MIB), &entries).unwrap();
        let b = build_fat(&spec(40 * MIB), &entries).unwrap();
        assert_eq!(a.len() as u64, 40 * MIB);
        assert!(a == b, "two builds differ");
        assert_eq!(fat_type(&a).unwrap(), "FAT32");
        assert_eq!(fat_label(&a).as_deref(), Some("EDGE-BOOT"));
        assert_eq!(
            u32::from_le_bytes([a[0x43], a[0x44], a[0x45], a[0x46]]),
            0x1234_ABCD
        );
        let files = read_fat(&a).unwrap();
        let want: Vec<(String, Vec<u8>)> = vec![
            ("EFI/BOOT/BOOTX64.EFI".into(), kernel.clone()),
            ("EFI/Linux/edge a.conf".into(), b"hello".to_vec()),
            ("empty".into(), vec![]),
        ];
        assert_eq!(files, want);
        // A different stamp changes the bytes: the stamp is what is written.
        let mut s2 = spec(40 * MIB);
        s2.timestamp = 1_600_000_000;
        assert!(build_fat(&s2, &entries).unwrap() != a);
    }

    /// Every subdirectory's first two slots are the "." and ".." short entries.
    fn assert_dots_first(img: &[u8]) -> usize {
        let geo = Geometry::read(img).unwrap();
        let mut n = 0;
        for cl in 2..geo.clusters + 2 {
            let at = geo.data_offset + (cl as usize - 2) * geo.cluster_bytes;
            let s = &img[at..at + 64];
            if &s[..11] == b".          " {
                assert_eq!(&s[32..43], b"..         ", "cluster {cl}");
                assert_eq!(s[11] & 0x10, 0x10);
                if geo.bits == 32 {
                    let dotdot = u16::from_le_bytes([s[52], s[53]]) as u32 * 65536
                        + u16::from_le_bytes([s[58], s[59]]) as u32;
                    assert_ne!(
                        dotdot, geo.root_cluster,
                        "cluster {cl}: .. must be 0 for the root"
                    );
                }
                n += 1;
            }
            assert!(
                !(s[11] == 0x0F && &s[32..43] == b".          "),
                "LFN before . in cluster {cl}"
            );
        }
        n
    }

    #[test]
    fn directories_start_with_dot_entries() {
        let entries = [
            FatEntry::dir("a/b/c"),
            FatEntry::file("EFI/BOOT/X.EFI", vec![1u8; 3000]),
            FatEntry::dir("status"),
        ];
        for size in [40 * MIB, 16 * MIB, 2 * MIB] {
            let img = build_fat(&spec(size), &entries).unwrap();
            assert_eq!(assert_dots_first(&img), 6, "size {size}");
            let files = read_fat(&img).unwrap();
            assert_eq!(files, vec![("EFI/BOOT/X.EFI".to_string(), vec![1u8; 3000])]);
        }
    }

    #[test]
    fn timestamps_are_the_given_one() {
        let a = build_fat(&spec(40 * MIB), &[FatEntry::file("A.TXT", &b"x"[..])]).unwrap();
        let mut c = Cursor::new(a);
        let fs = FileSystem::new(&mut c, FsOptions::new()).unwrap();
        let e = fs
            .root_dir()
            .iter()
            .map(|e| e.unwrap())
            .find(|e| e.file_name() == "A.TXT")
            .unwrap();
        let want = FatTimestamp::from_unix_seconds(1_700_000_000)
            .unwrap()
            .to_fatfs();
        assert_eq!(e.created(), want);
        assert_eq!(e.modified(), want);
        assert_eq!(e.accessed(), want.date);
    }

    #[test]
    fn small_volume_is_fat16_or_fat12() {
        let a = build_fat(
            &spec(16 * MIB),
            &[FatEntry::file("config.txt", &b"arm_64bit=1\n"[..])],
        )
        .unwrap();
        assert_eq!(fat_type(&a).unwrap(), "FAT16");
        assert_eq!(
            read_fat(&a).unwrap(),
            vec![("config.txt".to_string(), b"arm_64bit=1\n".to_vec())]
        );
        assert_eq!(fat_label(&a).as_deref(), Some("EDGE-BOOT"));
    }

    #[test]
    fn rejects_bad_specs() {
        let mut s = spec(40 * MIB);
        s.label = "edge-boot".into();
        assert!(build_fat(&s, &[]).is_err());
        s.label = "TWELVE-CHARS".into();
        assert!(build_fat(&s, &[]).is_err());
        assert!(build_fat(&spec(40 * MIB + 1), &[]).is_err());
        let s = spec(40 * MIB);
        for bad in ["/abs", "a//b", "a/../b", "", "a:b"] {
            assert!(build_fat(&s, &[FatEntry::dir(bad)]).is_err(), "{bad}");
        }
        let dup = [
            FatEntry::file("a", Vec::new()),
            FatEntry::file("A", Vec::new()),
        ];
        assert!(build_fat(&s, &dup).is_err());
        let under_file = [
            FatEntry::file("a", Vec::new()),
            FatEntry::file("a/b", Vec::new()),
        ];
        assert!(build_fat(&s, &under_file).is_err());
        let too_big = vec![0u8; 3 * MIB as usize];
        let e = build_fat(&spec(2 * MIB), &[FatEntry::file("k", too_big)]).unwrap_err();
        assert!(e.to_string().contains("writing k"), "{e}");
    }

    #[test]
    fn readers_survive_garbage() {
        assert!(read_fat(&[0u8; 4096]).is_err());
        // The first sectors alone still give the label (inspect reads only those).
        let img = build_fat(&spec(40 * MIB), &[]).unwrap();
        assert_eq!(fat_label(&img[..4096]).as_deref(), Some("EDGE-BOOT"));
        let img = build_fat(&spec(16 * MIB), &[]).unwrap();
        assert_eq!(fat_label(&img[..512]).as_deref(), Some("EDGE-BOOT"));
        assert_eq!(fat_label(&[0u8; 10]), None);
        let img = build_fat(&spec(2 * MIB), &[FatEntry::file("a/b/c", vec![1u8; 5000])]).unwrap();
        let mut x = 0x9E37_79B9u32;
        for _ in 0..300 {
            let mut b = img.clone();
            for _ in 0..16 {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Mostly the boot sector, FATs and root directory.
                let i = (x as usize >> 8) % 40_000;
                b[i] = (x >> 3) as u8;
            }
            let _ = read_fat(&b);
            let _ = fat_label(&b);
        }
    }
}
