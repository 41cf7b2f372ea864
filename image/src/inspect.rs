//! `edge-image inspect FILE`: what an image (or a flashed card read back
//! with `dd`) holds: its partition table, each partition's filesystem and
//! label, the manifest on EDGE-BOOT (board, kernel, runtime, config hash,
//! packages, SOURCE_DATE_EPOCH) and the `status/` files a device wrote there.
//!
//! Owns reading an image. Must not write to it, and must not trust it: every
//! field is read defensively, a broken image gives an error that says where.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

use crate::disk::{self, fat, gpt::Gpt, mbr::Mbr};
use crate::manifest::Manifest;
use crate::plan;

/// What `inspect` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    /// `raw` or `qcow2`.
    pub format: String,
    /// The raw disk's size.
    pub disk_bytes: u64,
    /// `gpt` or `mbr`.
    pub table: String,
    pub partitions: Vec<Partition>,
    /// Files on EDGE-BOOT, with sizes.
    pub boot_files: Vec<BootFile>,
    /// `status/*` on EDGE-BOOT: what the device last reported.
    pub status: std::collections::BTreeMap<String, String>,
    /// The manifest on EDGE-BOOT, if there is one.
    pub manifest: Option<Manifest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    pub number: u32,
    /// The GPT name (empty on MBR).
    pub name: String,
    pub offset: u64,
    pub bytes: u64,
    /// vfat, ext4, erofs, squashfs, empty or unknown.
    pub filesystem: String,
    /// The filesystem's own label, where it has one.
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BootFile {
    pub path: String,
    pub bytes: u64,
}

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{}: {cause}", path.display())]
    Io {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
}

fn identify(head: &[u8]) -> (String, String) {
    let at = |o: usize, m: &[u8]| head.get(o..o + m.len()) == Some(m);
    let text = |o: usize, n: usize| {
        head.get(o..o + n)
            .map(|b| {
                String::from_utf8_lossy(b)
                    .trim_end_matches(['\0', ' '])
                    .to_owned()
            })
            .unwrap_or_default()
    };
    if at(1024 + 56, &[0x53, 0xEF]) {
        return ("ext4".into(), text(1024 + 120, 16));
    }
    if at(1024, &[0xE2, 0xE1, 0xF5, 0xE0]) {
        return ("erofs".into(), String::new());
    }
    if at(0, b"hsqs") {
        return ("squashfs".into(), String::new());
    }
    if at(510, &[0x55, 0xAA]) && (at(82, b"FAT32") || at(54, b"FAT")) {
        return ("vfat".into(), fat::fat_label(head).unwrap_or_default());
    }
    if head.iter().all(|b| *b == 0) {
        return ("empty".into(), String::new());
    }
    ("unknown".into(), String::new())
}

/// Reads an image. A qcow2 file is converted to a temporary raw copy with
/// `qemu-img` first.
pub fn inspect(path: &Path) -> Result<Report, InspectError> {
    let ioerr = |cause| InspectError::Io {
        path: path.to_owned(),
        cause,
    };
    let invalid = |message: String| InspectError::Invalid {
        path: path.to_owned(),
        message,
    };
    let mut f = File::open(path).map_err(ioerr)?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(ioerr)?;
    let mut _converted = None;
    let format = if n == 4 && &magic == b"QFI\xfb" {
        let tmp = tempfile::NamedTempFile::new().map_err(ioerr)?;
        let status = std::process::Command::new("qemu-img")
            .args(["convert", "-f", "qcow2", "-O", "raw"])
            .arg(path)
            .arg(tmp.path())
            .status()
            .map_err(|e| invalid(format!("qcow2 image, and qemu-img cannot run: {e}")))?;
        if !status.success() {
            return Err(invalid(format!("qemu-img convert failed: {status}")));
        }
        f = File::open(tmp.path()).map_err(ioerr)?;
        _converted = Some(tmp);
        "qcow2"
    } else {
        "raw"
    };
    let disk_bytes = f.seek(SeekFrom::End(0)).map_err(ioerr)?;
    let (table, parts): (&str, Vec<(u32, String, u64, u64)>) = match Gpt::read(&mut f) {
        Ok(g) => (
            "gpt",
            g.partitions
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        i as u32 + 1,
                        p.name.clone(),
                        p.first_lba * 512,
                        (p.last_lba + 1 - p.first_lba) * 512,
                    )
                })
                .collect(),
        ),
        Err(gpt_error) => match Mbr::read(&mut f) {
            Ok(m) => (
                "mbr",
                m.partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        (
                            i as u32 + 1,
                            String::new(),
                            u64::from(p.first_lba) * 512,
                            u64::from(p.sectors) * 512,
                        )
                    })
                    .collect(),
            ),
            Err(mbr_error) => {
                return Err(invalid(format!(
                    "not a disk image: no GPT ({gpt_error}) and no MBR ({mbr_error})"
                )));
            }
        },
    };
    let mut partitions = Vec::new();
    let mut boot = None;
    for (number, name, offset, bytes) in parts {
        if offset + bytes > disk_bytes {
            return Err(invalid(format!(
                "partition {number} ends at byte {} past the end of the file ({disk_bytes})",
                offset + bytes
            )));
        }
        let mut head = vec![0u8; 68 * 1024];
        let want = head.len().min(bytes as usize);
        f.seek(SeekFrom::Start(offset)).map_err(ioerr)?;
        f.read_exact(&mut head[..want]).map_err(ioerr)?;
        let (filesystem, label) = identify(&head[..want]);
        if filesystem == "vfat" && (label == plan::BOOT_LABEL || name == plan::BOOT_LABEL) {
            boot = Some((offset, bytes));
        }
        partitions.push(Partition {
            number,
            name,
            offset,
            bytes,
            filesystem,
            label,
        });
    }
    let mut boot_files = Vec::new();
    let mut status = std::collections::BTreeMap::new();
    let mut manifest = None;
    if let Some((offset, bytes)) = boot {
        let mut fs = vec![0u8; bytes as usize];
        f.seek(SeekFrom::Start(offset)).map_err(ioerr)?;
        f.read_exact(&mut fs).map_err(ioerr)?;
        let files = fat::read_fat(&fs)
            .map_err(|e: disk::DiskError| invalid(format!("{}: {e}", plan::BOOT_LABEL)))?;
        for (p, data) in files {
            if p == plan::MANIFEST_ON_BOOT {
                manifest = serde_json::from_slice::<Manifest>(&data).ok();
            }
            if p.starts_with("status/") {
                status.insert(p.clone(), String::from_utf8_lossy(&data).into_owned());
            }
            boot_files.push(BootFile {
                path: p,
                bytes: data.len() as u64,
            });
        }
    }
    Ok(Report {
        file: path.display().to_string(),
        format: format.into(),
        disk_bytes,
        table: table.into(),
        partitions,
        boot_files,
        status,
        manifest,
    })
}

impl Report {
    /// The human rendering.
    pub fn text(&self) -> String {
        use crate::progress::human_bytes;
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "image       {} ({}, {}, {})",
            self.file,
            self.format,
            human_bytes(self.disk_bytes),
            self.table
        );
        if let Some(m) = &self.manifest {
            let _ = writeln!(
                s,
                "board       {} ({}, {} boot)",
                m.board, m.arch, m.boot_chain
            );
            let _ = writeln!(
                s,
                "runtime     edged {} ({}, sha256 {})",
                m.runtime.version,
                human_bytes(m.runtime.bytes),
                m.runtime.sha256
            );
            let _ = writeln!(
                s,
                "kernel      {} {} ({} modules: {})",
                m.kernel.release,
                m.kernel.version,
                m.kernel.modules.len(),
                m.kernel.modules.join(" ")
            );
            let _ = writeln!(s, "config      sha256 {}", m.config.sha256);
            let _ = writeln!(s, "cmdline     {}", m.cmdline);
            let _ = writeln!(
                s,
                "inputs      SOURCE_DATE_EPOCH={}, {}",
                m.source_date_epoch, m.builder
            );
            for p in &m.packages {
                let _ = writeln!(
                    s,
                    "            {} {} {} sha256 {}",
                    p.name, p.version, p.architecture, p.sha256
                );
            }
        } else {
            let _ = writeln!(
                s,
                "manifest    none on {} (not built by edge-image?)",
                plan::BOOT_LABEL
            );
        }
        let _ = writeln!(s, "partitions");
        for p in &self.partitions {
            let _ = writeln!(
                s,
                "  {} {:<12} {:<8} {:<12} at {:>9} {:>10}",
                p.number,
                if p.name.is_empty() { "-" } else { &p.name },
                p.filesystem,
                if p.label.is_empty() { "-" } else { &p.label },
                human_bytes(p.offset),
                human_bytes(p.bytes)
            );
        }
        if !self.boot_files.is_empty() {
            let _ = writeln!(s, "boot files");
            for b in &self.boot_files {
                let _ = writeln!(s, "  {:<28} {:>10}", b.path, human_bytes(b.bytes));
            }
        }
        for (path, text) in &self.status {
            let _ = writeln!(s, "{path}:");
            for line in text.lines() {
                let _ = writeln!(s, "  {line}");
            }
        }
        s
    }
}
