//! Instance directories and their lifetime.
//!
//! Owns: the root `$TMPDIR/edge-testkit-<euid>/`, one directory per server
//! (with an `owner` file naming the test process and a `server` file naming the
//! running server), the table of live servers of this process, and their
//! teardown: on drop, at process exit, and for directories left by test
//! processes that died. Must not: know engine specifics beyond the signal that
//! stops a server quickly and PostgreSQL's leftover shared memory; touch
//! anything outside the root.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use nix::unistd::{Pid, geteuid};

use crate::TestkitError;
use crate::proc::{self, ProcId};

const OWNER_FILE: &str = "owner";
const SERVER_FILE: &str = "server";
/// How long a server gets to exit after its quick-exit signal before SIGKILL.
const EXIT_GRACE: Duration = Duration::from_secs(10);
/// A directory without an owner file younger than this may still be being set up.
const SETUP_WINDOW: Duration = Duration::from_secs(60);

struct Live {
    dir: PathBuf,
    /// The server process and the signal that stops it fast.
    server: Option<(Pid, Signal)>,
}

static LIVE: Mutex<BTreeMap<u64, Live>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn live() -> MutexGuard<'static, BTreeMap<u64, Live>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The directory all instances of this user live in; created 0755 so a server
/// running as another user can reach its own subdirectory.
pub fn root() -> Result<PathBuf, TestkitError> {
    let euid = geteuid().as_raw();
    let root = std::env::temp_dir().join(format!("edge-testkit-{euid}"));
    match fs::create_dir(&root) {
        Ok(()) => fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .map_err(TestkitError::io("setting permissions of", &root))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(TestkitError::io("creating", &root)(e)),
    }
    let meta = fs::symlink_metadata(&root).map_err(TestkitError::io("inspecting", &root))?;
    if !meta.is_dir() || meta.uid() != euid {
        let why = io::Error::other(format!("not a directory owned by uid {euid}"));
        return Err(TestkitError::io("refusing to use", &root)(why));
    }
    Ok(root)
}

/// Creates a fresh instance directory `<root>/<prefix>-<pid>-XXXXXX` (0755)
/// owned by this process, registered for removal at exit.
pub(crate) fn create_instance_dir(prefix: &str) -> Result<(u64, PathBuf), TestkitError> {
    static FIRST: Once = Once::new();
    FIRST.call_once(|| {
        proc::at_exit(teardown_at_exit);
        match remove_stale_instances() {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} stale edge-testkit instance(s)"),
            Err(e) => tracing::warn!("could not remove stale edge-testkit instances: {e}"),
        }
    });
    let root = root()?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{prefix}-{}-", std::process::id()))
        .tempdir_in(&root)
        .map_err(TestkitError::io("creating an instance directory in", &root))?
        .keep();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    live().insert(
        id,
        Live {
            dir: dir.clone(),
            server: None,
        },
    );
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        .map_err(TestkitError::io("setting permissions of", &dir))?;
    let owner = dir.join(OWNER_FILE);
    fs::write(&owner, ProcId::current().to_line()).map_err(TestkitError::io("writing", &owner))?;
    Ok((id, dir))
}

/// Records the running server of instance `id`, here and in its `server` file.
pub(crate) fn server_started(id: u64, pid: Pid, exit_signal: Signal) {
    let mut live = live();
    let Some(entry) = live.get_mut(&id) else {
        return;
    };
    entry.server = Some((pid, exit_signal));
    if let Some(server) = ProcId::of(pid.as_raw()) {
        let _ = fs::write(entry.dir.join(SERVER_FILE), server.to_line());
    }
}

/// Records that the server of instance `id` has ended (and was reaped).
pub(crate) fn server_stopped(id: u64) {
    let mut live = live();
    let Some(entry) = live.get_mut(&id) else {
        return;
    };
    entry.server = None;
    let _ = fs::remove_file(entry.dir.join(SERVER_FILE));
}

/// Stops the server of instance `id` fast and deletes its directory.
pub(crate) fn release(id: u64) {
    let entry = live().remove(&id);
    teardown(entry.into_iter().collect());
}

extern "C" fn teardown_at_exit() {
    // Unwinding out of an `extern "C"` function aborts; never let it.
    let _ = std::panic::catch_unwind(|| {
        let all = std::mem::take(&mut *live());
        teardown(all.into_values().collect());
    });
}

fn teardown(instances: Vec<Live>) {
    // Signal every server first so they shut down in parallel.
    for (pid, sig) in instances.iter().filter_map(|i| i.server) {
        proc::signal(pid, sig);
    }
    for live in instances {
        if let Some((pid, sig)) = live.server {
            proc::stop_server(pid, sig, EXIT_GRACE);
        }
        remove_dir(&live.dir);
    }
}

fn remove_dir(dir: &Path) {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("edge-testkit: could not remove {}: {e}", dir.display()),
    }
}

/// Removes instance directories whose test process is gone, killing any server
/// still running from them. Runs automatically before the first instance of a
/// process is created; public so scripts and tests can call it too. Returns how
/// many directories were removed.
pub fn remove_stale_instances() -> Result<usize, TestkitError> {
    let root = root()?;
    let entries = fs::read_dir(&root).map_err(TestkitError::io("listing", &root))?;
    let mut removed = 0;
    for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        match fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .as_deref()
            .and_then(ProcId::parse)
        {
            Some(owner) if owner.is_alive() => continue,
            Some(_) => {}
            // No (complete) owner file yet: maybe another process is setting it up.
            None if recently_modified(&dir) => continue,
            None => {}
        }
        let server = fs::read_to_string(dir.join(SERVER_FILE)).ok();
        if let Some(server) = server
            .as_deref()
            .and_then(ProcId::parse)
            .filter(|s| s.is_alive())
        {
            let pid = Pid::from_raw(server.pid);
            let children = proc::kill_tree(pid);
            proc::wait_gone(&children, EXIT_GRACE);
            let _ = proc::wait_exit(pid, EXIT_GRACE);
        }
        crate::postgres::remove_orphaned_shm(&dir.join("data"));
        remove_dir(&dir);
        removed += 1;
    }
    Ok(removed)
}

fn recently_modified(dir: &Path) -> bool {
    let modified = fs::metadata(dir).and_then(|m| m.modified());
    modified.is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() < SETUP_WINDOW)
}
