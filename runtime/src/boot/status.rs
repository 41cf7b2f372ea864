//! The boot report written back to the boot partition, so an operator can
//! read on any laptop what happened: `status/last-boot.json` (machine
//! readable) and `status/last-error.txt` (empty when the boot succeeded).
//!
//! Owns the report's shape and atomic writes (write beside, sync, rename;
//! FAT has no better). Must not hold secrets: diagnostics are redacted by
//! construction, and the token appears only as "moved" or its sha256.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::BootError;
use edge_config::validate::Diagnostic;

/// What `edged init` is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Booting,
    Starting,
    Running,
    Maintenance,
    Stopping,
    Stopped,
}

/// A configuration source as read at boot.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub layer: String,
    /// sha256 of the file's bytes, to tell which version was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The child process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChildStatus {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub starts: u32,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_in_seconds: Option<u64>,
}

/// `status/last-boot.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BootStatus {
    pub mode: Mode,
    pub updated: String,
    pub booted: String,
    pub version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub sources: Vec<SourceStatus>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// What init did, in order ("formatted EDGE-DATA", "eth0: 10.0.0.11/24").
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child: Option<ChildStatus>,
    /// What to do about the errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl BootStatus {
    pub fn new() -> Self {
        let t = now();
        Self {
            mode: Mode::Booting,
            updated: t.clone(),
            booted: t,
            version: env!("CARGO_PKG_VERSION"),
            role: None,
            hostname: None,
            sources: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            actions: Vec::new(),
            token: None,
            child: None,
            hint: None,
        }
    }

    /// `last-error.txt`: every error on its own line, then the hint.
    pub fn error_text(&self) -> String {
        let mut s: String = self.errors.iter().map(|d| format!("{d}\n")).collect();
        // A child that keeps dying is an error; one stopped on request is not.
        if let Some(c) = self.child.as_ref().and_then(|c| c.last_exit.as_ref())
            && self.mode == Mode::Starting
        {
            s.push_str(c);
            s.push('\n');
        }
        if !s.is_empty()
            && let Some(h) = &self.hint
        {
            s.push_str(&format!("\n{h}\n"));
        }
        s
    }
}

impl Default for BootStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `bytes` to `path` atomically, with `mode` if given.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), BootError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BootError::io("cannot create", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.new"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if let Some(m) = mode {
        opts.mode(m);
    }
    let mut f = opts
        .open(&tmp)
        .map_err(|e| BootError::io("cannot write", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| BootError::io("cannot write", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| BootError::io("cannot replace", path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes both status files into `dir` (`<boot>/status`), then syncs the
/// whole filesystem: on FAT, a file's fsync and its directory's do not make a
/// rename's entry durable (booted in QEMU and killed, the entries read back
/// with size 0), and an operator may pull the card as soon as the device
/// says it is in maintenance mode.
pub fn write(dir: &Path, status: &BootStatus) -> Result<(), BootError> {
    let json =
        serde_json::to_vec_pretty(status).map_err(|e| BootError::Other(format!("status: {e}")))?;
    write_atomic(&dir.join("last-boot.json"), &json, None)?;
    write_atomic(
        &dir.join("last-error.txt"),
        status.error_text().as_bytes(),
        None,
    )?;
    let d = std::fs::File::open(dir).map_err(|e| BootError::io("cannot open", dir, e))?;
    nix::unistd::syncfs(&d).map_err(|e| BootError::io("cannot sync", dir, std::io::Error::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_both_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = BootStatus::new();
        s.mode = Mode::Maintenance;
        s.errors
            .push(Diagnostic::general("/boot/edge.yaml", "broken"));
        s.hint = Some("fix it".into());
        write(dir.path(), &s).expect("write");
        let err = std::fs::read_to_string(dir.path().join("last-error.txt")).expect("read");
        assert_eq!(err, "/boot/edge.yaml: broken\n\nfix it\n");
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("last-boot.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(json["mode"], "maintenance");
        s.mode = Mode::Running;
        s.errors.clear();
        write(dir.path(), &s).expect("write");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("last-error.txt")).expect("read"),
            ""
        );
    }
}
