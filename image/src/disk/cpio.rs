//! newc ("070701") cpio archives, the format the Linux kernel unpacks as an
//! initramfs.
//!
//! Owns: writing entries in the caller's order with fixed metadata (uid and
//! gid 0, one mtime argument, inodes numbered from 1, nlink 2 for
//! directories and 1 otherwise, device numbers 0, check 0), 4-byte padding
//! and the `TRAILER!!!` record; and parsing such archives back.
//!
//! Must not: sort, stat or read files (the caller supplies bytes and sorts),
//! compress (the caller pipes the archive through zstd), or panic on a
//! malformed archive in [`read`].

use std::collections::BTreeSet;

use super::DiskError;

const MAGIC: &[u8; 6] = b"070701";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFMT: u32 = 0o170000;

/// One archive member. Paths are relative (`bin/busybox`, `init`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `mode` is the permission bits (e.g. 0o755), at most 0o7777.
    Dir { path: String, mode: u32 },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    /// Mode 0o777, the target as the data.
    Symlink { path: String, target: String },
}

impl Entry {
    pub fn dir(path: impl Into<String>, mode: u32) -> Entry {
        Entry::Dir {
            path: path.into(),
            mode,
        }
    }
    pub fn file(path: impl Into<String>, mode: u32, data: impl Into<Vec<u8>>) -> Entry {
        Entry::File {
            path: path.into(),
            mode,
            data: data.into(),
        }
    }
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry::Symlink {
            path: path.into(),
            target: target.into(),
        }
    }
}

/// One parsed member (see [`read`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub path: String,
    /// Full `st_mode`: type bits and permissions.
    pub mode: u32,
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// File contents or symlink target.
    pub data: Vec<u8>,
}

impl Record {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[allow(clippy::too_many_arguments)]
fn push_record(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    name: &str,
    data: &[u8],
) {
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        mtime,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(MAGIC);
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn check_path(i: usize, path: &str) -> Result<(), DiskError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path == TRAILER
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(DiskError::Cpio(format!(
            "entry {i} ({path:?}): want a relative path without empty, `.` or `..` components"
        )));
    }
    Ok(())
}

/// The archive for `entries`, in the order given, every mtime `mtime`.
pub fn write(entries: &[Entry], mtime: u32) -> Result<Vec<u8>, DiskError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let perm = match e {
            Entry::Dir { mode, .. } | Entry::File { mode, .. } => *mode,
            Entry::Symlink { .. } => 0o777,
        };
        if perm > 0o7777 {
            return Err(DiskError::Cpio(format!(
                "entry {i}: mode {perm:#o} beyond 0o7777 (give permission bits only)"
            )));
        }
        let (path, mode, nlink, data): (&str, u32, u32, &[u8]) = match e {
            Entry::Dir { path, .. } => (path, S_IFDIR | perm, 2, &[]),
            Entry::File { path, data, .. } => (path, S_IFREG | perm, 1, data),
            Entry::Symlink { path, target } => {
                if target.is_empty() || target.contains('\0') {
                    return Err(DiskError::Cpio(format!(
                        "entry {i} ({path}): symlink target empty or with NUL"
                    )));
                }
                (path, S_IFLNK | 0o777, 1, target.as_bytes())
            }
        };
        check_path(i, path)?;
        if !seen.insert(path) {
            return Err(DiskError::Cpio(format!(
                "entry {i} ({path}): path given twice"
            )));
        }
        if u32::try_from(data.len()).is_err() || u32::try_from(path.len() + 1).is_err() {
            return Err(DiskError::Cpio(format!(
                "entry {i} ({path}): larger than the 4 GiB newc limit"
            )));
        }
        let ino = u32::try_from(i + 1)
            .map_err(|_| DiskError::Cpio(format!("entry {i} ({path}): more than 2^32 entries")))?;
        push_record(&mut out, ino, mode, nlink, mtime, path, data);
    }
    push_record(&mut out, 0, 0, 1, 0, TRAILER, &[]);
    Ok(out)
}

fn hex_field(h: &[u8], idx: usize, at: usize) -> Result<u32, DiskError> {
    let s = &h[6 + 8 * idx..6 + 8 * idx + 8];
    std::str::from_utf8(s)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|t| u32::from_str_radix(t, 16).ok())
        .ok_or_else(|| DiskError::Cpio(format!("non-hex header field {idx} at byte {at}")))
}

/// Parse a newc archive up to its trailer (the trailer is not returned).
pub fn read(bytes: &[u8]) -> Result<Vec<Record>, DiskError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let h = bytes.get(at..at + HEADER_LEN).ok_or_else(|| {
            DiskError::Cpio(format!(
                "archive ends at byte {at} without a TRAILER!!! record"
            ))
        })?;
        if &h[..6] != MAGIC {
            return Err(DiskError::Cpio(format!("no 070701 magic at byte {at}")));
        }
        let f = |i| hex_field(h, i, at);
        let (ino, mode, uid, gid, nlink, mtime, size, namesize) =
            (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?, f(5)?, f(6)?, f(11)?);
        let name_start = at + HEADER_LEN;
        let name_end = name_start
            .checked_add(namesize as usize)
            .filter(|e| *e <= bytes.len() && namesize > 0);
        let name_end = name_end.ok_or_else(|| {
            DiskError::Cpio(format!("name of the record at byte {at} runs past the end"))
        })?;
        let name = &bytes[name_start..name_end];
        if name.last() != Some(&0) {
            return Err(DiskError::Cpio(format!(
                "name of the record at byte {at} is not NUL-terminated"
            )));
        }
        let path = String::from_utf8_lossy(&name[..name.len() - 1]).into_owned();
        let data_start = name_end.next_multiple_of(4);
        let data_end = data_start
            .checked_add(size as usize)
            .filter(|e| *e <= bytes.len());
        let data_end = data_end.ok_or_else(|| {
            DiskError::Cpio(format!(
                "data of {path:?} (record at byte {at}) runs past the end"
            ))
        })?;
        if path == TRAILER {
            return Ok(out);
        }
        out.push(Record {
            path,
            mode,
            ino,
            uid,
            gid,
            nlink,
            mtime,
            data: bytes[data_start..data_end].to_vec(),
        });
        at = data_end.next_multiple_of(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        write(
            &[
                Entry::dir("bin", 0o755),
                Entry::file("bin/busybox", 0o755, &b"\x7fELF-ish"[..]),
                Entry::symlink("bin/sh", "busybox"),
                Entry::file("init", 0o700, &b"#!/bin/sh\n"[..]),
                Entry::file("empty", 0o644, Vec::new()),
            ],
            1_700_000_000,
        )
        .unwrap()
    }

    #[test]
    fn first_record_bytes() {
        let a = sample();
        let hdr = std::str::from_utf8(&a[..110]).unwrap();
        assert_eq!(
            hdr,
            "070701\
             00000001000041ED0000000000000000000000026553F100\
             00000000000000000000000000000000000000000000000400000000"
        );
        assert_eq!(&a[110..114], b"bin\0");
        assert_eq!(a.len() % 4, 0);
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn parses_back() {
        let a = sample();
        assert_eq!(sample(), a);
        let r = read(&a).unwrap();
        let names: Vec<_> = r.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(names, ["bin", "bin/busybox", "bin/sh", "init", "empty"]);
        assert!(r[0].is_dir() && r[0].nlink == 2 && r[0].mode == 0o40755);
        assert!(r[1].is_file() && r[1].data == b"\x7fELF-ish" && r[1].nlink == 1);
        assert!(r[2].is_symlink() && r[2].data == b"busybox" && r[2].mode == 0o120777);
        assert_eq!(r[3].mode, 0o100700);
        assert_eq!(r.iter().map(|r| r.ino).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert!(
            r.iter()
                .all(|r| r.uid == 0 && r.gid == 0 && r.mtime == 1_700_000_000)
        );
        // Every record starts 4-aligned: parse walked them all and found the trailer.
    }

    #[test]
    fn rejects_bad_entries() {
        let f = |p: &str| write(&[Entry::file(p, 0o644, Vec::new())], 0);
        for bad in ["", "/init", "a//b", "../x", "a/./b", "TRAILER!!!"] {
            assert!(f(bad).is_err(), "{bad}");
        }
        assert!(write(&[Entry::dir("a", 0o10000)], 0).is_err());
        assert!(write(&[Entry::dir("a", 0o755), Entry::dir("a", 0o755)], 0).is_err());
        assert!(write(&[Entry::symlink("a", "")], 0).is_err());
    }

    #[test]
    fn reader_survives_garbage() {
        let a = sample();
        assert!(read(&a[..a.len() - 4]).is_err());
        assert!(read(b"").is_err());
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 0x5A;
            let _ = read(&b);
            let _ = read(&a[..i]);
        }
    }
}
