//! Small helpers for tests, with no state worth a module of their own: free
//! ports, unique database names, tracing output.
//!
//! Must not: start processes or keep resources open.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read,
/// closed). Another process may take it before you do; bind soon.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the loopback interface must accept a bind to 127.0.0.1:0")
}

/// A database name no other test of this process gets: `<prefix>_<pid>_<n>`,
/// lower case, only `[a-z0-9_]`, at most 63 characters (valid unquoted in both
/// PostgreSQL and MariaDB). The product creates the database when missing, so
/// tests sharing an instance usually need only the name.
pub fn unique_db_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let mut clean: String = prefix
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase()) {
        clean.insert_str(0, "db_");
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{clean}_{}_{n}", std::process::id())
}

/// Sends `tracing` output to the test's captured output, filtered by `RUST_LOG`
/// (default `info`). Safe to call from every test.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // Another subscriber may already be installed (e.g. by the test itself).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// The first of `names` found on PATH or in /usr/sbin, /usr/bin (earlier
/// names win over later ones).
pub(crate) fn find_program(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin"].map(Into::into))
        .collect();
    names
        .iter()
        .find_map(|name| dirs.iter().map(|dir| dir.join(name)).find(|p| p.is_file()))
}
