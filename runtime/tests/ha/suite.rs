//! The seed's topology: several `edged server` processes on one external
//! database form one cluster that survives losing any server. Instantiated for
//! PostgreSQL and MariaDB by `ha_suite!`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edge_config::endpoint::Endpoint;
use edge_datastore::{KeyRange, Store, StoreOptions};
use edge_testkit::{DbServer, Engine, ServerOptions, unique_db_name};
use serde_json::Value;

use crate::support::Server;

pub const TOKEN: &str = "ha-suite-token";

/// An endpoint for a fresh database on the engine's shared instance.
pub fn fresh(engine: Engine) -> String {
    engine.shared().url(&unique_db_name("ha"))
}

/// Starts a server on 127.0.0.`n` against `endpoint`, with the suite's token.
pub fn server(n: u8, endpoint: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--datastore-endpoint", endpoint, "--token", TOKEN];
    args.extend_from_slice(extra);
    server_without_default_token(n, &args)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn ready_nodes(s: &Server) -> BTreeSet<String> {
    let out = s.kubectl(&["get", "nodes", "-o", "json"]);
    if !out.status.success() {
        return BTreeSet::new();
    }
    json(&String::from_utf8_lossy(&out.stdout))["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| {
            n["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn apiservers(s: &Server) -> BTreeSet<String> {
    let out = s.kubectl(&["get", "--raw", "/v1-edge/apiservers"]);
    serde_json::from_slice::<Vec<String>>(&out.stdout)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Same CA and token everywhere; every server serves and lists every server
/// Ready; the endpoints are the servers; a watch on one sees a write on
/// another; the serving certificate covers --tls-san.
pub fn three_servers_are_one_cluster(engine: Engine) {
    let endpoint = fresh(engine);
    let san = ["--tls-san", "edge-vip.example.com"];
    let a = server(2, &endpoint, &san);
    let (b, c) = std::thread::scope(|s| {
        let b = s.spawn(|| server(3, &endpoint, &san));
        let c = s.spawn(|| server(4, &endpoint, &san));
        (b.join().expect("b"), c.join().expect("c"))
    });
    let servers = [&a, &b, &c];
    let ca = |s: &Server| std::fs::read(s.data_dir().join("server/tls/server-ca.crt")).expect("ca");
    for s in &servers[1..] {
        assert_eq!(ca(s), ca(&a), "every server has the first server's CA");
        assert_eq!(s.token(), a.token(), "every server has the same token");
    }
    let names: BTreeSet<String> = servers.iter().map(|s| s.node.clone()).collect();
    for s in servers {
        wait_for(
            "all servers Ready through each server",
            Duration::from_secs(30),
            || ready_nodes(s) == names,
        );
    }
    let expected: BTreeSet<String> = servers
        .iter()
        .map(|s| format!("{}:{}", s.ip, s.port))
        .collect();
    wait_for(
        "apiservers lists the three servers",
        Duration::from_secs(30),
        || apiservers(&b) == expected,
    );
    let ep = json(&a.kubectl_ok(&["get", "endpoints", "kubernetes", "-o", "json"]));
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().map(Vec::len),
        Some(3),
        "{ep}"
    );

    // kubectl get -w through B sees an apply through A: once the watch has
    // printed the current value, it watches from there.
    let dir = tempfile::tempdir().expect("tmp");
    let manifest = dir.path().join("cm.yaml");
    let apply = |v: &str| {
        std::fs::write(&manifest, format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: crossed\n  namespace: default\ndata:\n  v: {v}\n")).expect("write");
        a.kubectl_ok(&["apply", "-f", &manifest.display().to_string()]);
    };
    apply("zero");
    let mut watch = crate::support::KubectlWatch::start(
        &b.kubeconfig(),
        &dir.path().join("c"),
        &[
            "get",
            "cm",
            "-w",
            "-o",
            "jsonpath={.metadata.name}={.data.v}{\"\\n\"}",
        ],
    );
    watch.wait_line("the current value crossed=zero", |l| l == "crossed=zero");
    for v in ["one", "two"] {
        apply(v);
    }
    let seen = watch.lines_until("crossed=two", |l| l.starts_with("crossed="));
    assert_eq!(
        seen,
        ["crossed=one", "crossed=two"],
        "the watch on B saw {seen:?}"
    );

    // The SAN verifies; a name outside the certificate does not.
    let ok = c.kubectl(&["--tls-server-name", "edge-vip.example.com", "get", "nodes"]);
    assert!(ok.status.success(), "{ok:?}");
    let bad = c.kubectl(&[
        "--tls-server-name",
        "not-in-the-cert.example.com",
        "get",
        "nodes",
    ]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(
        stderr.contains("tls: failed to verify certificate: x509: certificate is valid for")
            && stderr.contains(", not not-in-the-cert.example.com"),
        "{stderr}"
    );
}

/// Every row of the datastore, for before/after comparisons.
async fn snapshot(endpoint: &str) -> (i64, Vec<(String, Vec<u8>, i64)>) {
    let endpoint = Endpoint::parse(endpoint).expect("endpoint");
    let options = StoreOptions {
        expire_leases: false,
        ..Default::default()
    };
    let store = Store::open(&endpoint, options).await.expect("open");
    let listed = store
        .list(&KeyRange::prefix(""), 0, None)
        .await
        .expect("list");
    store.close().await;
    (
        listed.revision,
        listed
            .kvs
            .into_iter()
            .map(|kv| (kv.key, kv.value, kv.mod_revision))
            .collect(),
    )
}

/// A wrong token is refused with a message naming the problem, and the
/// database is exactly as before; a joiner without a token is told where to
/// read it.
pub fn wrong_or_missing_token_changes_nothing(engine: Engine) {
    let endpoint = fresh(engine);
    let mut a = server(2, &endpoint, &[]);
    // Hold the cluster still: with the only server stopped, nothing writes.
    a.stop();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let before = runtime.block_on(snapshot(&endpoint));
    let joiner = Server::prepare(
        "127.0.0.3",
        tempfile::tempdir().expect("tmp"),
        &[
            "--datastore-endpoint",
            &endpoint,
            "--token",
            "not-the-token",
        ],
    );
    let err = joiner.refused();
    assert!(
        err.contains("bootstrap data in the datastore is encrypted with a different token"),
        "{err}"
    );
    assert!(!err.contains("not-the-token"), "the token leaked: {err}");
    // The right secret in a full token that pins another CA: refused before
    // anything is written, in the datastore or in the joiner's data dir.
    let cluster_hash = ca_hash_of(&a.token());
    let other_hash = "ab".repeat(32);
    let pinned_elsewhere = format!("K10{other_hash}::server:{TOKEN}");
    let joiner = Server::prepare(
        "127.0.0.5",
        tempfile::tempdir().expect("tmp"),
        &[
            "--datastore-endpoint",
            &endpoint,
            "--token",
            &pinned_elsewhere,
        ],
    );
    let err = joiner.refused();
    assert!(
        err.contains(&format!(
            "token CA hash does not match the Cluster CA certificate hash: the --token given \
             pins {other_hash} but this cluster's CA is {cluster_hash}"
        )),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the token leaked: {err}");
    for written in ["server/tls", "server/token"] {
        assert!(
            !joiner.data_dir().join(written).exists(),
            "the refused joiner wrote {written}"
        );
    }
    let tokenless = Server::prepare(
        "127.0.0.4",
        tempfile::tempdir().expect("tmp"),
        &["--datastore-endpoint", &endpoint],
    );
    let err = tokenless.refused();
    assert!(
        err.contains("no token was given") && err.contains("server/token"),
        "{err}"
    );
    let after = runtime.block_on(snapshot(&endpoint));
    assert_eq!(before, after, "a refused server changed the datastore");

    // A pinned token on an empty datastore: no new CA could match it.
    let empty = fresh(engine);
    let before = runtime.block_on(snapshot(&empty));
    let first = Server::prepare(
        "127.0.0.6",
        tempfile::tempdir().expect("tmp"),
        &["--datastore-endpoint", &empty, "--token", &a.token()],
    );
    let err = first.refused();
    assert!(
        err.contains(&format!(
            "the --token given pins the CA hash {cluster_hash}, but the datastore holds no \
             cluster yet"
        )),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the token leaked: {err}");
    let after = runtime.block_on(snapshot(&empty));
    assert_eq!(
        before, after,
        "a refused first server changed the datastore"
    );
    assert!(before.1.is_empty(), "{before:?}");
}

/// The CA hash a full `K10<hash>::…` token pins.
fn ca_hash_of(token: &str) -> String {
    let hash = token
        .strip_prefix("K10")
        .and_then(|t| t.split_once("::"))
        .map(|(hash, _)| hash.to_owned())
        .unwrap_or_default();
    assert_eq!(hash.len(), 64, "not a full token: {}", token.len());
    hash
}

/// Starts a server on 127.0.0.`n` with exactly `args` (no token added).
fn server_without_default_token(n: u8, args: &[&str]) -> Server {
    Server::start_at(
        &format!("127.0.0.{n}"),
        tempfile::tempdir().expect("tmp"),
        args,
    )
}

/// The seed's step 4: a first server started without `--token` generates the
/// cluster's token into `server/token`; others join with that token (as the
/// full token, from a `--token-file`, or as its bare secret, which is trusted
/// on first use with a warning); every server ends with the same token file,
/// byte for byte, and the first server restarts from its own file.
pub fn first_server_without_token_then_join_with_its_token(engine: Engine) {
    let endpoint = fresh(engine);
    let db = ["--datastore-endpoint", endpoint.as_str()];
    let mut a = server_without_default_token(2, &db);
    let full = a.token();
    assert!(
        full.starts_with("K10") && full.contains("::server:"),
        "the generated token is not a full token ({} characters)",
        full.len()
    );
    let secret = full
        .rsplit_once(':')
        .map(|(_, s)| s.to_owned())
        .expect("secret");

    let b = server_without_default_token(3, &[db[0], db[1], "--token", &full]);
    let files = tempfile::tempdir().expect("tmp");
    let token_file = files.path().join("token");
    std::fs::copy(a.data_dir().join("server/token"), &token_file).expect("copy the token");
    let token_file = token_file.display().to_string();
    let c = server_without_default_token(4, &[db[0], db[1], "--token-file", &token_file]);
    let d = server_without_default_token(5, &[db[0], db[1], "--token", &secret]);

    let warning = "the token is a bare secret: this server trusts the cluster CA";
    let log = |s: &Server| std::fs::read_to_string(&s.log).expect("log");
    assert!(log(&d).contains(warning), "{}", d.log_tail());
    for s in [&a, &b, &c] {
        assert!(!log(s).contains(warning), "{}", s.log_tail());
    }
    let token_bytes =
        |s: &Server| std::fs::read(s.data_dir().join("server/token")).expect("token file");
    let first = token_bytes(&a);
    for s in [&b, &c, &d] {
        assert!(token_bytes(s) == first, "{} wrote another token", s.node);
    }

    let names: BTreeSet<String> = [&a, &b, &c, &d].iter().map(|s| s.node.clone()).collect();
    for s in [&a, &b, &c, &d] {
        wait_for(
            "all servers Ready through each server",
            Duration::from_secs(60),
            || ready_nodes(s) == names,
        );
    }

    // The first server restarts without --token, from its own token file.
    a.stop();
    a.spawn();
    a.kubectl_ok(&["create", "configmap", "after-restart", "--from-literal=k=v"]);
    assert!(token_bytes(&a) == first, "the restart changed the token");
    wait_for(
        "the write through the restarted server visible through another",
        Duration::from_secs(30),
        || b.kubectl(&["get", "cm", "after-restart"]).status.success(),
    );
    wait_for(
        "all servers Ready through the restarted server",
        Duration::from_secs(60),
        || ready_nodes(&a) == names,
    );
}

/// Each critical flag that differs from the cluster's stops a joiner, naming
/// the flag and both values.
pub fn critical_flags_must_match(engine: Engine) {
    let endpoint = fresh(engine);
    let _a = server(2, &endpoint, &[]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--cluster-cidr", "10.50.0.0/16"],
            &["--cluster-cidr is 10.50.0.0/16 here but 10.42.0.0/16"],
        ),
        (
            &[
                "--service-cidr",
                "10.60.0.0/16",
                "--cluster-dns",
                "10.60.0.10",
            ],
            &[
                "--service-cidr is 10.60.0.0/16 here but 10.43.0.0/16",
                "--cluster-dns is 10.60.0.10 here but 10.43.0.10",
            ],
        ),
        (
            &["--cluster-dns", "10.43.0.53"],
            &["--cluster-dns is 10.43.0.53 here but 10.43.0.10"],
        ),
        (
            &["--cluster-domain", "edge.local"],
            &["--cluster-domain is edge.local here but cluster.local"],
        ),
        (
            &["--disable", "traefik"],
            &["--disable is traefik here but (none)"],
        ),
        (
            &["--disable-helm-controller"],
            &["--disable-helm-controller is true here but false"],
        ),
        (
            &["--disable-kube-proxy"],
            &["--disable-kube-proxy is true here but false"],
        ),
        (
            &["--disable-network-policy"],
            &["--disable-network-policy is true here but false"],
        ),
        (
            &["--secrets-encryption"],
            &["--secrets-encryption is true here but false"],
        ),
    ];
    for (i, (flags, expected)) in cases.iter().enumerate() {
        let mut args = vec!["--datastore-endpoint", endpoint.as_str(), "--token", TOKEN];
        args.extend_from_slice(flags);
        let joiner = Server::prepare(
            &format!("127.0.0.{}", 10 + i),
            tempfile::tempdir().expect("tmp"),
            &args,
        );
        let err = joiner.refused();
        for e in *expected {
            assert!(err.contains(e), "{flags:?}: expected {e:?} in:\n{err}");
        }
    }
}

/// Two servers starting at the same instant on an empty database end with
/// one CA (the bootstrap lock), twenty times over.
pub async fn startup_race_ends_with_one_ca(engine: Engine) {
    let server = engine.shared();
    for round in 0..20 {
        let endpoint = Endpoint::parse(&server.url(&unique_db_name("race"))).expect("endpoint");
        let (s1, s2) = tokio::join!(
            Store::open(&endpoint, StoreOptions::default()),
            Store::open(&endpoint, StoreOptions::default())
        );
        let (s1, s2) = (s1.expect("store 1"), s2.expect("store 2"));
        let (d1, d2) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let token = edge_config::token::Token::parse(TOKEN).expect("token");
        let (r1, r2) = tokio::join!(
            edge_runtime::join::join(&s1, d1.path(), Some(&token)),
            edge_runtime::join::join(&s2, d2.path(), Some(&token))
        );
        let ((p1, t1), (p2, t2)) = (
            r1.expect("server 1 bootstraps"),
            r2.expect("server 2 bootstraps"),
        );
        assert_eq!(
            p1.server_ca.cert_pem(),
            p2.server_ca.cert_pem(),
            "round {round}: two CAs"
        );
        assert_eq!(
            p1.client_ca.cert_pem(),
            p2.client_ca.cert_pem(),
            "round {round}: two client CAs"
        );
        assert_eq!(
            t1.to_full_string().expose(),
            t2.to_full_string().expose(),
            "round {round}"
        );
        s1.close().await;
        s2.close().await;
    }
}

fn leader(s: &Server) -> Option<String> {
    let out = s.kubectl(&[
        "-n",
        "kube-system",
        "get",
        "lease",
        "edge-controller",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    let holder = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !holder.is_empty()).then_some(holder)
}

/// Killing the leader hands the lease to another server, and the dead
/// server drops out of the endpoints. How fast is a benchmark's figure
/// (`ONLY=ha scripts/bench.sh`); here the deadlines are only generous.
pub fn leader_and_endpoints_follow_a_dead_server(engine: Engine) {
    let endpoint = fresh(engine);
    let mut servers = vec![server(2, &endpoint, &[])];
    servers.push(server(3, &endpoint, &[]));
    servers.push(server(4, &endpoint, &[]));
    wait_for("three endpoints", Duration::from_secs(30), || {
        apiservers(&servers[0]).len() == 3
    });
    let mut holder = None;
    wait_for("a leader", Duration::from_secs(30), || {
        holder = leader(&servers[0]);
        holder.is_some()
    });
    let holder = holder.expect("leader");
    let index = servers
        .iter()
        .position(|s| s.node == holder)
        .expect("the leader is one of ours");
    let mut dead = servers.remove(index);
    dead.kill();
    let survivor = &servers[0];
    let mut next = None;
    wait_for("a new leader", Duration::from_secs(120), || {
        next = leader(survivor).filter(|h| *h != holder);
        next.is_some()
    });
    assert!(
        servers.iter().any(|s| Some(&s.node) == next.as_ref()),
        "new leader {next:?} is a live server"
    );
    let dead_address = format!("{}:{}", dead.ip, dead.port);
    wait_for(
        "the dead server leaves the endpoints",
        Duration::from_secs(120),
        || {
            let list = apiservers(survivor);
            list.len() == 2 && !list.contains(&dead_address)
        },
    );
}

/// SIGKILL of a server during a write load: the others keep serving, no
/// acknowledged write is lost, and the killed server restarts and rejoins.
pub fn kill_9_under_load_loses_no_acknowledged_write(engine: Engine) {
    let endpoint = fresh(engine);
    let mut servers = [
        server(2, &endpoint, &[]),
        server(3, &endpoint, &[]),
        server(4, &endpoint, &[]),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let clients: Vec<kube::Client> = servers
        .iter()
        .map(|s| runtime.block_on(s.client()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledged creates per writer (writer w writes through server w).
    let acks: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
    let mut writers = Vec::new();
    for (w, client) in clients.into_iter().enumerate() {
        let (stop, acks) = (stop.clone(), acks.clone());
        writers.push(runtime.spawn(async move {
            let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                kube::Api::namespaced(client, "default");
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("load-{w}-{i:05}");
                i += 1;
                let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name}, "data": {"w": w.to_string()}}),
                )
                .expect("cm");
                match api.create(&Default::default(), &cm).await {
                    Ok(_) => {
                        acked.push(name);
                        acks[w].fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            acked
        }));
    }
    let survivors_acked = || acks[0].load(Ordering::Relaxed) + acks[1].load(Ordering::Relaxed);
    // Count, don't time: the kill lands under load, and the survivors go on
    // acknowledging writes after it.
    wait_for(
        "25 writes through each server",
        Duration::from_secs(120),
        || acks.iter().all(|a| a.load(Ordering::Relaxed) >= 25),
    );
    servers[2].kill();
    let before = survivors_acked();
    wait_for(
        "50 more writes through the surviving servers",
        Duration::from_secs(120),
        || survivors_acked() >= before + 50,
    );
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(runtime.block_on(w).expect("writer"));
    }
    let listed = servers[0].kubectl_ok(&["get", "cm", "-o", "jsonpath={.items[*].metadata.name}"]);
    let present: BTreeSet<&str> = listed.split_whitespace().collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|n| !present.contains(n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // The killed server comes back and serves the same data.
    servers[2].spawn();
    let through_c = servers[2].kubectl_ok(&["get", "cm", "-o", "name"]);
    assert!(
        acked
            .iter()
            .all(|n| through_c.contains(&format!("configmap/{n}")))
    );
    let names: BTreeSet<String> = servers.iter().map(|s| s.node.clone()).collect();
    wait_for(
        "the restarted server Ready",
        Duration::from_secs(30),
        || ready_nodes(&servers[0]) == names,
    );
}

/// The database restarts: readyz is false while it is down and true again
/// after, with no manual step.
pub fn database_restart_is_survived(engine: Engine) {
    let mut db: DbServer = engine
        .start(ServerOptions::default())
        .expect("dedicated database");
    let endpoint = db.url(&unique_db_name("dbrestart"));
    let a = server(2, &endpoint, &[]);
    let b = server(3, &endpoint, &[]);
    let readyz = |s: &Server| s.kubectl(&["get", "--raw", "/readyz"]).status.success();
    assert!(readyz(&a) && readyz(&b));
    db.stop().expect("stop the database");
    wait_for(
        "readyz false while the database is down",
        Duration::from_secs(20),
        || !readyz(&a) && !readyz(&b),
    );
    db.start().expect("start the database");
    wait_for("readyz true again", Duration::from_secs(60), || {
        readyz(&a) && readyz(&b)
    });
    a.kubectl_ok(&["create", "configmap", "after-restart", "--from-literal=k=v"]);
    wait_for(
        "the write visible through the other server",
        Duration::from_secs(10),
        || b.kubectl(&["get", "cm", "after-restart"]).status.success(),
    );
}

/// A server whose database is unreachable at start retries with backoff,
/// answers readyz "not ready" (saying why) instead of crash-looping, logs the
/// endpoint with its password redacted, and becomes ready once the database
/// is back.
pub fn unreachable_database_at_start(engine: Engine) {
    let mut db: DbServer = engine
        .start(ServerOptions::default())
        .expect("dedicated database");
    let endpoint = db.url(&unique_db_name("unreachable"));
    let mut a = server(2, &endpoint, &[]);
    a.stop();
    db.stop().expect("stop the database");
    a.spawn_unready();
    let readyz = || a.kubectl(&["get", "--raw", "/readyz"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = readyz();
        // kubectl's words for the 503 the starting server answers.
        if !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("ServiceUnavailable")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readyz never said not ready: {out:?}\n{}",
            a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Retrying, not crash-looping: a second attempt is logged by the same
    // process, which still answers.
    wait_for("a second datastore retry", Duration::from_secs(60), || {
        std::fs::read_to_string(&a.log)
            .is_ok_and(|log| log.matches("datastore unreachable; retrying").count() >= 2)
    });
    let live = a.kubectl(&["get", "--raw", "/livez"]);
    assert!(
        live.status.success(),
        "the process is alive and answering: {live:?}"
    );
    let log = std::fs::read_to_string(&a.log).expect("log");
    assert!(
        log.contains("datastore unreachable; retrying") && log.contains("edge:***@"),
        "{log}"
    );
    assert!(
        !log.contains(db.password()),
        "the database password reached the log"
    );
    db.start().expect("start the database");
    a.wait_ready();
    a.kubectl_ok(&["get", "nodes"]);
}

/// Instantiates the suite for one engine.
#[macro_export]
macro_rules! ha_suite {
    ($engine:expr) => {
        #[test]
        fn three_servers_are_one_cluster() {
            suite::three_servers_are_one_cluster($engine)
        }
        #[test]
        fn wrong_or_missing_token_changes_nothing() {
            suite::wrong_or_missing_token_changes_nothing($engine)
        }
        #[test]
        fn first_server_without_token_then_join_with_its_token() {
            suite::first_server_without_token_then_join_with_its_token($engine)
        }
        #[test]
        fn critical_flags_must_match() {
            suite::critical_flags_must_match($engine)
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn startup_race_ends_with_one_ca() {
            suite::startup_race_ends_with_one_ca($engine).await
        }
        #[test]
        fn leader_and_endpoints_follow_a_dead_server() {
            suite::leader_and_endpoints_follow_a_dead_server($engine)
        }
        #[test]
        fn kill_9_under_load_loses_no_acknowledged_write() {
            suite::kill_9_under_load_loses_no_acknowledged_write($engine)
        }
        #[test]
        fn unreachable_database_at_start() {
            suite::unreachable_database_at_start($engine)
        }
        #[test]
        fn database_restart_is_survived() {
            suite::database_restart_is_survived($engine)
        }
    };
}
