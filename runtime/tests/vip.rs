//! Privileged: `edged server --vip` in network namespaces (edge-testkit's
//! netns lab: a bridge, one namespace per server with `e0` on 10.99.0.0/24,
//! a client namespace at 10.99.0.200). Each server binds the API on its
//! namespace's address and runs VRRP on its veth; the client reaches the API
//! through the VIP 10.99.0.100, with an HTTPS loop and with kubectl.
//!
//! Each server is its own single-server cluster, on embedded SQLite (the
//! health test gives one server its own PostgreSQL, reached through its Unix
//! socket): VRRP does not care whether the servers share a datastore, and a
//! shared datastore over TCP is not reachable from inside the namespaces
//! without extra plumbing. The servers share one set of certificate
//! authorities (copied into each data dir before it starts, as a shared
//! datastore would hand them out), so one admin kubeconfig verifies
//! whichever server holds the VIP.
//!
//! Root runs them (a missing `ip`, `setpriv`, kubectl or PostgreSQL fails
//! the test); without root each test prints SKIPPED. No timing is asserted
//! (outages are printed); `scripts/bench.sh` measures.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_testkit::netns::{self, Lab, Probe, Proc, VIP, enter_netns, prerequisites, wait_for};
use edge_testkit::{PASSWORD, Postgres, ServerOptions, USER, or_skip};
use nix::sys::signal::Signal;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

const EDGED: &str = env!("CARGO_BIN_EXE_edged");
const PORT: u16 = 6443;
const INTERVAL: &str = "100ms";
/// The files of the cluster's certificate authorities (see `pki::cluster`).
const CA_FILES: [&str; 6] = [
    "server-ca.crt",
    "server-ca.key",
    "client-ca.crt",
    "client-ca.key",
    "service.key",
    "secrets-encryption.key",
];

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// One `edged server` in node namespace `i` of the lab.
struct Edged {
    proc: Proc,
    ip: Ipv4Addr,
    node: String,
    dir: PathBuf,
}

impl Edged {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig.yaml")
    }

    fn tls_dir(&self) -> PathBuf {
        self.data_dir().join("server/tls")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.proc.log).unwrap_or_default()
    }
}

fn private_dir(path: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

/// Prepares node `i`'s directory: the shared certificate authorities from
/// `ca_from` (a started server's data dir), if given.
fn prepare(lab: &Lab, i: usize, ca_from: Option<&Edged>) -> PathBuf {
    let dir = lab.dir.path().join(format!("n{i}"));
    private_dir(&dir);
    if let Some(from) = ca_from {
        let tls = dir.join("data/server/tls");
        private_dir(&tls);
        for f in CA_FILES {
            std::fs::copy(from.tls_dir().join(f), tls.join(f))
                .unwrap_or_else(|e| panic!("copy {f}: {e}"));
        }
    }
    dir
}

/// `edged server` in node `i` with the lab's VIP, `args` added, run through
/// `wrap` (e.g. setpriv) if given. The VIP, VRID and the 100 ms advert
/// interval come from `EDGE_VIP`, `EDGE_VRRP_ID` and
/// `EDGE_VRRP_ADVERT_INTERVAL` (the env path of the flags; flags in `args`
/// win).
fn command(lab: &Lab, i: usize, dir: &Path, wrap: &[&str], args: &[&str]) -> Command {
    let ip = lab.nodes[i].ip.to_string();
    let mut cmd = match wrap.split_first() {
        Some((program, rest)) => {
            let mut c = lab.nodes[i].ns.command(program);
            c.args(rest).arg(EDGED);
            c
        }
        None => lab.nodes[i].ns.command(EDGED),
    };
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--write-kubeconfig")
        .arg(dir.join("kubeconfig.yaml"))
        .args(["--bind-address", &ip, "--node-ip", &ip])
        .args(["--node-name", &format!("vip-n{i}")])
        .args(args)
        .env("EDGE_VRRP_ADVERT_INTERVAL", INTERVAL)
        // The lab's VIP from the env; a `--vip` in `args` wins (flag > env).
        .env("EDGE_VIP", VIP.to_string())
        .env("EDGE_VRRP_ID", netns::VRID)
        .env("RUST_LOG", "info,sqlx=warn")
        .env("EDGE_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .env_remove("EDGE_TOKEN");
    cmd
}

fn spawn(lab: &Lab, i: usize, priority: u8, ca_from: Option<&Edged>, args: &[&str]) -> Edged {
    let dir = prepare(lab, i, ca_from);
    let prio = priority.to_string();
    let mut all = vec!["--vrrp-priority", prio.as_str()];
    all.extend_from_slice(args);
    let cmd = command(lab, i, &dir, &[], &all);
    Edged {
        proc: lab.spawn(&format!("edged n{i}"), cmd),
        ip: lab.nodes[i].ip,
        node: format!("vip-n{i}"),
        dir,
    }
}

/// A TLS client with the admin certificate, trusting the servers' CA.
fn client_tls(e: &Edged) -> Arc<rustls::ClientConfig> {
    let tls = e.tls_dir();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(tls.join("server-ca.crt")).expect("server CA") {
        roots.add(c.expect("CA parses")).expect("CA added");
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls.join("client-admin.crt"))
            .expect("admin cert")
            .map(|c| c.expect("cert parses"))
            .collect();
    let key = PrivateKeyDer::from_pem_file(tls.join("client-admin.key")).expect("admin key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client auth"),
    )
}

/// `GET /v1-edge/status` on `target` over HTTPS, verifying the serving
/// certificate for the target's IP. Runs in the caller's namespace.
fn status_at(
    target: SocketAddrV4,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Option<Value> {
    let tcp = TcpStream::connect_timeout(&target.into(), Duration::from_millis(50)).ok()?;
    tcp.set_read_timeout(Some(timeout)).ok()?;
    tcp.set_write_timeout(Some(timeout)).ok()?;
    let name = ServerName::IpAddress((*target.ip()).into());
    let conn = rustls::ClientConnection::new(tls, name).ok()?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "GET /v1-edge/status HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.ip()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut buf = Vec::new();
    // A peer closing without close_notify ends with an error after the body.
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = &text[text.find("\r\n\r\n")?..];
    serde_json::from_str(&body[body.find('{')?..=body.rfind('}')?]).ok()
}

/// The status of `of` as the client namespace sees it, asked with `e`'s credentials.
fn status(lab: &Lab, e: &Edged, of: Ipv4Addr) -> Option<Value> {
    let tls = client_tls(e);
    let ns = lab.client.name.clone();
    std::thread::spawn(move || {
        enter_netns(&ns);
        status_at(SocketAddrV4::new(of, PORT), tls, secs(5.0))
    })
    .join()
    .ok()
    .flatten()
}

fn procs(servers: &[Edged]) -> Vec<&Proc> {
    servers.iter().map(|e| &e.proc).collect()
}

fn dump(lab: &Lab, servers: &[Edged]) -> String {
    lab.dump(&procs(servers))
}

/// Waits until `e` answers `/v1-edge/status` with ready.
fn wait_ready(lab: &Lab, e: &Edged, all: &[Edged]) -> Value {
    let found = wait_for(secs(60.0), Duration::from_millis(200), || {
        if !e.tls_dir().join("client-admin.key").exists() {
            return None;
        }
        status(lab, e, e.ip).filter(|s| s["ready"] == true)
    });
    found.unwrap_or_else(|| panic!("{} not ready within 60 s\n{}", e.node, dump(lab, all)))
}

/// Waits until server `i` advertises `priority`.
fn wait_priority(lab: &Lab, s: &[Edged], i: usize, priority: u64) {
    let got = wait_for(secs(10.0), Duration::from_millis(50), || {
        status(lab, &s[0], s[i].ip)
            .filter(|st| st["vrrp"]["effective-priority"].as_u64() == Some(priority))
    });
    assert!(
        got.is_some(),
        "n{i} should advertise priority {priority}: {:?}\n{}",
        status(lab, &s[0], s[i].ip),
        dump(lab, s)
    );
}

/// An HTTPS loop from the client to the API through the VIP every 20 ms
/// (500 ms per request: a request in flight when the VIP moves gets no
/// answer and counts as failed); each success names the node that answered.
fn probe_through_vip(lab: &Lab, creds: &Edged) -> Probe {
    let tls = client_tls(creds);
    Probe::start_with(&lab.client.name, Duration::from_millis(20), move || {
        status_at(SocketAddrV4::new(VIP, PORT), tls.clone(), secs(0.5))
            .and_then(|s| s["node-name"].as_str().map(str::to_owned))
    })
}

/// kubectl in the client namespace against `server` with `e`'s admin kubeconfig.
fn kubectl(
    lab: &Lab,
    e: &Edged,
    server: &str,
    tls_server_name: Option<&str>,
    args: &[&str],
) -> Output {
    let mut cmd = lab
        .client
        .command(&support::kubectl_path().to_string_lossy());
    cmd.arg("--kubeconfig")
        .arg(e.kubeconfig())
        .arg("--cache-dir")
        .arg(e.dir.join("kubectl-cache"))
        .args(["--request-timeout", "10s", "--server", server]);
    if let Some(name) = tls_server_name {
        cmd.args(["--tls-server-name", name]);
    }
    cmd.args(args).output().expect("kubectl runs")
}

/// kubectl through the VIP, verifying the serving certificate for the VIP.
fn kubectl_via_vip(lab: &Lab, e: &Edged, args: &[&str], all: &[Edged]) -> String {
    let vip = VIP.to_string();
    let out = kubectl(lab, e, &format!("https://{vip}:{PORT}"), Some(&vip), args);
    assert!(
        out.status.success(),
        "kubectl {} through the VIP failed: {}{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        dump(lab, all)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready_or_skip(test: &str) -> bool {
    if !prerequisites(test, &["ip"]) {
        return false;
    }
    support::kubectl_path();
    true
}

#[test]
fn one_holder_crash_moves_the_vip_and_https_and_kubectl_follow() {
    if !ready_or_skip("one_holder_crash_moves_the_vip_and_https_and_kubectl_follow") {
        return;
    }
    let lab = Lab::new("ecrash", 3);
    let mut s = vec![spawn(&lab, 0, 150, None, &["--vip-interface", "e0"])];
    wait_ready(&lab, &s[0], &s);
    s.push(spawn(&lab, 1, 120, Some(&s[0]), &["--vip-interface", "e0"]));
    // n2 finds the interface itself (the one whose subnet holds the VIP).
    s.push(spawn(&lab, 2, 100, Some(&s[0]), &[]));
    for e in &s {
        wait_ready(&lab, e, &s);
    }
    lab.wait_holders(&[0, 1, 2], &[0], secs(10.0), &procs(&s));
    lab.assert_stable(&[0, 1, 2], &[0], secs(1.0), &procs(&s));

    // Every server publishes its VRRP view on /v1-edge/status.
    let s0 = status(&lab, &s[0], s[0].ip).expect("n0 status");
    assert_eq!(s0["node-name"], "vip-n0");
    assert_eq!(s0["vrrp"]["state"], "master", "{s0}");
    assert_eq!(s0["vrrp"]["effective-priority"], 150, "{s0}");
    assert_eq!(s0["vrrp"]["interface"], "e0");
    for e in &s[1..] {
        let st = status(&lab, &s[0], e.ip).expect("backup status");
        assert_eq!(st["node-name"], e.node.as_str());
        assert_eq!(st["ready"], true);
        assert_eq!(st["vrrp"]["state"], "backup", "{st}");
        assert_eq!(st["vrrp"]["master"]["address"], "10.99.0.1", "{st}");
        assert_eq!(st["vrrp"]["master"]["priority"], 150, "{st}");
        assert_eq!(st["vrrp"]["interface"], "e0", "{st}");
        assert!(
            st["vrrp"]["counters"]["adverts-received"].as_u64() > Some(0),
            "{st}"
        );
    }

    // kubectl verifies the serving certificate for the VIP itself.
    let nodes = kubectl_via_vip(&lab, &s[0], &["get", "nodes", "-o", "name"], &s);
    assert_eq!(nodes.trim(), "node/vip-n0");
    let probe = probe_through_vip(&lab, &s[0]);
    assert!(
        probe
            .wait_reply_from("vip-n0", Instant::now(), secs(5.0))
            .is_some(),
        "the client's HTTPS requests through the VIP never reached n0\n{}",
        dump(&lab, &s)
    );

    let t = Instant::now();
    s[0].proc.signal(Signal::SIGKILL);
    assert!(s[0].proc.wait_exit(secs(5.0)).is_some());
    // The crashed server's address stays on its interface (nobody removes
    // it); among the live ones exactly n1 takes it.
    lab.wait_holders(&[1, 2], &[1], secs(5.0), &procs(&s));
    let took = t.elapsed();
    assert!(
        probe.wait_reply_from("vip-n1", t, secs(10.0)).is_some(),
        "HTTPS through the VIP did not resume on n1\n{}",
        dump(&lab, &s)
    );
    std::thread::sleep(Duration::from_millis(200));
    let outage = probe
        .outage_after(t)
        .expect("HTTPS through the VIP recovered");
    eprintln!("crash: n1 took the VIP after {took:?}; HTTPS outage through the VIP {outage:?}");

    // The same kubeconfig works through the VIP: n1's certificate names the VIP too.
    let nodes = kubectl_via_vip(&lab, &s[0], &["get", "nodes", "-o", "name"], &s);
    assert_eq!(nodes.trim(), "node/vip-n1");
    lab.assert_stable(&[1, 2], &[1], secs(1.0), &procs(&s));
}

#[test]
fn sigterm_resigns_with_priority_zero_before_the_listener_closes() {
    if !ready_or_skip("sigterm_resigns_with_priority_zero_before_the_listener_closes") {
        return;
    }
    let lab = Lab::new("eterm", 2);
    // Both infer their interface.
    let mut s = vec![spawn(&lab, 0, 150, None, &[])];
    wait_ready(&lab, &s[0], &s);
    s.push(spawn(&lab, 1, 100, Some(&s[0]), &[]));
    wait_ready(&lab, &s[1], &s);
    lab.wait_holders(&[0, 1], &[0], secs(10.0), &procs(&s));
    let before = status(&lab, &s[0], s[1].ip).expect("n1 status");
    assert_eq!(before["vrrp"]["counters"]["priority-zero-received"], 0);
    let probe = probe_through_vip(&lab, &s[0]);
    assert!(
        probe
            .wait_reply_from("vip-n0", Instant::now(), secs(5.0))
            .is_some()
    );

    let t = Instant::now();
    s[0].proc.signal(Signal::SIGTERM);
    // n0 removed the VIP itself; n1 holds it.
    lab.wait_holders(&[0, 1], &[1], secs(5.0), &procs(&s));
    let took = t.elapsed();
    let code = s[0].proc.wait_exit(secs(20.0));
    assert_eq!(code, Some(0), "edged exits cleanly\n{}", dump(&lab, &s));
    assert!(
        probe.wait_reply_from("vip-n1", t, secs(10.0)).is_some(),
        "HTTPS through the VIP did not resume on n1\n{}",
        dump(&lab, &s)
    );
    std::thread::sleep(Duration::from_millis(200));
    let outage = probe.outage_after(t).expect("recovered");
    eprintln!("SIGTERM: n1 holds the VIP {took:?} after the signal; HTTPS outage {outage:?}");

    // n1 heard the resignation: a priority-0 advert.
    let after = status(&lab, &s[0], s[1].ip).expect("n1 status");
    assert_eq!(after["vrrp"]["state"], "master", "{after}");
    assert!(
        after["vrrp"]["counters"]["priority-zero-received"].as_u64() >= Some(1),
        "{after}"
    );
    // n0 resigned (priority 0 sent, VIP removed) before closing its listener.
    let log = s[0].log();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in n0's log:\n{log}"))
    };
    assert!(at("shutting down") < at("virtual IP removed"), "{log}");
    assert!(
        at("virtual IP removed") < at("resigned the virtual IP"),
        "{log}"
    );
    assert!(
        at("resigned the virtual IP") < at("closing the API listener"),
        "{log}"
    );
}

/// A PostgreSQL instance the test can stop and start, reachable from every
/// namespace through its Unix socket.
struct Datastore {
    pg: edge_testkit::DbServer,
    endpoint: String,
}

fn datastore() -> Datastore {
    let pg = or_skip(
        "PostgreSQL (for a datastore the test can stop)",
        Postgres::start(ServerOptions::default()),
    )
    .expect("PostgreSQL");
    // The socket form: `?host=DIR` with the instance's own port dials
    // DIR/.s.PGSQL.PORT, the same file from every namespace.
    let endpoint = format!(
        "postgres://{USER}:{PASSWORD}@localhost:{}/vip?host={}&sslmode=disable",
        pg.port(),
        pg.socket_dir().display()
    );
    Datastore { pg, endpoint }
}

#[test]
fn failing_datastore_loses_the_vip_to_a_ready_server_and_recovery_takes_it_back() {
    if !ready_or_skip(
        "failing_datastore_loses_the_vip_to_a_ready_server_and_recovery_takes_it_back",
    ) {
        return;
    }
    let lab = Lab::new("ehealth", 2);
    let mut db = datastore();
    db.pg.stop().expect("stop PostgreSQL");

    // A lone server whose datastore is down still holds the VIP while it boots.
    let ep = db.endpoint.clone();
    let mut s = vec![spawn(&lab, 0, 150, None, &["--datastore-endpoint", &ep])];
    lab.wait_holders(&[0], &[0], secs(10.0), &procs(&s));
    assert!(
        s[0].log().contains("datastore unreachable"),
        "n0 should still be waiting for its datastore\n{}",
        s[0].log()
    );
    db.pg.start().expect("start PostgreSQL");
    wait_ready(&lab, &s[0], &s);
    // `rise` good checks later the configured priority is back.
    wait_priority(&lab, &s, 0, 150);

    // A ready server on SQLite at a lower priority stays backup.
    s.push(spawn(&lab, 1, 100, Some(&s[0]), &[]));
    wait_ready(&lab, &s[1], &s);
    lab.assert_stable(&[0, 1], &[0], secs(1.5), &procs(&s));

    // n0's datastore stops: its readiness fails, its priority drops to 1,
    // and the ready n1 takes the VIP while n0 keeps running.
    db.pg.stop().expect("stop PostgreSQL");
    lab.wait_holders(&[0, 1], &[1], secs(15.0), &procs(&s));
    let s0 = status(&lab, &s[0], s[0].ip).expect("n0 still answers");
    assert_eq!(s0["ready"], false, "{s0}");
    assert!(
        s0["not-ready-reason"]
            .as_str()
            .is_some_and(|r| r.contains("datastore")),
        "{s0}"
    );
    assert_eq!(s0["vrrp"]["state"], "backup", "{s0}");
    assert_eq!(s0["vrrp"]["effective-priority"], 1, "{s0}");
    assert_eq!(s0["vrrp"]["health"]["failing"], true, "{s0}");
    let s1 = status(&lab, &s[0], s[1].ip).expect("n1 status");
    assert_eq!(s1["vrrp"]["state"], "master", "{s1}");
    kubectl_via_vip(&lab, &s[0], &["get", "--raw", "/readyz"], &s);

    // The datastore comes back: n0 is ready again and takes the VIP back.
    db.pg.start().expect("start PostgreSQL");
    lab.wait_holders(&[0, 1], &[0], secs(20.0), &procs(&s));
    wait_priority(&lab, &s, 0, 150);
    // The servers stop before their datastore does.
    drop(s);
}

/// Runs edged in node 0 (through `wrap`, if given) expecting it to refuse
/// to start; returns its stderr.
fn refused(lab: &Lab, wrap: &[&str], args: &[&str]) -> String {
    let dir = lab.dir.path().join(format!("refused-{}", netns::now_ms()));
    let mut p = lab.spawn("edged refused", command(lab, 0, &dir, wrap, args));
    let code = p.wait_exit(secs(20.0));
    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
    assert!(
        matches!(code, Some(c) if c != 0),
        "edged should refuse {wrap:?} {args:?}, got {code:?}:\n{log}"
    );
    assert!(
        !dir.join("data").exists(),
        "a refused VIP must fail before the data dir is touched"
    );
    log
}

#[test]
fn bad_vip_configuration_fails_at_start_naming_the_flag() {
    if !prerequisites(
        "bad_vip_configuration_fails_at_start_naming_the_flag",
        &["ip", "setpriv"],
    ) {
        return;
    }
    let lab = Lab::new("ebad", 1);
    let off = ["--vip-interface", "e0", "--vip", "10.98.0.100"];
    let e = refused(&lab, &[], &off);
    assert!(
        e.contains("--vip 10.98.0.100 is not inside any IPv4 subnet of --vip-interface e0")
            && e.contains("10.99.0.1/24"),
        "{e}"
    );
    let e = refused(&lab, &[], &["--vip", "10.98.0.100"]);
    assert!(
        e.contains("set --vip-interface") && e.contains("e0 10.99.0.1/24"),
        "{e}"
    );
    let e = refused(&lab, &[], &["--vip-interface", "eth7"]);
    assert!(
        e.contains("--vip-interface eth7: no such interface") && e.contains("e0"),
        "{e}"
    );
    let e = refused(&lab, &[], &["--vrrp-id", "0"]);
    assert!(e.contains("--vrrp-id") && e.contains("1..=255"), "{e}");
    let e = refused(&lab, &[], &["--vrrp-id", "256"]);
    assert!(e.contains("--vrrp-id") && e.contains("1..=255"), "{e}");
    let e = refused(&lab, &[], &["--vip", "10.99.0.1"]);
    assert!(e.contains("is the address of interface e0"), "{e}");

    let drop_caps = |caps: &str| {
        let flag = format!("--inh-caps=-{caps}");
        let bounding = format!("--bounding-set=-{caps}");
        refused(&lab, &["setpriv", &flag, &bounding], &[])
    };
    let e = drop_caps("net_raw");
    assert!(e.contains("missing CAP_NET_RAW"), "{e}");
    let e = drop_caps("net_admin");
    assert!(e.contains("missing CAP_NET_ADMIN"), "{e}");
}
