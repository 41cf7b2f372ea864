//! A filesystem tree held in memory: what the initramfs and the root
//! filesystem contain, in one sorted map, so both are written in the same
//! order every time (reproducible images).
//!
//! Owns the tree and its two renderings: a newc cpio archive (the initramfs)
//! and a staging directory (fed to `mkfs.erofs`). Must not decide what goes in
//! the tree: [`crate::build`] does.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::disk::cpio;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// Paths are relative (`usr/bin/edged`), `/`-separated; parents exist.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory and its missing parents (0755).
    pub fn dir(&mut self, path: &str) {
        if path.is_empty() || self.nodes.contains_key(path) {
            return;
        }
        if let Some(p) = parent(path) {
            self.dir(p);
        }
        self.nodes
            .insert(path.to_owned(), Node::Dir { mode: 0o755 });
    }

    /// A regular file (replacing any earlier one), creating its parents.
    pub fn file(&mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) {
        if let Some(p) = parent(path) {
            self.dir(p);
        }
        self.nodes.insert(
            path.to_owned(),
            Node::File {
                mode,
                data: data.into(),
            },
        );
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        if let Some(p) = parent(path) {
            self.dir(p);
        }
        self.nodes.insert(
            path.to_owned(),
            Node::Symlink {
                target: target.to_owned(),
            },
        );
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Entries in path order (a parent before its children).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Bytes of file data in the tree.
    pub fn data_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match n {
                Node::File { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The tree as a newc cpio archive, every entry owned by root with
    /// `mtime`.
    pub fn to_cpio(&self, mtime: u32) -> Result<Vec<u8>, crate::disk::DiskError> {
        let entries: Vec<cpio::Entry> = self
            .iter()
            .map(|(path, node)| match node {
                Node::Dir { mode } => cpio::Entry::dir(path, *mode),
                Node::File { mode, data } => cpio::Entry::file(path, *mode, data.clone()),
                Node::Symlink { target } => cpio::Entry::symlink(path, target),
            })
            .collect();
        cpio::write(&entries, mtime)
    }

    /// Writes the tree under `dir` (which must exist and be empty), with the
    /// tree's modes.
    pub fn write_into(&self, dir: &Path) -> io::Result<()> {
        for (path, node) in self.iter() {
            let target = dir.join(path);
            match node {
                Node::Dir { mode } => {
                    std::fs::create_dir(&target)?;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
                }
                Node::File { mode, data } => {
                    std::fs::write(&target, data)?;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
                }
                Node::Symlink { target: to } => std::os::unix::fs::symlink(to, &target)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_first_and_are_created() {
        let mut t = Tree::new();
        t.file("usr/bin/edged", 0o755, b"x".to_vec());
        t.symlink("bin/sh", "busybox");
        t.dir("proc");
        let paths: Vec<&str> = t.iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            ["bin", "bin/sh", "proc", "usr", "usr/bin", "usr/bin/edged"]
        );
        assert_eq!(t.data_bytes(), 1);
    }

    #[test]
    fn written_into_a_directory_with_modes() {
        let mut t = Tree::new();
        t.file("usr/lib/edge/site.yaml", 0o600, b"role: server\n".to_vec());
        t.symlink("etc/resolv.conf", "../run/resolv.conf");
        let dir = tempfile::tempdir().expect("tempdir");
        t.write_into(dir.path()).expect("write");
        let meta = std::fs::metadata(dir.path().join("usr/lib/edge/site.yaml")).expect("file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read_link(dir.path().join("etc/resolv.conf")).expect("link"),
            Path::new("../run/resolv.conf")
        );
    }
}
