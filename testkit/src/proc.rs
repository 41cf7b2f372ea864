//! Processes: spawning children tied to the test process's life, signalling,
//! reaping, process identity, and the process-exit hook.
//!
//! Owns: the one long-lived spawner thread, `ChildGuard`, and the only `unsafe`
//! code of the crate (`pre_exec` + `prctl`, `atexit`), each function allowed
//! separately. Must not: know about databases or directories.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

const POLL: Duration = Duration::from_millis(20);

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` so that the child gets SIGKILL when the test process dies, even
/// when it is killed with SIGKILL itself (`PR_SET_PDEATHSIG`).
///
/// The parent-death signal fires when the *thread* that forked exits, and test
/// threads are short-lived, so every fork happens on one dedicated thread that
/// lives as long as the process. The signal is set after `Command::uid` has
/// switched users (the kernel clears it on a credential change), which holds
/// because std runs `pre_exec` closures after the uid/gid change.
#[allow(unsafe_code)]
pub fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec; it only
    // calls the async-signal-safe `prctl` and `getppid` and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died between fork and prctl: the signal will never come.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    let gone = || io::Error::other("the edge-testkit spawner thread is gone");
    spawner().send((cmd, reply)).map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("edge-testkit-spawner".into())
            // The sender lives in a static, so this loop (and the thread) never ends.
            .spawn(move || {
                for (mut cmd, reply) in incoming {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("the OS refused to start the edge-testkit spawner thread");
        requests
    })
}

/// Registers `hook` to run when the process exits normally (`exit()`, including
/// libtest's exit after a failed test). `hook` must not unwind.
#[allow(unsafe_code)]
pub(crate) fn at_exit(hook: extern "C" fn()) {
    // SAFETY: `hook` is a plain `extern "C" fn()` with no arguments, which is
    // what atexit(3) expects; callers guarantee it does not unwind.
    let rc = unsafe { libc::atexit(hook) };
    if rc != 0 {
        tracing::warn!(
            "atexit failed: servers will be cleaned up only by PDEATHSIG and stale-dir removal"
        );
    }
}

/// A process and its start time, so a reused pid is not mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcId {
    pub(crate) pid: i32,
    start: u64,
}

impl ProcId {
    /// The process `pid` if it is alive (not a zombie).
    pub(crate) fn of(pid: i32) -> Option<Self> {
        let stat = Stat::read(pid)?;
        (stat.state != 'Z' && stat.state != 'X').then_some(Self {
            pid,
            start: stat.start,
        })
    }

    pub(crate) fn current() -> Self {
        let pid = i32::try_from(std::process::id()).expect("pids fit in i32");
        Self::of(pid).expect("/proc/self/stat is readable")
    }

    pub(crate) fn is_alive(self) -> bool {
        Self::of(self.pid) == Some(self)
    }

    /// The form stored in owner and server files: `"<pid> <start>"`.
    pub(crate) fn to_line(self) -> String {
        format!("{} {}\n", self.pid, self.start)
    }

    pub(crate) fn parse(line: &str) -> Option<Self> {
        let (pid, start) = line.trim().split_once(' ')?;
        Some(Self {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }
}

/// The fields of `/proc/<pid>/stat` the kit needs.
struct Stat {
    state: char,
    ppid: i32,
    start: u64,
}

impl Stat {
    fn read(pid: i32) -> Option<Self> {
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may contain spaces and parentheses.
        let fields: Vec<&str> = text
            .get(text.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // fields[0] is field 3 (state), [1] is field 4 (ppid), [19] is field 22 (starttime).
        Some(Self {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }
}

pub(crate) fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"))
}

/// Sends `signal`; a process that is already gone is not an error.
pub(crate) fn signal(pid: Pid, signal: Signal) {
    let _ = kill(pid, signal);
}

/// Crashes a server: SIGKILL to `pid` and to its live children at once.
/// (A process group would not do: PostgreSQL's children call `setsid`.) The
/// server is frozen first so it cannot fork while its children are collected.
/// Only call it while `pid` is not yet reaped, so the pid cannot have been
/// reused. Returns the children, to wait for with [`wait_gone`].
pub(crate) fn kill_tree(pid: Pid) -> Vec<ProcId> {
    signal(pid, Signal::SIGSTOP);
    let children: Vec<ProcId> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|&child| Stat::read(child).is_some_and(|s| s.ppid == pid.as_raw()))
        .filter_map(ProcId::of)
        .collect();
    for child in &children {
        signal(Pid::from_raw(child.pid), Signal::SIGKILL);
    }
    signal(pid, Signal::SIGKILL);
    children
}

/// Waits up to `timeout` until none of `procs` is alive (zombies count as gone).
pub(crate) fn wait_gone(procs: &[ProcId], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while procs.iter().any(|p| p.is_alive()) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
    true
}

/// Waits up to `timeout` for `pid` to end, reaping it when it is our child.
/// Returns how it ended, or `None` if it still runs.
pub(crate) fn wait_exit(pid: Pid, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
            Ok(WaitStatus::Exited(_, code)) => return Some(format!("exit code {code}")),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(format!("killed by {sig}")),
            Ok(other) => return Some(format!("{other:?}")),
            // Not our child (or already reaped): watch it through /proc instead.
            Err(_) if ProcId::of(pid.as_raw()).is_none() => return Some("gone".into()),
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// Sends `first`, waits `grace`, then SIGKILLs the server and its children and
/// reaps it.
pub(crate) fn stop_server(pid: Pid, first: Signal, grace: Duration) {
    signal(pid, first);
    if wait_exit(pid, grace).is_none() {
        let children = kill_tree(pid);
        let _ = wait_exit(pid, Duration::from_secs(10));
        wait_gone(&children, Duration::from_secs(5));
    }
}

/// Kills a process (SIGKILL) and reaps it when dropped, so a failing test does
/// not leave e.g. an `edged` behind.
#[derive(Debug)]
pub struct ChildGuard {
    pid: Pid,
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawns `cmd` tied to the test process (see [`spawn_tied`]) and guards it.
    pub fn spawn(cmd: Command) -> io::Result<Self> {
        spawn_tied(cmd).map(Self::new)
    }

    /// Guards a child the caller spawned.
    pub fn new(child: Child) -> Self {
        Self {
            pid: pid_of(&child),
            child: Some(child),
        }
    }

    /// Guards a process known only by pid (not necessarily our child).
    pub fn from_pid(pid: u32) -> Self {
        Self {
            pid: Pid::from_raw(i32::try_from(pid).expect("pids fit in i32")),
            child: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    /// The guarded child, to wait on it or read its pipes.
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        match &mut self.child {
            // `Child` remembers a reaped status, so its pid is never reused under us.
            Some(child) => {
                if !matches!(child.try_wait(), Ok(Some(_))) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            None => {
                signal(self.pid, Signal::SIGKILL);
                let _ = wait_exit(self.pid, Duration::from_secs(5));
            }
        }
    }
}
