//! A network-namespace lab for the VIP tests and the failover benchmarks: a
//! switch namespace with a bridge, N node namespaces each with one veth
//! (`e0`, 10.99.0.N/24) into it, and a client namespace (10.99.0.200).
//! Everything carries a per-process, per-test prefix so tests of one binary
//! run in parallel, and everything is removed by Drop guards (processes
//! killed by pid, namespaces deleted).
//!
//! Peers it can start: any program in a node namespace ([`Lab::spawn`]),
//! `vrrp-node` ([`Lab::spawn_node`]), keepalived ([`Lab::spawn_keepalived`]);
//! observers: who holds the VIP, a TCP (or any) probe loop from the client,
//! a tshark capture on the bridge.
//!
//! Owns: set-up, tear-down, probes and observation helpers. Must not: assert
//! on timings (callers decide), or touch anything outside its own namespaces.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 200);
pub const VRID: &str = "51";

/// Root with the tools present: true. Not root: reports the skip
/// ([`crate::skip`]) and returns false. Root but a tool missing: fails the
/// test (project rule: never skip silently).
pub fn prerequisites(test: &str, tools: &[&str]) -> bool {
    if !crate::require_root_or_skip("network namespaces, raw sockets") {
        return false;
    }
    for tool in tools {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            crate::prerequisite_failed(
                &format!("`{tool}` (apt packages iproute2 keepalived tshark)"),
                &format!("{test}: not on PATH"),
            );
        }
    }
    true
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) -> String {
    run(Command::new("ip").args(args))
}

/// A named network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Self {
        // A leftover from a crashed run with the same pid would be ours anyway.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        Self { name }
    }

    /// `ip -n <ns> args...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Moves the calling thread into `ns` (network namespace only).
pub fn enter_netns(ns: &str) {
    let f =
        File::open(format!("/run/netns/{ns}")).unwrap_or_else(|e| panic!("open netns {ns}: {e}"));
    setns(&f, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {ns}: {e}"));
}

/// A process started by the lab; SIGCONT + SIGKILL + reaped on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, s: Signal) {
        kill(self.pid(), s).unwrap_or_else(|e| panic!("kill -{s} {}: {e}", self.name));
    }

    /// Waits for exit up to `timeout`; returns the exit code if it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(self.pid(), Signal::SIGCONT);
            let _ = kill(self.pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// keepalived: the parent (started by us) and its VRRP child (from the pid file).
pub struct Keepalived {
    pub parent: Proc,
    pub vrrp_pid: Pid,
}

impl Keepalived {
    /// A crash: freeze the parent so it cannot respawn the child, kill both.
    pub fn crash(&mut self) {
        let _ = kill(self.parent.pid(), Signal::SIGSTOP);
        let _ = kill(self.vrrp_pid, Signal::SIGKILL);
        let _ = kill(self.parent.pid(), Signal::SIGKILL);
    }

    /// A graceful stop: keepalived resigns with priority 0.
    pub fn terminate(&self) {
        self.parent.signal(Signal::SIGTERM);
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let _ = kill(self.parent.pid(), Signal::SIGSTOP);
        let _ = kill(self.vrrp_pid, Signal::SIGKILL);
        // self.parent's own Drop kills and reaps the parent.
    }
}

/// One node: its namespace, address and bridge port.
pub struct Node {
    pub ns: Netns,
    pub ip: Ipv4Addr,
    pub port: String,
}

pub struct Lab {
    pub prefix: String,
    pub nodes: Vec<Node>,
    pub client: Netns,
    // Dropped after the node and client namespaces (field order).
    pub switch: Netns,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// `tag` must be unique among the tests of one binary.
    pub fn new(tag: &str, nodes: usize) -> Self {
        let prefix = format!("vr{}-{tag}", std::process::id() % 100_000);
        let switch = Netns::new(format!("{prefix}-sw"));
        switch.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        switch.ip(&["link", "set", "br0", "up"]);
        let attach = |ns: &Netns, port: &str, addr: Ipv4Addr| {
            ip(&[
                "link",
                "add",
                "e0",
                "netns",
                &ns.name,
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                &switch.name,
            ]);
            switch.ip(&["link", "set", port, "master", "br0", "up"]);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "e0"]);
            ns.ip(&["link", "set", "e0", "up"]);
            ns.ip(&["link", "set", "lo", "up"]);
        };
        let mut list = Vec::new();
        for i in 0..nodes {
            let ns = Netns::new(format!("{prefix}-n{i}"));
            let addr = Ipv4Addr::new(10, 99, 0, 1 + i as u8);
            let port = format!("p{i}");
            attach(&ns, &port, addr);
            list.push(Node { ns, ip: addr, port });
        }
        let client = Netns::new(format!("{prefix}-c"));
        attach(&client, "pc", CLIENT_IP);
        Self {
            prefix,
            nodes: list,
            client,
            switch,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn ns(&self, i: usize) -> &str {
        &self.nodes[i].ns.name
    }

    /// Starts `cmd` (made with [`Netns::command`]) with stdin and stdout
    /// closed and stderr into a log file of the lab. The process is tied to
    /// the test process (it dies with it) and killed when the `Proc` drops.
    pub fn spawn(&self, name: &str, mut cmd: Command) -> Proc {
        let file = name.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let log = self.dir.path().join(format!("{file}-{}.log", now_ms()));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"));
        let child = crate::spawn_tied(cmd).unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Starts `binary` (vrrp-node) in node `i` with the lab's interface, VIP
    /// and VRID, plus `args`.
    pub fn spawn_node(&self, binary: &str, i: usize, args: &[&str]) -> Proc {
        let vip = VIP.to_string();
        let mut cmd = self.nodes[i].ns.command(binary);
        cmd.args(["--interface", "e0", "--vip", &vip, "--vrid", VRID])
            .args(args)
            .env("RUST_LOG", "info");
        self.spawn(&format!("vrrp-node n{i}"), cmd)
    }

    /// Starts keepalived in node `i` with `instance` as the body of its
    /// `vrrp_instance` block (interface, VRID and VIP are added).
    pub fn spawn_keepalived(&self, i: usize, instance: &str) -> Keepalived {
        let dir = self.dir.path();
        let stamp = now_ms();
        let conf = dir.join(format!("ka{i}-{stamp}.conf"));
        let pid = dir.join(format!("ka{i}-{stamp}.pid"));
        let vrrp_pid = dir.join(format!("ka{i}-{stamp}-vrrp.pid"));
        let log = dir.join(format!("ka{i}-{stamp}.log"));
        let text = format!(
            "global_defs {{\n  vrrp_version 3\n  router_id ka{i}\n}}\n\
             vrrp_instance VI_1 {{\n  interface e0\n  virtual_router_id {VRID}\n  accept\n\
             {instance}\n  virtual_ipaddress {{\n    {VIP}/32 dev e0\n  }}\n}}\n"
        );
        std::fs::write(&conf, text).expect("write keepalived.conf");
        let mut cmd = self.nodes[i].ns.command("keepalived");
        cmd.args(["-n", "-l", "-D", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(&pid)
            .arg("-r")
            .arg(&vrrp_pid)
            .stdin(Stdio::null());
        let out = File::create(&log).expect("log file");
        cmd.stderr(out.try_clone().expect("dup log file"))
            .stdout(out);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn keepalived: {e}"));
        let parent = Proc {
            name: format!("keepalived n{i}"),
            child,
            log,
        };
        let child_pid = wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
            std::fs::read_to_string(&vrrp_pid)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
        })
        .unwrap_or_else(|| {
            panic!(
                "keepalived in n{i} wrote no VRRP pid file; log:\n{}",
                parent.log_tail(30)
            )
        });
        Keepalived {
            parent,
            vrrp_pid: Pid::from_raw(child_pid),
        }
    }

    /// Node indexes whose e0 carries the VIP.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.has_vip(i)).collect()
    }

    pub fn has_vip(&self, i: usize) -> bool {
        self.nodes[i]
            .ns
            .ip(&["-4", "-o", "addr", "show", "dev", "e0"])
            .contains(&format!("{VIP}/32"))
    }

    /// Holders among `among`.
    pub fn holders_among(&self, among: &[usize]) -> Vec<usize> {
        among.iter().copied().filter(|&i| self.has_vip(i)).collect()
    }

    /// Waits until the holders among `among` are exactly `expected`; returns
    /// the time it took. Panics with the lab's state after `timeout`.
    pub fn wait_holders(
        &self,
        among: &[usize],
        expected: &[usize],
        timeout: Duration,
        logs: &[&Proc],
    ) -> Duration {
        let start = Instant::now();
        match wait_for(timeout, Duration::from_millis(10), || {
            (self.holders_among(among) == expected).then_some(())
        }) {
            Some(()) => start.elapsed(),
            None => panic!(
                "holders among {among:?} should be {expected:?} within {timeout:?}, are {:?}\n{}",
                self.holders_among(among),
                self.dump(logs)
            ),
        }
    }

    /// Asserts the holders stay exactly `expected` for `dur`.
    pub fn assert_stable(
        &self,
        among: &[usize],
        expected: &[usize],
        dur: Duration,
        logs: &[&Proc],
    ) {
        let end = Instant::now() + dur;
        while Instant::now() < end {
            let h = self.holders_among(among);
            assert_eq!(h, expected, "holders changed\n{}", self.dump(logs));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn dump(&self, logs: &[&Proc]) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            s += &format!("n{i}: {}", n.ns.ip(&["-br", "addr", "show", "dev", "e0"]));
        }
        s += &format!("client neigh: {}\n", self.client.ip(&["neigh", "show"]));
        for p in logs {
            s += &format!("--- {} ---\n{}\n", p.name, p.log_tail(25));
        }
        s
    }

    pub fn link(&self, i: usize, up: bool) {
        self.nodes[i]
            .ns
            .ip(&["link", "set", "e0", if up { "up" } else { "down" }]);
    }

    /// Cuts node `i` off the switch (its link stays up), or reconnects it.
    pub fn partition(&self, i: usize, cut: bool) {
        let port = self.nodes[i].port.as_str();
        if cut {
            self.switch.ip(&["link", "set", port, "nomaster"]);
        } else {
            self.switch.ip(&["link", "set", port, "master", "br0"]);
        }
    }

    /// Stops multicast flooding on every bridge port (unicast and broadcast still pass).
    pub fn block_multicast(&self) {
        self.multicast_flood(false);
    }

    pub fn unblock_multicast(&self) {
        self.multicast_flood(true);
    }

    fn multicast_flood(&self, on: bool) {
        let ports: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.port.clone())
            .chain(["pc".to_owned()])
            .collect();
        for p in ports {
            run(Command::new("ip").args([
                "netns",
                "exec",
                &self.switch.name,
                "bridge",
                "link",
                "set",
                "dev",
                &p,
                "mcast_flood",
                if on { "on" } else { "off" },
            ]));
        }
    }

    pub fn mac(&self, i: usize) -> String {
        let out = self.nodes[i].ns.ip(&["-br", "link", "show", "dev", "e0"]);
        out.split_whitespace().nth(2).unwrap_or_default().to_owned()
    }

    /// The client's ARP entry for the VIP.
    pub fn client_arp(&self) -> Option<String> {
        let out = self.client.ip(&["neigh", "show", &VIP.to_string()]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_owned)
    }

    /// A TCP connect loop from the client to VIP:port.
    pub fn probe(&self, port: u16, period: Duration) -> Probe {
        Probe::start(&self.client.name, SocketAddrV4::new(VIP, port), period)
    }
}

pub fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// Polls `f` every `every` until it returns Some or `timeout` passes.
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// One probe attempt: when it started and who answered (None = failed).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: Instant,
    pub reply: Option<String>,
}

/// A thread in the client namespace connecting to a target every `period`
/// (connect timeout 20 ms), reading one line of reply.
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
}

impl Probe {
    /// Connects to `target` every `period` and reads one line of reply.
    pub fn start(ns: &str, target: SocketAddrV4, period: Duration) -> Self {
        Self::start_with(ns, period, move || connect_once(target))
    }

    /// Runs `attempt` in namespace `ns` every `period`; its `Some(reply)`
    /// is a success and says who answered.
    pub fn start_with(
        ns: &str,
        period: Duration,
        mut attempt: impl FnMut() -> Option<String> + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let ns = ns.to_owned();
        let (s, a) = (stop.clone(), attempts.clone());
        let thread = std::thread::spawn(move || {
            enter_netns(&ns);
            while !s.load(Ordering::Relaxed) {
                let at = Instant::now();
                let reply = attempt();
                a.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Attempt { at, reply });
                let next = at + period;
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
            attempts,
        }
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits for a reply from `who` to an attempt started after `since`.
    pub fn wait_reply_from(&self, who: &str, since: Instant, timeout: Duration) -> Option<Instant> {
        wait_for(timeout, Duration::from_millis(10), || {
            self.attempts()
                .into_iter()
                .find(|a| a.at >= since && a.reply.as_deref() == Some(who))
                .map(|a| a.at)
        })
    }

    /// The outage around an event at `t`: from the last successful attempt
    /// before the first failure after `t`, to the first success after it.
    /// Zero if nothing failed; None if it never recovered.
    pub fn outage_after(&self, t: Instant) -> Option<Duration> {
        let a = self.attempts();
        let Some(first_fail) = a.iter().position(|x| x.at >= t && x.reply.is_none()) else {
            return Some(Duration::ZERO);
        };
        let last_ok = a[..first_fail]
            .iter()
            .rev()
            .find(|x| x.reply.is_some())
            .map_or(t, |x| x.at);
        let next_ok = a[first_fail..].iter().find(|x| x.reply.is_some())?;
        Some(next_ok.at.duration_since(last_ok))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn connect_once(target: SocketAddrV4) -> Option<String> {
    let s = TcpStream::connect_timeout(&SocketAddr::V4(target), Duration::from_millis(20)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(100))).ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    let line = line.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

/// A TCP server inside a namespace answering every connection with one
/// line; stops (and closes the port) on drop.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    pub fn start(ns: &str, addr: SocketAddrV4, reply: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ns, reply, s) = (ns.to_owned(), format!("{reply}\n"), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            enter_netns(&ns);
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr} in {ns}: {e}"));
            l.set_nonblocking(true).expect("non-blocking listener");
            let _ = ready_tx.send(());
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("listener thread started");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Captures `ip proto 112` on the switch bridge with tshark into a file.
pub struct Capture {
    pub proc: Proc,
    pub file: PathBuf,
}

impl Lab {
    pub fn capture(&self) -> Capture {
        let file = self.dir.path().join(format!("vrrp-{}.pcap", now_ms()));
        let log = self.dir.path().join("tshark.log");
        // dumpcap refuses to write into a directory it does not own on some set-ups; /tmp-style temp dirs are fine as root.
        let mut cmd = self.switch.command("tshark");
        cmd.args(["-i", "br0", "-f", "ip proto 112", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log"));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn tshark: {e}"));
        let proc = Proc {
            name: "tshark".into(),
            child,
            log,
        };
        // tshark says "Capturing on 'br0'" once the capture runs.
        let started = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
            std::fs::read_to_string(&proc.log)
                .ok()
                .filter(|s| s.contains("Capturing on"))
        });
        assert!(
            started.is_some(),
            "tshark did not start:\n{}",
            proc.log_tail(20)
        );
        Capture { proc, file }
    }
}

impl Capture {
    /// Stops the capture (SIGINT, so the file is complete).
    pub fn stop(&mut self) -> &Path {
        let _ = kill(self.proc.pid(), Signal::SIGINT);
        let _ = self.proc.wait_exit(Duration::from_secs(5));
        &self.file
    }
}

/// Decodes a capture: (source, priority, checksum status) per VRRP packet, with
/// the Wireshark preference `vrrp.v3_checksum_as_in_v2` set as given.
pub fn tshark_vrrp(file: &Path, as_in_v2: bool) -> Vec<(String, String, String)> {
    let pref = format!(
        "vrrp.v3_checksum_as_in_v2:{}",
        if as_in_v2 { "TRUE" } else { "FALSE" }
    );
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args([
        "-o",
        &pref,
        "-Y",
        "vrrp",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "vrrp.prio",
        "-e",
        "vrrp.checksum.status",
    ]);
    let out = cmd.output().expect("run tshark -r");
    let mut text = String::new();
    let _ = out.stdout.as_slice().read_to_string(&mut text);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3).then(|| (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()))
        })
        .collect()
}

impl Lab {
    /// One more namespace on the lab's switch, `e0` at `addr`/24 like a
    /// node's, for a peer that is not a node (a datastore's address, say);
    /// `tag` (at most 12 characters) names it and its bridge port. Deleted
    /// when the returned `Netns` drops.
    pub fn attach(&self, tag: &str, addr: Ipv4Addr) -> Netns {
        let ns = Netns::new(format!("{}-{tag}", self.prefix));
        let port = format!("p{tag}");
        ip(&[
            "link",
            "add",
            "e0",
            "netns",
            &ns.name,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.switch.name,
        ]);
        self.switch
            .ip(&["link", "set", &port, "master", "br0", "up"]);
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "e0"]);
        ns.ip(&["link", "set", "e0", "up"]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Cuts node `i` off from `peer` alone, both ways and silently (as a
    /// pulled cable or a firewall's DROP would: no error comes back, a
    /// connection stalls, a new one hangs), with iproute2 only. What the node
    /// sends to `peer` is routed into a veth pair of its own (`cut0`/`cut1`)
    /// to a link-layer address nobody has, so it is lost; what it receives
    /// from `peer` fails strict reverse-path filtering on `e0` (the route back
    /// no longer leaves by `e0`), so it is dropped, ARP requests included.
    /// Everything else on `e0` (VRRP, ARP with the others, the API) flows.
    /// [`Lab::heal`] undoes it.
    pub fn cut(&self, i: usize, peer: Ipv4Addr) {
        let ns = &self.nodes[i].ns;
        ns.ip(&[
            "link", "add", "cut0", "type", "veth", "peer", "name", "cut1",
        ]);
        ns.ip(&["link", "set", "cut1", "up"]);
        ns.ip(&["link", "set", "cut0", "up"]);
        let peer = peer.to_string();
        ns.ip(&["route", "add", &format!("{peer}/32"), "dev", "cut0"]);
        ns.ip(&[
            "neigh",
            "replace",
            &peer,
            "lladdr",
            "02:00:00:00:00:fe",
            "dev",
            "cut0",
            "nud",
            "permanent",
        ]);
        sysctl_in(&ns.name, "net/ipv4/conf/e0/rp_filter", "1");
    }

    /// Undoes [`Lab::cut`]: the filter off, the veth pair (with its route
    /// and neighbour entry) deleted.
    pub fn heal(&self, i: usize) {
        let ns = &self.nodes[i].ns;
        sysctl_in(&ns.name, "net/ipv4/conf/e0/rp_filter", "0");
        ns.ip(&["link", "del", "cut0"]);
    }
}

/// Writes `/proc/sys/<key>` as seen from namespace `ns` (a network sysctl
/// is per namespace: the writing thread's).
fn sysctl_in(ns: &str, key: &str, value: &str) {
    let (ns, path) = (ns.to_owned(), format!("/proc/sys/{key}"));
    let value = value.to_owned();
    std::thread::spawn(move || {
        enter_netns(&ns);
        std::fs::write(&path, &value).unwrap_or_else(|e| panic!("write {path} in {ns}: {e}"));
    })
    .join()
    .unwrap_or_else(|_| panic!("setting {key} in a namespace failed"));
}

use std::net::Shutdown;
use std::os::unix::net::UnixStream;

/// A TCP port inside a namespace whose connections are relayed, byte for
/// byte, to a Unix socket: how servers in the lab reach a database of the
/// kit (which listens on the host's loopback and its socket) over the lab's
/// network, so the network between them can fail. Every accepted connection
/// gets its own connection to the socket; when either side ends (the
/// database crashed, say), both are closed. If the socket refuses, the
/// accepted connection is closed at once.
///
/// Dropping it stops accepting and closes every connection.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<RelayConn>>>,
}

/// One relayed connection: both sockets (to close them) and its two copy threads.
struct RelayConn {
    tcp: TcpStream,
    unix: UnixStream,
    threads: [JoinHandle<()>; 2],
}

impl RelayConn {
    fn close(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
        let _ = self.unix.shutdown(Shutdown::Both);
    }

    fn finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }
}

impl Relay {
    pub fn start(ns: &str, addr: SocketAddrV4, to: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (ns, to) = (ns.to_owned(), to.to_owned());
        let (s, c) = (stop.clone(), conns.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            enter_netns(&ns);
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr} in {ns}: {e}"));
            l.set_nonblocking(true).expect("non-blocking listener");
            let _ = ready_tx.send(());
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((tcp, _)) => {
                        let _ = tcp.set_nonblocking(false);
                        let _ = tcp.set_nodelay(true);
                        if let Ok(unix) = UnixStream::connect(&to)
                            && let Some(conn) = relay_one(tcp, unix)
                        {
                            let mut all = c.lock().unwrap_or_else(|e| e.into_inner());
                            all.retain(|c: &RelayConn| !c.finished());
                            all.push(conn);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("relay thread started");
        Self {
            stop,
            thread: Some(thread),
            conns,
        }
    }
}

/// Copies both ways between `tcp` and `unix` on two threads; the first
/// direction to end shuts both sockets down, which ends the other.
fn relay_one(tcp: TcpStream, unix: UnixStream) -> Option<RelayConn> {
    let pair = || Some((tcp.try_clone().ok()?, unix.try_clone().ok()?));
    let ((mut t1, mut u1), (mut t2, mut u2)) = (pair()?, pair()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut t1, &mut u1);
        let _ = t1.shutdown(Shutdown::Both);
        let _ = u1.shutdown(Shutdown::Both);
    });
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut u2, &mut t2);
        let _ = t2.shutdown(Shutdown::Both);
        let _ = u2.shutdown(Shutdown::Both);
    });
    Some(RelayConn {
        tcp,
        unix,
        threads: [up, down],
    })
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(|e| e.into_inner()));
        for c in &conns {
            c.close();
        }
        for c in conns {
            for t in c.threads {
                let _ = t.join();
            }
        }
    }
}
