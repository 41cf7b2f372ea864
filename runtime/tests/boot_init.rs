//! `edged init --root DIR`: the boot sequence in a temporary root, starting a
//! real `edged server` from an `edge.yaml`, driven by the real kubectl.
//!
//! - a good edge.yaml boots a server (kubectl get nodes through the kubeconfig
//!   init had it write), the token moves to the data partition and the FAT
//!   copy becomes its sha256 with every other byte of the file unchanged,
//!   a killed server is restarted, SIGTERM stops everything, and the next
//!   boot runs from the moved token;
//! - a bad edge.yaml gives maintenance mode (the status endpoint and
//!   status/last-error.txt name file, line and key), not a crash loop, and
//!   fixing the file and booting again recovers.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, free_port};
use serde_json::Value;
use sha2::Digest;
use support::kubectl_with;

const TOKEN: &str = "site-secret-token-0123";

/// A temporary device root with its `edged init`.
struct Device {
    root: tempfile::TempDir,
    status_port: u16,
    api_port: u16,
    init: Option<ChildGuard>,
    server: Option<ChildGuard>,
}

impl Device {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        for d in ["boot", "data", "usr/lib/edge", "proc"] {
            std::fs::create_dir_all(root.path().join(d)).expect("mkdir");
        }
        Self {
            root,
            status_port: free_port(),
            api_port: free_port(),
            init: None,
            server: None,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn log(&self) -> PathBuf {
        self.path("init.log")
    }

    fn boot(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
        cmd.arg("init")
            .arg("--root")
            .arg(self.root.path())
            .args([
                "--status-address",
                &format!("127.0.0.1:{}", self.status_port),
            ])
            .args(["--stop-timeout", "20"])
            .env("RUST_LOG", "info,sqlx=warn")
            .env("EDGE_LOG_FORMAT", "text")
            // Not taken by the child: init passes only its runtime config.
            .env("EDGE_TOKEN", "from-the-environment-must-not-win")
            .stdout(Stdio::null())
            .stderr(log);
        self.init = Some(ChildGuard::spawn(cmd).expect("edged init starts"));
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn status(&self) -> Value {
        std::fs::read(self.path("boot/status/last-boot.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until last-boot.json satisfies `pred`.
    fn wait_status(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.status();
            if pred(&s) {
                if let Some(pid) = s["child"]["pid"].as_u64() {
                    // Killed at the end of the test even if init is not.
                    self.server = Some(ChildGuard::from_pid(pid as u32));
                }
                return s;
            }
            if let Some(init) = self.init.as_mut().and_then(ChildGuard::child_mut)
                && let Ok(Some(code)) = init.try_wait()
            {
                panic!(
                    "edged init exited ({code}) waiting for {what}:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 90 s; status {s:#}\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM to init; it must stop its child and exit 0.
    fn shutdown(&mut self) {
        let mut guard = self.init.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(guard.pid() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
        let deadline = Instant::now() + Duration::from_secs(40);
        let child = guard.child_mut().expect("our child");
        loop {
            if let Ok(Some(code)) = child.try_wait() {
                assert!(
                    code.success(),
                    "edged init exited with {code}:\n{}",
                    self.log_tail()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "edged init did not stop within 40 s of SIGTERM:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(server) = self.server.take() {
            assert!(
                !alive(server.pid()),
                "the server (pid {}) outlived init",
                server.pid()
            );
        }
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = kubectl_with(
            &self.path("etc/edge/edge.yaml"),
            &self.path("kubectl-cache"),
            args,
        );
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// GET /v1-edge/status over HTTPS (self-signed: not verified).
    fn status_endpoint(&self) -> Value {
        let url = url::Url::parse(&format!("https://127.0.0.1:{}", self.status_port)).expect("url");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = rt.block_on(edge_runtime::ctl::client::request(
                &url,
                http::Method::GET,
                "/v1-edge/status",
                &edge_runtime::ctl::client::Trust::FetchCaOnly,
                None,
                None,
            ));
            match r {
                Ok(body) => return serde_json::from_slice(&body).expect("JSON status"),
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "status endpoint: {e}\n{}",
                        self.log_tail()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

fn alive(pid: u32) -> bool {
    // Signal 0: does it exist (and not as a zombie we would see as alive)?
    let p = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(p, None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

fn running(s: &Value) -> bool {
    s["mode"] == "running" && s["child"]["ready"] == true
}

fn edge_yaml(port: u16) -> String {
    format!(
        "# Edge device A, shop 7. Written by hand on a laptop.\r\n\
         role: server\r\n\
         token: {TOKEN}   # the site token\r\n\
         hostname: edge-a\r\n\
         \r\n\
         # loopback only, for the test\r\n\
         bind-address: 127.0.0.1\r\n\
         node-ip: 127.0.0.1\r\n\
         https-listen-port: {port}\r\n\
         network:\r\n\
         \x20 eth0:\r\n\
         \x20   address: 10.0.0.11/24\r\n\
         \x20   gateway: 10.0.0.1\r\n\
         \x20   dns: [10.0.0.1]\r\n"
    )
}

#[test]
fn init_boots_a_server_from_edge_yaml_and_moves_the_token() {
    let mut d = Device::new();
    let original = edge_yaml(d.api_port);
    std::fs::write(d.path("boot/edge.yaml"), &original).expect("edge.yaml");
    std::fs::write(
        d.path("usr/lib/edge/site.yaml"),
        "node-label: [site=shop-7]\ncluster-domain: cluster.local\n",
    )
    .expect("site");
    std::fs::write(
        d.path("proc/cmdline"),
        "console=ttyS0 root=PARTLABEL=EDGE-ROOT-A edge.node-taint=dedicated=edge:NoSchedule\n",
    )
    .expect("cmdline");

    d.boot();
    let s = d.wait_status("the server ready", running);
    let first_pid = s["child"]["pid"].as_u64().expect("pid");

    // kubectl through the kubeconfig init's server wrote.
    let nodes = d.kubectl_ok(&["get", "nodes"]);
    let line = nodes
        .lines()
        .find(|l| l.starts_with("edge-a "))
        .unwrap_or_else(|| panic!("{nodes}"));
    assert!(line.contains(" Ready "), "{nodes}");
    // All three layers reached the node: site (label), boot file (name), cmdline (taint).
    let node: Value = serde_json::from_str(&d.kubectl_ok(&["get", "node", "edge-a", "-o", "json"]))
        .expect("json");
    assert_eq!(node["metadata"]["labels"]["site"], "shop-7");
    assert_eq!(node["spec"]["taints"][0]["key"], "dedicated");

    // The recorded system actions: first boot formats the blank data partition.
    let actions = std::fs::read_to_string(d.path("run/edge/system.log")).expect("system.log");
    for want in [
        "mkfs.ext4 -L EDGE-DATA",
        "hostname edge-a",
        "static eth0 10.0.0.11/24 via 10.0.0.1",
        "resolv.conf 10.0.0.1",
    ] {
        assert!(actions.contains(want), "{want} in {actions}");
    }

    // The token moved: on the data partition (0600), not in the runtime config,
    // and in edge.yaml only as its sha256, every other byte unchanged.
    let stored = d.path("data/init/token");
    assert_eq!(
        std::fs::read_to_string(&stored).expect("token").trim(),
        TOKEN
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&stored)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let runtime = std::fs::read_to_string(d.path("etc/edge/config.yaml")).expect("config.yaml");
    assert!(!runtime.contains(TOKEN), "{runtime}");
    let scrubbed = std::fs::read_to_string(d.path("boot/edge.yaml")).expect("edge.yaml");
    let hash = hex::encode(sha2::Sha256::digest(TOKEN.as_bytes()));
    let expected = original.replace(&format!("token: {TOKEN}"), &format!("token-sha256: {hash}"));
    assert_eq!(scrubbed, expected, "only the token changes");
    assert!(!scrubbed.contains(TOKEN));
    let status_text =
        std::fs::read_to_string(d.path("boot/status/last-boot.json")).expect("status");
    assert!(!status_text.contains(TOKEN), "{status_text}");
    assert_eq!(
        std::fs::read_to_string(d.path("boot/status/last-error.txt")).expect("last-error"),
        ""
    );

    // A server that dies is started again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    let s = d.wait_status("the server restarted", |s| {
        running(s) && s["child"]["starts"] == 2
    });
    assert_ne!(s["child"]["pid"].as_u64(), Some(first_pid));

    // SIGTERM: the server stops first, then init exits.
    d.shutdown();
    let s = d.status();
    assert_eq!(s["mode"], "stopped", "{s:#}");
    assert!(
        s["child"]["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("exited with status 0")),
        "{s:#}"
    );

    // The next boot runs from the moved token: edge.yaml has only its hash.
    d.boot();
    let s = d.wait_status("the second boot ready", running);
    assert_eq!(
        s["token"], "on the data partition (edge.yaml holds its sha256)",
        "{s:#}"
    );
    let actions = std::fs::read_to_string(d.path("run/edge/system.log")).expect("system.log");
    assert_eq!(
        actions.matches("mkfs.ext4").count(),
        1,
        "formatted once: {actions}"
    );
    assert!(d.kubectl_ok(&["get", "nodes"]).contains("edge-a"));
    assert_eq!(
        std::fs::read_to_string(d.path("boot/edge.yaml")).expect("edge.yaml"),
        expected
    );
    d.shutdown();

    // A data partition holding another token (swapped with another
    // device's?) does not start with it: maintenance names token-sha256.
    std::fs::write(d.path("data/init/token"), "another-devices-token-456\n").expect("swap");
    d.boot();
    let s = d.status_endpoint();
    assert_eq!(s["mode"], "maintenance", "{s:#}");
    let e = &s["errors"][0];
    assert_eq!(e["key"], "token-sha256", "{s:#}");
    assert_eq!(e["line"], 3, "{s:#}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("different token")),
        "{s:#}"
    );
    assert!(!s.to_string().contains("another-devices-token"), "{s:#}");
    d.shutdown();
}

#[test]
fn a_bad_edge_yaml_gives_maintenance_mode_and_fixing_it_recovers() {
    let mut d = Device::new();
    let port = d.api_port;
    let bad = format!(
        "role: server\ntoken: {TOKEN}\nhostname: edge-b\nclustr-cidr: 10.42.0.0/16\n\
         bind-address: 127.0.0.1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n\
         network:\n  eth0:\n    address: 10.0.0.12/24\n    gateway: 10.0.1.1\n"
    );
    let edge = d.path("boot/edge.yaml");
    std::fs::write(&edge, &bad).expect("edge.yaml");
    d.boot();
    let s = d.status_endpoint();
    assert_eq!(s["mode"], "maintenance", "{s:#}");
    let errors = s["errors"].as_array().expect("errors");
    let file = edge.display().to_string();
    let find = |key: &str| {
        errors
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {s:#}"))
            .clone()
    };
    let typo = find("clustr-cidr");
    assert_eq!(
        (typo["file"].as_str(), typo["line"].as_u64()),
        (Some(file.as_str()), Some(4))
    );
    assert!(
        typo["message"]
            .as_str()
            .is_some_and(|m| m.contains("did you mean \"cluster-cidr\""))
    );
    let gw = find("network.eth0.gateway");
    assert_eq!(gw["line"], 11);
    assert!(!s.to_string().contains(TOKEN), "no secret in the status");

    // Not a crash loop: still in maintenance a while later, nothing started,
    // the token left where it was, the error readable from the boot partition.
    std::thread::sleep(Duration::from_secs(3));
    let s = d.status_endpoint();
    assert_eq!(s["mode"], "maintenance");
    assert!(s["child"].is_null(), "{s:#}");
    assert_eq!(std::fs::read_to_string(&edge).expect("edge"), bad);
    let last_error =
        std::fs::read_to_string(d.path("boot/status/last-error.txt")).expect("last-error");
    assert!(
        last_error.contains(&format!("{file}:4:1: clustr-cidr:")),
        "{last_error}"
    );
    assert!(last_error.contains("reboot"), "{last_error}");
    d.shutdown();

    // Fix the file (on a laptop), reboot: the server comes up.
    std::fs::write(
        &edge,
        bad.replace("clustr-cidr", "cluster-cidr")
            .replace("gateway: 10.0.1.1", "gateway: 10.0.0.1"),
    )
    .expect("fixed");
    d.boot();
    d.wait_status("the server ready after the fix", running);
    assert!(d.kubectl_ok(&["get", "nodes"]).contains("edge-b"));
    assert_eq!(
        std::fs::read_to_string(d.path("boot/status/last-error.txt")).expect("last-error"),
        ""
    );
    d.shutdown();
}

#[test]
fn without_root_or_pid1_init_refuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_edged"))
        .arg("init")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--root DIR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `role: agent`: init starts `edged agent`, which joins a running server
/// through the `server:` address with the site token.
#[test]
fn init_boots_an_agent_that_joins_a_running_server() {
    let server = support::Server::start(&["--token", TOKEN]);
    let mut d = Device::new();
    std::fs::write(
        d.path("boot/edge.yaml"),
        format!(
            "role: agent\ntoken: {TOKEN}\nserver: {}\nhostname: edge-b\nnode-ip: 127.0.0.21\n",
            server.url()
        ),
    )
    .expect("edge.yaml");
    d.boot();
    let s = d.wait_status("the agent running", running);
    assert_eq!(s["role"], "agent", "{s:#}");
    support::wait_until("the agent's node Ready", Duration::from_secs(60), || {
        support::get_node(&server, "edge-b").is_some_and(|n| support::ready_status(&n) == "True")
    });
    let token = std::fs::read_to_string(d.path("boot/edge.yaml")).expect("edge.yaml");
    assert!(
        !token.contains(TOKEN) && token.contains("token-sha256"),
        "the token moved off the boot partition: {token}"
    );
    d.shutdown();
}
