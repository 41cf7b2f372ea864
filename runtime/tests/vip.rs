//! Privileged: `edged server --vip` in network namespaces (edge-testkit's
//! netns lab: a bridge, one namespace per server with `e0` on 10.99.0.0/24,
//! a client namespace at 10.99.0.200). Each server binds the API on its
//! namespace's address and runs VRRP on its veth; the client reaches the API
//! through the VIP 10.99.0.100, with an HTTPS loop and with kubectl.
//!
//! In the VRRP tests each server is its own single-server cluster, on
//! embedded SQLite (the health test gives one server its own PostgreSQL,
//! reached through its Unix socket): VRRP does not care whether the servers
//! share a datastore. They share one set of certificate authorities (copied
//! into each data dir before it starts, as a shared datastore would hand
//! them out), so one admin kubeconfig verifies whichever server holds the
//! VIP.
//!
//! The datastore-fault tests run the seed's topology itself: two servers of
//! one cluster (one token) on one PostgreSQL of their own, the client
//! writing through the VIP. The crash test reaches PostgreSQL through its
//! Unix socket (the same file from every namespace); the cut test over the
//! lab's network, at 10.99.0.250 (a namespace on the switch whose port
//! relays to that socket), so one server's path to it can be cut while
//! VRRP between the servers still flows.
//!
//! Root runs them (a missing `ip`, `setpriv`, kubectl or PostgreSQL fails
//! the test); without root each test prints SKIPPED. No timing is asserted:
//! every wait is for an event, with a generous deadline ([`LIVENESS`]), and
//! outages are printed; `scripts/bench.sh` measures.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_testkit::netns::{
    self, Lab, Netns, Probe, Proc, Relay, VIP, enter_netns, prerequisites, wait_for,
};
use edge_testkit::{DbServer, PASSWORD, Postgres, ServerOptions, USER, or_skip};
use nix::sys::signal::Signal;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

const EDGED: &str = env!("CARGO_BIN_EXE_edged");
const PORT: u16 = 6443;
const INTERVAL: &str = "100ms";
/// The deadline of every wait for an event (a holder, a reply, an exit):
/// generous, so a loaded machine is not mistaken for a fault. It bounds a
/// wait; it is not a measure of anything.
const LIVENESS: Duration = Duration::from_secs(60);
/// The token of the datastore-fault tests' two-server cluster.
const TOKEN: &str = "vip-suite-token";
/// Where the cut test's servers reach PostgreSQL, on the lab's switch.
const DB_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 250);
const DB_PORT: u16 = 5432;
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

/// One HTTPS request (`method path`, with a JSON `body` unless empty) to
/// `target`, verifying the serving certificate for the target's IP: the
/// status code and what follows the headers, or None without an answer
/// within `timeout`. Runs in the caller's namespace.
fn https(
    target: SocketAddrV4,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String)> {
    let tcp = TcpStream::connect_timeout(&target.into(), Duration::from_millis(50)).ok()?;
    tcp.set_read_timeout(Some(timeout)).ok()?;
    tcp.set_write_timeout(Some(timeout)).ok()?;
    let name = ServerName::IpAddress((*target.ip()).into());
    let conn = rustls::ClientConnection::new(tls, name).ok()?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        target.ip()
    );
    if !body.is_empty() {
        request += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request += "\r\n";
    request += body;
    stream.write_all(request.as_bytes()).ok()?;
    let mut buf = Vec::new();
    // A peer closing without close_notify ends with an error after the body.
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let code = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let rest = &text[text.find("\r\n\r\n")? + 4..];
    Some((code, rest.to_owned()))
}

/// `GET /v1-edge/status` on `target` over HTTPS (see [`https`]).
fn status_at(
    target: SocketAddrV4,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Option<Value> {
    let (code, body) = https(target, tls, timeout, "GET", "/v1-edge/status", "")?;
    if code != 200 {
        return None;
    }
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
    let found = wait_for(LIVENESS, Duration::from_millis(200), || {
        if !e.tls_dir().join("client-admin.key").exists() {
            return None;
        }
        status(lab, e, e.ip).filter(|s| s["ready"] == true)
    });
    found.unwrap_or_else(|| {
        panic!(
            "{} not ready within {LIVENESS:?}\n{}",
            e.node,
            dump(lab, all)
        )
    })
}

/// Waits until server `i` advertises `priority`.
fn wait_priority(lab: &Lab, s: &[Edged], i: usize, priority: u64) {
    let got = wait_for(LIVENESS, Duration::from_millis(50), || {
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

/// The probe's outage around an event at `t` (see [`Probe::outage_after`]),
/// once it is over: waits until the first failed attempt after `t` is
/// followed by a success. A reply seen after `t` does not mean that yet: a
/// failure may come after it.
fn recovered(probe: &Probe, t: Instant) -> Duration {
    wait_for(LIVENESS, Duration::from_millis(10), || {
        probe.outage_after(t)
    })
    .expect("requests through the VIP succeed again after failing")
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
    lab.wait_holders(&[0, 1, 2], &[0], LIVENESS, &procs(&s));
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
            .wait_reply_from("vip-n0", Instant::now(), LIVENESS)
            .is_some(),
        "the client's HTTPS requests through the VIP never reached n0\n{}",
        dump(&lab, &s)
    );

    let t = Instant::now();
    s[0].proc.signal(Signal::SIGKILL);
    assert!(s[0].proc.wait_exit(LIVENESS).is_some());
    // The crashed server's address stays on its interface (nobody removes
    // it); among the live ones exactly n1 takes it.
    lab.wait_holders(&[1, 2], &[1], LIVENESS, &procs(&s));
    let took = t.elapsed();
    assert!(
        probe.wait_reply_from("vip-n1", t, LIVENESS).is_some(),
        "HTTPS through the VIP did not resume on n1\n{}",
        dump(&lab, &s)
    );
    let outage = recovered(&probe, t);
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
    lab.wait_holders(&[0, 1], &[0], LIVENESS, &procs(&s));
    let before = status(&lab, &s[0], s[1].ip).expect("n1 status");
    assert_eq!(before["vrrp"]["counters"]["priority-zero-received"], 0);
    let probe = probe_through_vip(&lab, &s[0]);
    assert!(
        probe
            .wait_reply_from("vip-n0", Instant::now(), LIVENESS)
            .is_some()
    );

    let t = Instant::now();
    s[0].proc.signal(Signal::SIGTERM);
    // n0 removed the VIP itself; n1 holds it.
    lab.wait_holders(&[0, 1], &[1], LIVENESS, &procs(&s));
    let took = t.elapsed();
    let code = s[0].proc.wait_exit(LIVENESS);
    assert_eq!(code, Some(0), "edged exits cleanly\n{}", dump(&lab, &s));
    assert!(
        probe.wait_reply_from("vip-n1", t, LIVENESS).is_some(),
        "HTTPS through the VIP did not resume on n1\n{}",
        dump(&lab, &s)
    );
    let outage = recovered(&probe, t);
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

/// A PostgreSQL instance of the test's own (to stop, kill and restart),
/// reachable from every namespace through its Unix socket.
struct Datastore {
    pg: DbServer,
    endpoint: String,
}

/// A PostgreSQL of its own with database `db` (the servers create it).
fn datastore(db: &str) -> Datastore {
    let pg = or_skip(
        "PostgreSQL (for a datastore the test can stop)",
        Postgres::start(ServerOptions::default()),
    )
    .expect("PostgreSQL");
    // The socket form: `?host=DIR` with the instance's own port dials
    // DIR/.s.PGSQL.PORT, the same file from every namespace.
    let endpoint = format!(
        "postgres://{USER}:{PASSWORD}@localhost:{}/{db}?host={}&sslmode=disable",
        pg.port(),
        pg.socket_dir().display()
    );
    Datastore { pg, endpoint }
}

/// The instance's Unix socket.
fn socket_of(pg: &DbServer) -> PathBuf {
    pg.socket_dir().join(format!(".s.PGSQL.{}", pg.port()))
}

/// A PostgreSQL of its own reached over the lab's network: `DB_IP:DB_PORT`
/// in a namespace on the switch, relayed to the instance's socket.
struct NetworkDatastore {
    // Field order is drop order: no new connection, then no address, then
    // no database.
    _relay: Relay,
    _ns: Netns,
    _pg: DbServer,
    endpoint: String,
}

fn datastore_on_the_lab(lab: &Lab, db: &str) -> NetworkDatastore {
    let Datastore { pg, .. } = datastore(db);
    let ns = lab.attach("db", DB_IP);
    let relay = Relay::start(&ns.name, SocketAddrV4::new(DB_IP, DB_PORT), &socket_of(&pg));
    NetworkDatastore {
        _relay: relay,
        _ns: ns,
        _pg: pg,
        endpoint: format!("postgres://{USER}:{PASSWORD}@{DB_IP}:{DB_PORT}/{db}?sslmode=disable"),
    }
}

/// The seed's smallest HA cluster on `endpoint`: n0 (priority 150) starts
/// it, n1 (100) joins with the token and gets the authorities from the
/// datastore; returns once both are ready and n0 alone holds the VIP.
fn two_server_cluster(lab: &Lab, endpoint: &str, extra: &[&str]) -> Vec<Edged> {
    let mut args = vec!["--datastore-endpoint", endpoint, "--token", TOKEN];
    args.extend_from_slice(extra);
    let mut s = vec![spawn(lab, 0, 150, None, &args)];
    wait_ready(lab, &s[0], &s);
    s.push(spawn(lab, 1, 100, None, &args));
    wait_ready(lab, &s[1], &s);
    lab.wait_holders(&[0, 1], &[0], LIVENESS, &procs(&s));
    s
}

/// Creates ConfigMaps `w-00001`, `w-00002`, … (`data.n` the number) in
/// `default` through the VIP from the client, one at a time, every 20 ms,
/// as an HTTPS client with the admin certificate. An attempt's reply is the
/// name when the API acknowledged the create (2xx); None for an error
/// status or no answer within 10 s (such a create may still have happened).
fn writer_through_vip(lab: &Lab, creds: &Edged) -> Probe {
    let tls = client_tls(creds);
    let mut n = 0u32;
    Probe::start_with(&lab.client.name, Duration::from_millis(20), move || {
        n += 1;
        let name = format!("w-{n:05}");
        let body = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"n": n.to_string()},
        });
        let (code, _) = https(
            SocketAddrV4::new(VIP, PORT),
            tls.clone(),
            secs(10.0),
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &body.to_string(),
        )?;
        (200..300).contains(&code).then_some(name)
    })
}

/// How many of `writer`'s writes started at or after `since` were acknowledged.
fn acked_since(writer: &Probe, since: Instant) -> usize {
    writer
        .attempts()
        .iter()
        .filter(|a| a.at >= since && a.reply.is_some())
        .count()
}

/// Waits until `count` writes started at or after `since` were acknowledged.
fn wait_acked(writer: &Probe, since: Instant, count: usize, what: &str, lab: &Lab, s: &[Edged]) {
    let done = wait_for(LIVENESS, Duration::from_millis(50), || {
        (acked_since(writer, since) >= count).then_some(())
    });
    assert!(
        done.is_some(),
        "{what}: {} of {count} writes through the VIP acknowledged within {LIVENESS:?}\n{}",
        acked_since(writer, since),
        dump(lab, s)
    );
}

/// ConfigMap name → `data.n` in `default`, read through the VIP with kubectl.
fn configmaps_via_vip(lab: &Lab, e: &Edged, all: &[Edged]) -> HashMap<String, String> {
    let template = r#"{range .items[*]}{.metadata.name}{"\t"}{.data.n}{"\n"}{end}"#;
    let jsonpath = format!("jsonpath={template}");
    let out = kubectl_via_vip(
        lab,
        e,
        &["get", "configmaps", "-n", "default", "-o", &jsonpath],
        all,
    );
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, n)| (name.to_owned(), n.to_owned()))
        .collect()
}

#[test]
fn failing_datastore_loses_the_vip_to_a_ready_server_and_recovery_takes_it_back() {
    if !ready_or_skip(
        "failing_datastore_loses_the_vip_to_a_ready_server_and_recovery_takes_it_back",
    ) {
        return;
    }
    let lab = Lab::new("ehealth", 2);
    let mut db = datastore("vip");
    db.pg.stop().expect("stop PostgreSQL");

    // A lone server whose datastore is down still holds the VIP while it boots.
    let ep = db.endpoint.clone();
    let mut s = vec![spawn(&lab, 0, 150, None, &["--datastore-endpoint", &ep])];
    lab.wait_holders(&[0], &[0], LIVENESS, &procs(&s));
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
    lab.wait_holders(&[0, 1], &[1], LIVENESS, &procs(&s));
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
    lab.wait_holders(&[0, 1], &[0], LIVENESS, &procs(&s));
    wait_priority(&lab, &s, 0, 150);
    // The servers stop before their datastore does.
    drop(s);
}

#[test]
fn postgres_killed_under_writes_through_the_vip_loses_no_acknowledged_write_and_writes_resume() {
    if !ready_or_skip(
        "postgres_killed_under_writes_through_the_vip_loses_no_acknowledged_write_and_writes_resume",
    ) {
        return;
    }
    let lab = Lab::new("epgkill", 2);
    let mut db = datastore("vipkill");
    let s = two_server_cluster(&lab, &db.endpoint, &[]);
    let writer = writer_through_vip(&lab, &s[0]);
    wait_acked(&writer, Instant::now(), 20, "before the crash", &lab, &s);

    // A crash, not a stop: SIGKILL to the postmaster alone; its backends
    // see it gone and exit. Once both servers have noticed, PostgreSQL
    // starts again on the same data dir and port (crash recovery), and
    // nobody touches the servers.
    let t = Instant::now();
    db.pg
        .kill_postmaster(LIVENESS)
        .expect("kill -9 the postmaster");
    let down = t.elapsed();
    // Both servers notice before it comes back: neither is ready.
    for e in &s {
        let seen = wait_for(LIVENESS, Duration::from_millis(50), || {
            status(&lab, &s[0], e.ip).filter(|st| st["ready"] == false)
        });
        assert!(
            seen.is_some(),
            "{} should report not ready while PostgreSQL is down\n{}",
            e.node,
            dump(&lab, &s)
        );
    }
    let noticed = t.elapsed();
    db.pg
        .start()
        .unwrap_or_else(|e| panic!("PostgreSQL restarts on its data dir and port: {e}"));
    let restarted = Instant::now();
    // The servers reconnect by themselves: writes started after the restart
    // are acknowledged again.
    wait_acked(&writer, restarted, 20, "after the restart", &lab, &s);
    let pause = recovered(&writer, t);
    let first_after = writer
        .attempts()
        .into_iter()
        .find(|a| a.at >= restarted && a.reply.is_some())
        .map(|a| a.at.duration_since(restarted));
    let attempts = writer.attempts();
    drop(writer);

    // Every create the API acknowledged, before, during or after the crash,
    // is there, with its data, read through the VIP.
    let acked: Vec<(String, String)> = attempts
        .iter()
        .filter_map(|a| a.reply.clone())
        .map(|name| {
            let n = name
                .trim_start_matches("w-")
                .trim_start_matches('0')
                .to_owned();
            (name, n)
        })
        .collect();
    let stored = configmaps_via_vip(&lab, &s[0], &s);
    let lost: Vec<&(String, String)> = acked
        .iter()
        .filter(|(name, n)| stored.get(name) != Some(n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates are missing or wrong after the crash: {lost:?}\n\
         stored: {stored:?}\n{}",
        lost.len(),
        acked.len(),
        dump(&lab, &s)
    );
    let failed = attempts.iter().filter(|a| a.reply.is_none()).count();
    // Writes are sequential, so one that hung shows as a gap between
    // attempt starts: the longest one from the last write before the kill.
    let from = attempts.iter().rposition(|a| a.at < t).unwrap_or(0);
    let stall = attempts[from..]
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .max()
        .unwrap_or_default();
    eprintln!(
        "PostgreSQL SIGKILL: down (kill until children gone) {down:?}, both servers not \
         ready {noticed:?} after the kill, restart {:?}; \
         writes through the VIP: failed-write outage {pause:?}, longest single write \
         {stall:?}, first acknowledged write started {first_after:?} after the restart; \
         {} acknowledged, {failed} not; holders now {:?}",
        restarted.duration_since(t) - noticed,
        acked.len(),
        lab.holders()
    );
}

#[test]
fn the_holder_cut_off_from_the_datastore_hands_the_vip_to_the_server_that_reaches_it() {
    if !ready_or_skip(
        "the_holder_cut_off_from_the_datastore_hands_the_vip_to_the_server_that_reaches_it",
    ) {
        return;
    }
    let lab = Lab::new("ecut", 2);
    let db = datastore_on_the_lab(&lab, "vipcut");
    let s = two_server_cluster(&lab, &db.endpoint, &[]);
    kubectl_via_vip(
        &lab,
        &s[0],
        &["create", "configmap", "before-cut", "--from-literal=n=1"],
        &s,
    );
    let probe = probe_through_vip(&lab, &s[0]);
    assert!(
        probe
            .wait_reply_from("vip-n0", Instant::now(), LIVENESS)
            .is_some(),
        "the client's HTTPS requests through the VIP never reached n0\n{}",
        dump(&lab, &s)
    );

    // n0 loses the datastore silently (its packets to and from it are
    // dropped, no error comes back), nothing else: VRRP with n1 still flows.
    let t = Instant::now();
    lab.cut(0, DB_IP);
    lab.wait_holders(&[0, 1], &[1], LIVENESS, &procs(&s));
    let took = t.elapsed();
    assert!(
        probe.wait_reply_from("vip-n1", t, LIVENESS).is_some(),
        "HTTPS through the VIP did not resume on n1\n{}",
        dump(&lab, &s)
    );
    let outage = recovered(&probe, t);
    // The API through the VIP takes writes.
    kubectl_via_vip(
        &lab,
        &s[0],
        &["create", "configmap", "during-cut", "--from-literal=n=2"],
        &s,
    );
    // n0 runs on, not ready, advertising priority 1 from its backup state:
    // it still hears n1 (a lost VRRP path would make it master too).
    let s0 = status(&lab, &s[0], s[0].ip).expect("n0 still answers");
    assert_eq!(s0["ready"], false, "{s0}");
    assert_eq!(s0["vrrp"]["state"], "backup", "{s0}");
    assert_eq!(s0["vrrp"]["effective-priority"], 1, "{s0}");
    assert_eq!(s0["vrrp"]["master"]["address"], "10.99.0.2", "{s0}");
    let reason = s0["not-ready-reason"].clone();

    // Healed: n0 reconnects by itself, is ready again and, at the higher
    // priority, takes the VIP back; exactly one holder, and it stays so.
    let healed = Instant::now();
    lab.heal(0);
    wait_ready(&lab, &s[0], &s);
    lab.wait_holders(&[0, 1], &[0], LIVENESS, &procs(&s));
    let back = healed.elapsed();
    lab.assert_stable(&[0, 1], &[0], secs(1.5), &procs(&s));
    kubectl_via_vip(
        &lab,
        &s[0],
        &["create", "configmap", "after-heal", "--from-literal=n=3"],
        &s,
    );
    let stored = configmaps_via_vip(&lab, &s[0], &s);
    for (name, n) in [
        ("before-cut", "1"),
        ("during-cut", "2"),
        ("after-heal", "3"),
    ] {
        assert_eq!(
            stored.get(name).map(String::as_str),
            Some(n),
            "{name} through the VIP: {stored:?}"
        );
    }
    eprintln!(
        "datastore cut from the holder: n1 took the VIP after {took:?} (HTTPS outage through \
         the VIP {outage:?}; n0 not ready: {reason}); healed: n0 ready and holding again after \
         {back:?}"
    );
}

/// Runs edged in node 0 (through `wrap`, if given) expecting it to refuse
/// to start; returns its stderr.
fn refused(lab: &Lab, wrap: &[&str], args: &[&str]) -> String {
    let dir = lab.dir.path().join(format!("refused-{}", netns::now_ms()));
    let mut p = lab.spawn("edged refused", command(lab, 0, &dir, wrap, args));
    let code = p.wait_exit(LIVENESS);
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

/// `edged agent` in node `i`, joining through the VIP with the cluster's
/// full token, heartbeating every second.
fn spawn_agent(lab: &Lab, i: usize, token: &str) -> Proc {
    let dir = lab.dir.path().join(format!("agent{i}"));
    private_dir(&dir);
    let ip = lab.nodes[i].ip.to_string();
    let mut cmd = lab.nodes[i].ns.command(EDGED);
    cmd.arg("agent")
        .args(["--server", &format!("https://{VIP}:{PORT}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--node-name", &format!("vip-agent{i}"), "--node-ip", &ip])
        .args(["--node-status-update-frequency", "1s"])
        .env("EDGE_TOKEN", token)
        .env("RUST_LOG", "info")
        .env("EDGE_LOG_FORMAT", "text")
        .env("NO_COLOR", "1");
    lab.spawn(&format!("edged agent n{i}"), cmd)
}

/// The agents' nodes as the VIP's holder sees them: name → (Ready status,
/// its last transition, whether it carries an unreachable taint).
fn agent_nodes(lab: &Lab, e: &Edged, all: &[Edged]) -> HashMap<String, (String, String, bool)> {
    let list: Value = serde_json::from_str(&kubectl_via_vip(
        lab,
        e,
        &["get", "nodes", "-o", "json"],
        all,
    ))
    .expect("node list");
    let mut out = HashMap::new();
    for n in list["items"].as_array().into_iter().flatten() {
        let name = n["metadata"]["name"].as_str().unwrap_or("").to_owned();
        if !name.starts_with("vip-agent") {
            continue;
        }
        let ready = n["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .cloned()
            .unwrap_or(Value::Null);
        let tainted = n["spec"]["taints"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable")
        });
        out.insert(
            name,
            (
                ready["status"].as_str().unwrap_or("").to_owned(),
                ready["lastTransitionTime"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                tainted,
            ),
        );
    }
    out
}

fn lease_renewed(lab: &Lab, e: &Edged, node: &str, all: &[Edged]) -> Option<jiff::Timestamp> {
    let path = "jsonpath={.spec.renewTime}";
    kubectl_via_vip(
        lab,
        e,
        &["get", "lease", "-n", "kube-node-lease", node, "-o", path],
        all,
    )
    .trim()
    .parse()
    .ok()
}

#[test]
fn agents_joined_through_the_vip_stay_ready_when_the_vip_moves() {
    if !ready_or_skip("agents_joined_through_the_vip_stay_ready_when_the_vip_moves") {
        return;
    }
    let lab = Lab::new("eagent", 4);
    let db = datastore_on_the_lab(&lab, "agents");
    let mut s = two_server_cluster(&lab, &db.endpoint, &["--node-monitor-grace-period", "6s"]);
    let token = std::fs::read_to_string(s[0].data_dir().join("server/token")).expect("token");
    let agents: Vec<Proc> = [2, 3]
        .into_iter()
        .map(|i| spawn_agent(&lab, i, token.trim()))
        .collect();
    let ready = wait_for(LIVENESS, Duration::from_millis(200), || {
        let nodes = agent_nodes(&lab, &s[0], &s);
        (nodes.len() == 2 && nodes.values().all(|(r, _, t)| r == "True" && !t)).then_some(nodes)
    });
    let before = ready.unwrap_or_else(|| {
        panic!(
            "the agents never both went Ready through the VIP\n{}\n{}",
            dump(&lab, &s),
            agents
                .iter()
                .map(|a| a.log_tail(20))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });

    // The VIP's holder dies; the VIP moves to n1.
    s[0].proc.signal(Signal::SIGKILL);
    assert!(s[0].proc.wait_exit(LIVENESS).is_some());
    lab.wait_holders(&[1], &[1], LIVENESS, &procs(&s));
    let killed_at = jiff::Timestamp::now();
    // Had an agent looked dead, n1 would have marked it within a grace
    // period (6 s) and a pass (5 s) of leading: wait for renewals later than
    // that, then look.
    let leads = wait_for(LIVENESS, Duration::from_millis(200), || {
        s[1].log()
            .lines()
            .rfind(|l| l.contains("leadership changed"))
            .is_some_and(|l| l.contains("leading=true"))
            .then_some(())
    });
    assert!(leads.is_some(), "n1 never led\n{}", dump(&lab, &s));
    let window_end = jiff::Timestamp::now().max(killed_at) + jiff::SignedDuration::from_secs(12);
    for node in before.keys() {
        let renewed = wait_for(LIVENESS, Duration::from_millis(200), || {
            lease_renewed(&lab, &s[1], node, &s)
                .filter(|t| *t > window_end)
                .map(drop)
        });
        assert!(
            renewed.is_some(),
            "{node} stopped renewing\n{}",
            dump(&lab, &s)
        );
    }
    let after = agent_nodes(&lab, &s[1], &s);
    assert_eq!(
        after, before,
        "no agent went NotReady or was tainted while the VIP moved"
    );
    drop(agents);
    s.clear();
}
