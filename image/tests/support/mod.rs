//! Shared by the image tests: where the binaries and the package cache are,
//! building an image with the `edge-image` binary, and a QEMU guest whose
//! serial console is read line by line.
//!
//! Owns the prerequisite checks of the machines tier (QEMU, firmware, the
//! static runtimes `scripts/test.sh` builds), under the project's policy: as
//! root a missing one fails the test. Must not sleep for a fixed time: waits
//! are for a console line or a condition, with a deadline.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, or_skip};

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// cargo's target directory (the test binary is `target/debug/deps/…`).
pub fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    repo().join("target")
}

/// Verified packages, shared by every image test and run (a warm cache
/// downloads nothing).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("edge-image-cache")
}

fn existing(what: &str, path: PathBuf, how: &str) -> Option<PathBuf> {
    let found = if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist; {how}", path.display()))
    };
    or_skip(what, found)
}

/// The static `edged` for a Rust target, as `scripts/test.sh` builds it.
pub fn runtime(target: &str) -> Option<PathBuf> {
    existing(
        &format!("edged for {target}"),
        target_dir().join(target).join("release/edged"),
        &format!(
            "scripts/test.sh builds it (by hand: cargo build --release --target {target} -p edge-runtime --bin edged)"
        ),
    )
}

/// `edgectl`, built by `cargo test --workspace` next to the test binaries.
pub fn edgectl() -> Option<PathBuf> {
    existing(
        "edgectl",
        target_dir().join("debug/edgectl"),
        "cargo build -p edge-runtime --bin edgectl",
    )
}

/// A host program on PATH (qemu-system-*, mkfs.erofs, …).
pub fn program(name: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} is not on PATH (Debian package {package})"));
    or_skip(name, found)
}

/// A firmware file (OVMF, AAVMF).
pub fn firmware(path: &str, package: &str) -> Option<PathBuf> {
    existing(
        path,
        PathBuf::from(path),
        &format!("install the Debian package {package}"),
    )
}

/// Runs the `edge-image` binary.
pub fn edge_image(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edge-image"));
    cmd.args(args).current_dir(repo());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run edge-image")
}

/// What an `edge-image` run said, for assertion messages.
pub fn said(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A site config for one server on the data partition's SQLite. The token
/// is a bare secret, so `edgectl kubeconfig` trusts the CA on first use.
pub const TOKEN: &str = "image-test-S3CRET-token";

pub fn single_server_site() -> String {
    format!("role: server\ntoken: {TOKEN}\nnode-label:\n  - edgeplane.test/image=true\n")
}

/// Builds an image for `board` into `dir/NAME.img`, with the site config
/// given, a fixed SOURCE_DATE_EPOCH and the shared cache. Panics with what
/// the builder said when it fails.
pub fn build_image(
    board: &str,
    target: &str,
    site: &str,
    dir: &Path,
    name: &str,
) -> Option<PathBuf> {
    build_image_to(board, target, site, &dir.join(format!("{name}.img")), &[])
}

/// [`build_image`] into `out`, with more arguments (`--format qcow2`).
pub fn build_image_to(
    board: &str,
    target: &str,
    site: &str,
    out: &Path,
    extra: &[&str],
) -> Option<PathBuf> {
    let runtime = runtime(target)?;
    let mut config = out.as_os_str().to_owned();
    config.push(".site.yaml");
    let config = PathBuf::from(config);
    std::fs::write(&config, site).expect("site config");
    let mut args = vec![
        "build",
        "--board",
        board,
        "--config",
        config.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--runtime",
        runtime.to_str().expect("utf-8"),
    ];
    let cache = cache_dir();
    args.extend(["--cache", cache.to_str().expect("utf-8")]);
    args.extend_from_slice(extra);
    let o = edge_image(&args, &[("SOURCE_DATE_EPOCH", "1765000000")]);
    assert!(o.status.success(), "edge-image build {board}: {}", said(&o));
    Some(out.to_owned())
}

/// `len` bytes of `path` from `offset` (a partition of an image).
pub fn read_range(path: &Path, offset: u64, len: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).expect("open image");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut buf = vec![0; usize::try_from(len).expect("size")];
    f.read_exact(&mut buf).expect("read");
    buf
}

/// Whether two files hold the same bytes, read a MiB at a time.
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (
        std::fs::File::open(a).expect("open"),
        std::fs::File::open(b).expect("open"),
    );
    if fa.metadata().expect("meta").len() != fb.metadata().expect("meta").len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).expect("read");
        if n == 0 {
            return true;
        }
        fb.read_exact(&mut bb[..n]).expect("read");
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// One QEMU run at a time in a test binary: two guests under software
/// emulation on two cores starve each other.
pub static ONE_GUEST: Mutex<()> = Mutex::new(());

/// The serial console, line by line.
#[derive(Default)]
struct Console {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

/// A QEMU guest; killed (SIGKILL) when dropped.
pub struct Guest {
    _process: ChildGuard,
    console: Arc<Console>,
    pub api_port: u16,
    _vars: tempfile::NamedTempFile,
}

/// How to boot one board in QEMU.
pub struct Machine {
    pub qemu: PathBuf,
    pub args: Vec<String>,
    pub code: PathBuf,
    pub vars: PathBuf,
}

impl Machine {
    /// x86_64 q35 with OVMF.
    pub fn x86_64() -> Option<Machine> {
        Some(Machine {
            qemu: program("qemu-system-x86_64", "qemu-system-x86")?,
            args: ["-machine", "q35", "-cpu", "max"]
                .map(String::from)
                .to_vec(),
            code: firmware("/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf")?,
            vars: firmware("/usr/share/OVMF/OVMF_VARS_4M.fd", "ovmf")?,
        })
    }

    /// aarch64 `virt` with AAVMF; no boot-menu wait.
    pub fn aarch64() -> Option<Machine> {
        Some(Machine {
            qemu: program("qemu-system-aarch64", "qemu-system-arm")?,
            args: [
                "-machine",
                "virt",
                "-cpu",
                "cortex-a72",
                "-boot",
                "menu=on,splash-time=0",
            ]
            .map(String::from)
            .to_vec(),
            code: firmware("/usr/share/AAVMF/AAVMF_CODE.fd", "qemu-efi-aarch64")?,
            vars: firmware("/usr/share/AAVMF/AAVMF_VARS.fd", "qemu-efi-aarch64")?,
        })
    }

    /// Boots `disk` (raw or qcow2) with the API port forwarded from
    /// 127.0.0.1.
    pub fn boot(&self, disk: &Path) -> Guest {
        let vars = tempfile::NamedTempFile::new().expect("vars");
        std::fs::copy(&self.vars, vars.path()).expect("copy UEFI variables");
        let api_port = edge_testkit::free_port();
        let format = if disk.extension().is_some_and(|e| e == "qcow2") {
            "qcow2"
        } else {
            "raw"
        };
        let mut cmd = Command::new(&self.qemu);
        cmd.args(&self.args)
            .args(["-accel", "tcg", "-m", "1024", "-smp", "2"])
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                self.code.display()
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.path().display()
            ))
            .arg("-drive")
            .arg(format!(
                "if=none,id=disk,format={format},file={}",
                disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=disk"])
            .arg("-netdev")
            .arg(format!(
                "user,id=net,hostfwd=tcp:127.0.0.1:{api_port}-:6443"
            ))
            .args(["-device", "virtio-net-pci,netdev=net"])
            .args(["-device", "virtio-rng-pci"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = ChildGuard::spawn(cmd).expect("start qemu");
        let stdout = process
            .child_mut()
            .and_then(|c| c.stdout.take())
            .expect("qemu stdout");
        let console = Arc::new(Console::default());
        let c = Arc::clone(&console);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                buf.clear();
                c.lines.lock().expect("console").push(line);
                c.changed.notify_all();
            }
        });
        Guest {
            _process: process,
            console,
            api_port,
            _vars: vars,
        }
    }
}

impl Guest {
    /// Waits for a console line containing `needle`; panics with the
    /// console's tail at the deadline.
    pub fn wait_line(&self, needle: &str, deadline: Duration) -> String {
        let end = Instant::now() + deadline;
        let mut lines = self.console.lines.lock().expect("console");
        let mut seen = 0;
        loop {
            if let Some(l) = lines[seen..].iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            seen = lines.len();
            let now = Instant::now();
            assert!(
                now < end,
                "no console line with {needle:?} within {deadline:?}; console:\n{}",
                tail(&lines)
            );
            lines = self
                .console
                .changed
                .wait_timeout(lines, end - now)
                .expect("console")
                .0;
        }
    }

    /// The console so far (its last lines).
    pub fn console(&self) -> String {
        tail(&self.console.lines.lock().expect("console"))
    }

    /// Polls `f` until it gives a value; panics with the last error and the
    /// console at the deadline.
    pub fn until<T>(
        &self,
        what: &str,
        deadline: Duration,
        mut f: impl FnMut() -> Result<T, String>,
    ) -> T {
        let end = Instant::now() + deadline;
        loop {
            match f() {
                Ok(v) => return v,
                Err(e) if Instant::now() >= end => panic!(
                    "{what}: not within {deadline:?}; last: {e}\nconsole:\n{}",
                    self.console()
                ),
                Err(_) => {
                    // Wait for the guest to say something (or half a second).
                    let lines = self.console.lines.lock().expect("console");
                    let _ = self
                        .console
                        .changed
                        .wait_timeout(lines, Duration::from_millis(500))
                        .expect("console");
                }
            }
        }
    }
}

fn tail(lines: &[String]) -> String {
    let from = lines.len().saturating_sub(60);
    lines[from..].join("\n")
}

/// A copy-on-write overlay of `base`, so a test's guest never changes the
/// image another test boots.
pub fn overlay(base: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(format!("{name}.qcow2"));
    let o = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(base)
        .arg(&out)
        .output()
        .expect("qemu-img");
    assert!(o.status.success(), "qemu-img create: {}", said(&o));
    out
}
