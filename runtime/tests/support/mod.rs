//! Running real `edged` servers and the real kubectl in tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, free_port};

/// The kubectl the test command installs, under the project's skip policy
/// ([`edge_testkit::kubectl`]).
pub fn kubectl_binary() -> Option<PathBuf> {
    edge_testkit::kubectl()
}

/// The kubectl, for tests that cannot run without it.
pub fn kubectl_path() -> PathBuf {
    kubectl_binary().unwrap_or_else(|| panic!("kubectl is required by this test; see above"))
}

/// A plain-HTTP axum server on 127.0.0.1 in a thread of its own, stopped
/// when dropped. For tests that stand in for an API server.
pub struct Background {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    pub fn serve(app: axum::Router) -> Self {
        Self::serve_with(|_| app)
    }

    /// Like [`Background::serve`], for an app that needs its own port.
    pub fn serve_with(app: impl FnOnce(u16) -> axum::Router) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let app = app(port);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A server started for one test, stopped (SIGKILL) when dropped.
pub struct Server {
    pub child: Option<ChildGuard>,
    /// Loopback address the server binds and advertises.
    pub ip: String,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub node: String,
    pub args: Vec<String>,
    pub log: PathBuf,
}

impl Server {
    /// Starts `edged server` on 127.0.0.1 with a fresh data dir and waits
    /// until it is ready.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, extra)
    }

    /// Starts a server on an existing data dir.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Self::start_at("127.0.0.1", dir, extra)
    }

    /// Starts a server bound to `ip` (any 127.0.0.0/8 address).
    pub fn start_at(ip: &str, dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let mut server = Self::prepare(ip, dir, extra);
        server.spawn();
        server
    }

    /// A server not started yet (call `spawn`, or `try_start` to see it fail).
    pub fn prepare(ip: &str, dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let port = free_port();
        let node = format!("edge-{}-{port}", ip.replace('.', "-"));
        Server {
            ip: ip.to_owned(),
            child: None,
            port,
            node,
            args: extra.iter().map(|s| s.to_string()).collect(),
            log: dir.path().join("edged.log"),
            dir,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    pub fn url(&self) -> String {
        format!("https://{}:{}", self.ip, self.port)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
        cmd.arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--write-kubeconfig")
            .arg(self.kubeconfig())
            .args(["--bind-address", &self.ip, "--node-ip", &self.ip])
            .args(["--https-listen-port", &self.port.to_string()])
            .args(["--node-name", &self.node])
            .args(&self.args)
            .env("RUST_LOG", "info,edge_runtime=debug,sqlx=warn")
            .env("EDGE_LOG_FORMAT", "text")
            .env_remove("EDGE_TOKEN");
        cmd
    }

    /// Runs the server expecting it to refuse to start; returns its stderr.
    pub fn refused(&self) -> String {
        let out = self
            .command()
            .stdout(Stdio::null())
            .output()
            .expect("edged runs");
        assert!(
            !out.status.success(),
            "edged started but should have refused"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// (Re)starts the process with the same data dir and port.
    pub fn spawn(&mut self) {
        self.spawn_unready();
        self.wait_ready();
    }

    /// Starts the process without waiting for it to be ready.
    pub fn spawn_unready(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = self.command();
        cmd.stdout(Stdio::null()).stderr(log);
        self.child = Some(ChildGuard::spawn(cmd).expect("edged starts"));
    }

    /// Kills the process (SIGKILL), as a crash or power loss would.
    pub fn kill(&mut self) {
        drop(self.child.take());
    }

    /// Stops the process gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.pid() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Some(c) = child.child_mut()
                    && let Ok(Some(_)) = c.try_wait()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!(
                "edged did not stop within 20 s of SIGTERM:\n{}",
                self.log_tail()
            );
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.kubeconfig().exists() {
                let out = self.kubectl(&["get", "--raw", "/readyz"]);
                if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "edged not ready within 60 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_with(
            &self.kubeconfig(),
            &self.dir.path().join("kubectl-cache"),
            args,
        )
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}\n--- edged log ---\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The server's token, as written to `<data-dir>/server/token`.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("server/token"))
            .expect("token file")
            .trim()
            .to_owned()
    }

    /// A kube-rs client with the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("client config");
        kube::Client::try_from(config).expect("client")
    }
}

/// Runs kubectl with a kubeconfig and a private cache dir.
pub fn kubectl_with(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(["--request-timeout", "20s"])
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// A `kubectl … -w` running in the background, its output read line by line.
pub struct KubectlWatch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl KubectlWatch {
    /// Starts `kubectl <args>` against `kubeconfig`.
    pub fn start(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(kubectl_path())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        Self { child, lines }
    }

    /// Waits for the first line `wanted` accepts, dropping those before it;
    /// fails the test after a minute. A `kubectl get -w` prints the current
    /// objects before it watches from their resourceVersion: once it printed
    /// the current value, every later write reaches it.
    pub fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("kubectl watch: no {what} within a minute ({e})"),
            }
        }
    }

    /// The lines `keep` accepts, up to and including `last`, or what came
    /// before a minute of silence.
    pub fn lines_until(mut self, last: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(60)) {
            if keep(&line) {
                seen.push(line.clone());
            }
            if line == last {
                break;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        seen
    }
}

/// An `edged agent` started for one test, killed (SIGKILL) when dropped.
pub struct Agent {
    pub child: Option<ChildGuard>,
    pub dir: tempfile::TempDir,
    pub name: String,
    pub ip: String,
    pub lb_port: u16,
    pub server: String,
    pub token: String,
    pub args: Vec<String>,
    pub log: PathBuf,
}

impl Agent {
    /// An agent named `name` on 127.0.0.x address `ip` that joins through
    /// `server` (a URL) with `token`; not started yet.
    pub fn prepare(server: &str, token: &str, name: &str, ip: &str, extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        Agent {
            child: None,
            log: dir.path().join("agent.log"),
            dir,
            name: name.to_owned(),
            ip: ip.to_owned(),
            lb_port: free_port(),
            server: server.to_owned(),
            token: token.to_owned(),
            args: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Prepares and starts an agent (without waiting for it).
    pub fn start(server: &str, token: &str, name: &str, ip: &str, extra: &[&str]) -> Agent {
        let mut a = Self::prepare(server, token, name, ip, extra);
        a.spawn();
        a
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
        cmd.arg("agent")
            .args(["--server", &self.server])
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--node-name", &self.name, "--node-ip", &self.ip])
            .args(["--lb-server-port", &self.lb_port.to_string()])
            .args(&self.args)
            .env("EDGE_TOKEN", &self.token)
            .env("RUST_LOG", "info,edge_runtime=debug")
            .env("EDGE_LOG_FORMAT", "text");
        cmd
    }

    /// (Re)starts the process with the same data dir.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = self.command();
        cmd.stdout(Stdio::null()).stderr(log);
        self.child = Some(ChildGuard::spawn(cmd).expect("edged agent starts"));
    }

    /// Runs the agent expecting it to exit; returns (exit code, stderr).
    pub fn run_to_exit(&self) -> (Option<i32>, String) {
        let mut child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("edged agent runs");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let mut err = String::new();
                use std::io::Read;
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return (status.code(), err);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("edged agent did not exit within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        let pid = self.child.as_ref().expect("running").pid();
        nix::unistd::Pid::from_raw(pid as i32)
    }

    /// Sends `signal` to the agent (SIGSTOP, SIGCONT, …).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal the agent");
    }

    /// Kills the process (SIGKILL).
    pub fn kill(&mut self) {
        drop(self.child.take());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits (a minute at most) for a log line `wanted` accepts; returns it.
    pub fn wait_log(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.log_text().lines().find(|l| wanted(l)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "agent {}: no {what} within a minute:\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A TCP forwarder standing in for the fixed registration address: a
/// loopback address that is no server's own, passing each connection to the
/// first of `targets` that accepts it. Stopped when dropped.
pub struct Forwarder {
    pub address: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Forwarder {
    pub fn start(ip: &str, targets: Vec<String>) -> Forwarder {
        let listener =
            std::net::TcpListener::bind((ip, free_port())).expect("bind the fixed address");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address");
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let (mut client, _) = tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                    };
                    let targets = targets.clone();
                    tokio::spawn(async move {
                        for t in &targets {
                            let dialled = tokio::time::timeout(
                                Duration::from_secs(1),
                                tokio::net::TcpStream::connect(t.as_str()),
                            )
                            .await;
                            if let Ok(Ok(mut server)) = dialled {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                                return;
                            }
                        }
                    });
                }
            });
        });
        Forwarder {
            address,
            _stop: stop,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}

/// Polls `ok` every 200 ms until it holds; fails the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The node `name` as `server` sees it (`kubectl get node -o json`), if it exists.
pub fn get_node(server: &Server, name: &str) -> Option<serde_json::Value> {
    let out = server.kubectl(&["get", "node", name, "-o", "json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// The status of a node's Ready condition ("True", "Unknown", …).
pub fn ready_status(node: &serde_json::Value) -> String {
    node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_owned()
}
