//! The project's prerequisite policy, in one place.
//!
//! As root, every test tier runs and a test whose prerequisite is missing FAILS
//! with a message naming what to install; it never skips silently. Without
//! root, a test may skip, and then says so loudly on stderr (`SKIPPED: ...`).
//! Owns: that decision and its messages. Must not: start or probe anything.

use std::fmt::Display;

use nix::unistd::geteuid;

/// True when the test process runs as root (effective uid 0).
pub fn is_root() -> bool {
    geteuid().is_root()
}

/// For tests that need root: true when running as root; otherwise reports
/// `SKIPPED: <test>: <why>` on stderr and returns false.
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

/// Reports a skipped test on stderr, naming the test (libtest names each test
/// thread after its test).
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    eprintln!("SKIPPED: {test}: {why}");
}
