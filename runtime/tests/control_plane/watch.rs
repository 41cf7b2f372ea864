//! `kubectl … -w` as a user runs it: started in the background and read one
//! line at a time, each line awaited with a deadline.
//!
//! Owns the kubectl child (killed and reaped when dropped) and the thread that
//! reads its stdout. Must not sleep to let the watch "start": a caller reads
//! the first line (the current state) before it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use edge_testkit::ChildGuard;

/// A running `kubectl <args>`.
pub struct Watch {
    /// Kept for its Drop: kills the child.
    _child: ChildGuard,
    lines: Receiver<String>,
    stderr: PathBuf,
    args: Vec<String>,
}

impl Watch {
    /// Starts kubectl with `kubeconfig` and a private `cache` dir; its stderr
    /// goes to `cache/watch.stderr`, shown when a line does not come.
    pub fn start(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Self {
        std::fs::create_dir_all(cache).expect("kubectl cache dir");
        let stderr = cache.join("watch.stderr");
        let mut cmd = Command::new(crate::support::kubectl_path());
        cmd.arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        let mut child = ChildGuard::spawn(cmd).expect("kubectl runs");
        let stdout = child
            .child_mut()
            .and_then(|c| c.stdout.take())
            .expect("stdout is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            _child: child,
            lines,
            stderr,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The next line of output; fails the test when none comes within
    /// `within` or kubectl exits first.
    pub fn next_line(&mut self, within: Duration) -> String {
        match self.lines.recv_timeout(within) {
            Ok(line) => line,
            Err(why) => {
                let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                let what = match why {
                    RecvTimeoutError::Timeout => format!("no line within {within:?}"),
                    RecvTimeoutError::Disconnected => "kubectl exited".to_owned(),
                };
                panic!(
                    "kubectl {}: {what}; its stderr:\n{stderr}",
                    self.args.join(" ")
                )
            }
        }
    }
}
