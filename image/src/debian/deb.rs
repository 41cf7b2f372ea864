//! `.deb` contents: the `ar` container, its `data.tar.xz` (or plain
//! `data.tar`), and the entries a caller asks for.
//!
//! Owns reading a package's files into memory. Must not write to disk, run
//! maintainer scripts, or check hashes (the fetcher verified the `.deb`).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::ArchiveError;

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file and its contents.
    File(Vec<u8>),
    Dir,
    /// A symbolic link and its target, as written.
    Symlink(PathBuf),
    /// A hard link to another entry (relative path, no leading `./`).
    Hardlink(PathBuf),
}

/// One entry of a package's data archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebEntry {
    /// Relative path, no leading `./` (`usr/bin/busybox`).
    pub path: PathBuf,
    /// Permission bits (`0o755`).
    pub mode: u32,
    pub kind: EntryKind,
}

/// Reads the entries of `deb`'s data archive for which `want(path)` is true.
pub fn extract(deb: &Path, want: impl FnMut(&Path) -> bool) -> Result<Vec<DebEntry>, ArchiveError> {
    let file = std::fs::File::open(deb).map_err(|source| ArchiveError::Io {
        action: "open",
        path: deb.to_owned(),
        source,
    })?;
    extract_from(std::io::BufReader::new(file), want).map_err(|message| ArchiveError::Deb {
        path: deb.to_owned(),
        message,
    })
}

/// [`extract`] over any reader; errors are messages without the path.
pub fn extract_from<R: Read>(
    reader: R,
    mut want: impl FnMut(&Path) -> bool,
) -> Result<Vec<DebEntry>, String> {
    let mut ar = ar::Archive::new(reader);
    let mut members = Vec::new();
    while let Some(entry) = ar.next_entry() {
        let entry = entry.map_err(|e| format!("not a Debian package (ar: {e})"))?;
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_owned();
        match name.as_str() {
            "data.tar.xz" => {
                let xz = lzma_rust2::XzReader::new(entry, true);
                return read_tar(xz, &name, &mut want);
            }
            "data.tar" => return read_tar(entry, &name, &mut want),
            _ => members.push(name),
        }
    }
    match members.iter().find(|m| m.starts_with("data.tar")) {
        Some(other) => Err(format!(
            "its data member is {other}; only data.tar.xz and data.tar are supported"
        )),
        None => Err(format!(
            "no data.tar member (members: {})",
            members.join(", ")
        )),
    }
}

fn read_tar<R: Read>(
    reader: R,
    member: &str,
    want: &mut impl FnMut(&Path) -> bool,
) -> Result<Vec<DebEntry>, String> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    let entries = archive.entries().map_err(|e| format!("{member}: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{member}: {e}"))?;
        let raw = entry
            .path()
            .map_err(|e| format!("{member}: bad entry path ({e})"))?
            .into_owned();
        let Some(path) = clean(&raw) else {
            return Err(format!(
                "{member}: entry path {} leaves the package",
                raw.display()
            ));
        };
        if path.as_os_str().is_empty() || !want(&path) {
            continue;
        }
        let header = entry.header();
        let mode = header
            .mode()
            .map_err(|e| format!("{member}: {}: {e}", path.display()))?
            & 0o7777;
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| format!("{member}: {}: {e}", path.display()))?;
                EntryKind::File(data)
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("{member}: {}: {e}", path.display()))?
                    .ok_or_else(|| format!("{member}: symlink {} has no target", path.display()))?;
                EntryKind::Symlink(target.into_owned())
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("{member}: {}: {e}", path.display()))?
                    .ok_or_else(|| {
                        format!("{member}: hard link {} has no target", path.display())
                    })?;
                let target = clean(&target).ok_or_else(|| {
                    format!(
                        "{member}: hard link {} points outside the package",
                        path.display()
                    )
                })?;
                EntryKind::Hardlink(target)
            }
            other => {
                return Err(format!(
                    "{member}: {} is a {other:?} entry, which packages do not hold",
                    path.display()
                ));
            }
        };
        out.push(DebEntry { path, mode, kind });
    }
    Ok(out)
}

/// `./usr/bin/x` → `usr/bin/x`; `None` for `..` or absolute paths.
fn clean(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a `.deb` in memory: `debian-binary`, `control.tar.xz`, and a
    /// `data.tar.xz` (or `data_member`) with a dir, a file, a symlink and a
    /// hard link.
    pub(crate) fn build_deb(data_member: &str) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add =
            |path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_mode(mode);
                h.set_size(data.len() as u64);
                h.set_mtime(0);
                if let Some(l) = link {
                    h.set_link_name(l).expect("link name");
                }
                tar.append_data(&mut h, path, data).expect("append");
            };
        add("./", tar::EntryType::Directory, 0o755, b"", None);
        add("./usr/bin/", tar::EntryType::Directory, 0o755, b"", None);
        add(
            "./usr/bin/busybox",
            tar::EntryType::Regular,
            0o755,
            b"\x7fELF busybox",
            None,
        );
        add(
            "./usr/bin/sh",
            tar::EntryType::Symlink,
            0o777,
            b"",
            Some("busybox"),
        );
        add(
            "./usr/bin/ash",
            tar::EntryType::Link,
            0o755,
            b"",
            Some("./usr/bin/busybox"),
        );
        let tar = tar.into_inner().expect("tar");
        let data = if data_member.ends_with(".xz") {
            let mut w =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                    .expect("xz writer");
            std::io::Write::write_all(&mut w, &tar).expect("xz write");
            w.finish().expect("xz finish")
        } else {
            tar
        };
        let mut ar = ar::Builder::new(Vec::new());
        let mut member = |name: &str, bytes: &[u8]| {
            let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            ar.append(&header, bytes).expect("ar append");
        };
        member("debian-binary", b"2.0\n");
        member("control.tar.xz", b"not read");
        member(data_member, &data);
        ar.into_inner().expect("ar")
    }

    #[test]
    fn extracts_wanted_entries_from_data_tar_xz() {
        let deb = build_deb("data.tar.xz");
        let all = extract_from(&deb[..], |_| true).expect("extracts");
        let paths: Vec<_> = all.iter().map(|e| e.path.display().to_string()).collect();
        assert_eq!(
            paths,
            ["usr/bin", "usr/bin/busybox", "usr/bin/sh", "usr/bin/ash"]
        );
        assert_eq!(all[0].kind, EntryKind::Dir);
        assert_eq!(all[1].kind, EntryKind::File(b"\x7fELF busybox".to_vec()));
        assert_eq!(all[1].mode, 0o755);
        assert_eq!(all[2].kind, EntryKind::Symlink("busybox".into()));
        assert_eq!(all[3].kind, EntryKind::Hardlink("usr/bin/busybox".into()));

        let only = extract_from(&deb[..], |p| p == Path::new("usr/bin/busybox")).expect("one");
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn plain_data_tar_works_and_others_are_named() {
        let deb = build_deb("data.tar");
        assert_eq!(extract_from(&deb[..], |_| true).expect("plain").len(), 4);
        let deb = build_deb("data.tar.zst");
        let err = extract_from(&deb[..], |_| true).expect_err("zstd");
        assert!(err.contains("data.tar.zst"), "{err}");
        let err = extract_from(&b"not an ar archive"[..], |_| true).expect_err("junk");
        assert!(err.contains("not a Debian package"), "{err}");
    }

    #[test]
    fn extract_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.deb");
        std::fs::write(&path, b"!<arch>\nbroken").expect("write");
        let err = extract(&path, |_| true).expect_err("broken");
        assert!(err.to_string().contains("x.deb"), "{err}");
    }
}
