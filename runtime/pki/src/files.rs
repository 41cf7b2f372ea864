//! Writing and reading the PKI's files.
//!
//! Owns the one way files are written here: a temporary file in the target's
//! directory, created with its final mode (so a key never exists with looser
//! permissions, whatever the umask), fsynced, renamed over the target, and the
//! directory fsynced. A reader sees the old file or the new one, never half.
//!
//! Must not: decide what goes into files, or follow policy beyond modes.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::PkiError;

/// Mode of private keys, tokens and admin kubeconfigs.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of certificates (public).
pub const PUBLIC_FILE: u32 = 0o644;
/// Mode of directories holding private files.
pub const PRIVATE_DIR: u32 = 0o700;

const HINT_PERMS: &str =
    "check that the directory exists, is writable by this user, and the disk is not full";

/// Creates `dir` (and missing parents) and sets it to `mode`, also when it existed.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), PkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(PkiError::io("create directory", dir, HINT_PERMS))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(PkiError::io(
        "set permissions of",
        dir,
        HINT_PERMS,
    ))
}

/// Creates the parent directory of `path` if it is missing (mode 0755 for
/// the components created; existing ones are left as they are).
pub fn ensure_parent(path: &Path) -> Result<(), PkiError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(PkiError::io("create directory", parent, HINT_PERMS)),
        _ => Ok(()),
    }
}

/// A fresh name next to `path` for a temporary file or link.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag = rand::rng().next_u64();
    path.with_file_name(format!(".{name}.tmp-{}-{tag:016x}", std::process::id()))
}

fn sync_dir_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// Writes `bytes` to `path` atomically with exactly `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = temp_sibling(path);
    let result = (|| -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have removed bits from `mode`; put them back.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir_of(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(PkiError::io("write", path, HINT_PERMS))
}

/// Points the symlink `link` at `target` (a relative target stays relative),
/// replacing whatever `link` was, atomically.
pub fn symlink_atomic(target: &Path, link: &Path) -> Result<(), PkiError> {
    let tmp = temp_sibling(link);
    let result = (|| -> io::Result<()> {
        std::os::unix::fs::symlink(target, &tmp)?;
        fs::rename(&tmp, link)?;
        sync_dir_of(link)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(PkiError::io("create symlink", link, HINT_PERMS))
}

/// Reads a file, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, PkiError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PkiError::io(
            "read",
            path,
            "check the file's owner and permissions (the server reads it as the user it runs as)",
        )(e)),
    }
}

/// Reads a UTF-8 text file, `None` when it does not exist.
pub fn read_optional_text(path: &Path) -> Result<Option<String>, PkiError> {
    match read_optional(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| PkiError::Io {
                action: "read",
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
                hint: "the file is damaged; restore it or remove it to have it generated again",
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_sets_exact_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_atomic(&path, b"one", PRIVATE_FILE).unwrap();
        write_atomic(&path, b"two", PUBLIC_FILE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PUBLIC_FILE);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn ensure_dir_tightens_an_existing_dir() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&sub, PRIVATE_DIR).unwrap();
        let mode = fs::metadata(&sub).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PRIVATE_DIR);
    }
}
