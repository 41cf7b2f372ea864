//! The child process and everything PID 1 owes the system: one reaper that
//! collects every exit status (`waitpid(-1)`: our child's and orphans'), a
//! restart backoff, and a clean stop (SIGTERM, wait, SIGKILL after a timeout).
//!
//! Owns process lifetimes. Nothing else in `edged init` may wait for a
//! process once the reaper runs (it would race for the exit status): short
//! commands (mkfs, the DHCP client) run before it starts.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::sync::watch;

use super::BootError;

/// Restart delays: 1 s, 2 s, 4 s … 60 s; back to 1 s after a run of a minute.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    pub initial: Duration,
    pub max: Duration,
    pub healthy_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: Duration::from_secs(1),
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before the next start, after a run that lasted `ran`.
    pub fn after_exit(&mut self, ran: Duration) -> Duration {
        if ran >= self.healthy_after {
            self.next = self.initial;
        }
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
}

/// How a process ended, in words.
pub fn describe(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, 0) => "exited with status 0".into(),
        WaitStatus::Exited(_, c) => format!("exited with status {c}"),
        WaitStatus::Signaled(_, s, core) => {
            format!(
                "was killed by {s}{}",
                if *core { " (core dumped)" } else { "" }
            )
        }
        other => format!("{other:?}"),
    }
}

/// Collects exit statuses of every child and orphan.
#[derive(Clone, Default)]
pub struct Reaper {
    exited: Arc<Mutex<HashMap<i32, String>>>,
    changed: Arc<Mutex<Option<watch::Sender<u64>>>>,
}

impl Reaper {
    /// Starts reaping: on SIGCHLD and once a second (signals coalesce).
    pub fn start(&self) -> Result<(), BootError> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut sigchld = signal(SignalKind::child())
            .map_err(|e| BootError::Other(format!("SIGCHLD handler: {e}")))?;
        let (tx, _) = watch::channel(0u64);
        if let Ok(mut c) = self.changed.lock() {
            *c = Some(tx);
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.reap();
                tokio::select! {
                    _ = sigchld.recv() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        Ok(())
    }

    fn reap(&self) {
        let mut any = false;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        if let Ok(mut m) = self.exited.lock() {
                            m.insert(pid.as_raw(), describe(&status));
                            // Orphans' statuses are never asked for; keep the map small.
                            if m.len() > 1024 {
                                m.clear();
                            }
                        }
                        any = true;
                    }
                }
            }
        }
        if any
            && let Ok(c) = self.changed.lock()
            && let Some(tx) = c.as_ref()
        {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Waits until `pid` has exited; its status in words.
    pub async fn wait(&self, pid: u32) -> String {
        let pid = pid as i32;
        let mut rx = match self.changed.lock() {
            Ok(c) => c.as_ref().map(watch::Sender::subscribe),
            Err(_) => None,
        };
        loop {
            if let Some(s) = self.exited.lock().ok().and_then(|mut m| m.remove(&pid)) {
                return s;
            }
            match rx.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// The last lines the child wrote to stderr (also copied to ours).
#[derive(Clone, Default)]
pub struct LogTail(Arc<Mutex<VecDeque<String>>>);

impl LogTail {
    const LINES: usize = 20;

    fn push(&self, line: String) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() == Self::LINES {
                q.pop_front();
            }
            q.push_back(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ChildSpec {
    pub fn display(&self) -> String {
        std::iter::once(
            self.program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .chain(self.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// A running child.
pub struct Child {
    pub pid: u32,
    pub started: Instant,
    pub tail: LogTail,
}

/// Starts the child with stderr copied to ours (the console) and kept in a
/// tail. The exit status is the reaper's; nothing here waits.
pub fn spawn(spec: &ChildSpec) -> Result<Child, BootError> {
    let mut cmd = Command::new(&spec.program);
    // Exactly the spec's environment: init's own EDGE_* must not reach the
    // child, where they would win over the runtime config it was given.
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| BootError::Command {
        command: spec.display(),
        detail: e.to_string(),
    })?;
    let tail = LogTail::default();
    if let Some(stderr) = child.stderr.take() {
        let t = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "{line}");
                t.push(line);
            }
        });
    }
    let pid = child.id();
    // Dropping std's Child neither kills nor waits: the reaper collects it.
    drop(child);
    Ok(Child {
        pid,
        started: Instant::now(),
        tail,
    })
}

/// Stops a child: SIGTERM, then SIGKILL if it is still there after
/// `timeout`. Returns how it ended.
pub async fn stop(reaper: &Reaper, pid: u32, timeout: Duration) -> String {
    let p = Pid::from_raw(pid as i32);
    let _ = kill(p, Signal::SIGTERM);
    match tokio::time::timeout(timeout, reaper.wait(pid)).await {
        Ok(s) => s,
        Err(_) => {
            tracing::warn!(
                pid,
                ?timeout,
                "the child did not stop after SIGTERM; killing it"
            );
            let _ = kill(p, Signal::SIGKILL);
            let s = reaper.wait(pid).await;
            format!("{s} (SIGKILL after {}s)", timeout.as_secs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_secs(2);
        let delays: Vec<u64> = (0..8).map(|_| b.after_exit(short).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.after_exit(Duration::from_secs(120)).as_secs(), 1);
        assert_eq!(b.after_exit(short).as_secs(), 2);
    }
}
