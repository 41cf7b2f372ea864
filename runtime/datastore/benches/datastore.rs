//! Datastore benchmark: the store on SQLite, PostgreSQL and MariaDB, with
//! etcd and pgbench measured in the same run on the same machine as
//! references. Prints markdown table rows (`| area | metric | value |
//! reference | ratio |`) on stdout; `scripts/bench.sh` gathers them.
//!
//! Every database runs with durable commits (fsync on), like production.
//! Run: `cargo bench -p edge-runtime --bench datastore` (env `EDGE_BENCH_SCALE`
//! scales the operation counts, default 1; `EDGE_BENCH_ONLY=postgres` (or
//! `sqlite`, `mariadb`, `etcd`) runs one part, for profiling).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use edge_config::endpoint::Endpoint;
use edge_datastore::{KeyRange, Store, StoreOptions};
use edge_testkit::{ChildGuard, DbServer, Engine, ServerOptions, free_port};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const VALUE: &[u8] = &[b'x'; 512];

fn scale() -> usize {
    std::env::var("EDGE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn row(area: &str, metric: &str, value: String, reference: String, ratio: String) {
    println!("| {area} | {metric} | {value} | {reference} | {ratio} |");
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn per_sec(x: f64) -> String {
    format!("{x:.0}/s")
}

/// Creates `total` keys with `clients` concurrent clients; returns ops/s.
async fn create_throughput(store: &Store, prefix: &str, clients: usize, total: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        let prefix = prefix.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in 0..total / clients {
                store
                    .create(&format!("{prefix}/{c}/{i:06}"), VALUE.to_vec(), 0)
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    (total / clients * clients) as f64 / started.elapsed().as_secs_f64()
}

/// Updates the keys under `prefix` (compare-and-swap) with `clients` clients.
async fn update_throughput(store: &Store, prefix: &str, clients: usize) -> f64 {
    let keys = store
        .list(&KeyRange::prefix(prefix), 0, None)
        .await
        .expect("list")
        .kvs;
    let total = keys.len();
    let chunks: Vec<Vec<_>> = keys
        .chunks(total.div_ceil(clients))
        .map(<[_]>::to_vec)
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for kv in chunk {
                store
                    .update(&kv.key, VALUE.to_vec(), kv.mod_revision, 0)
                    .await
                    .expect("update");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Write through `a`, receive on a watch of `b`: latency from the start of the
/// write call to the event's arrival.
async fn watch_latency(a: &Store, b: &Store, writes: usize) -> Vec<Duration> {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut watch = b
        .watch(KeyRange::prefix("/bench/watch/"), 0)
        .await
        .expect("watch");
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while latencies.len() < writes {
                for event in watch.recv().await.expect("watch") {
                    let now = Instant::now();
                    let t0 = sent.lock().expect("lock").remove(&event.kv.key);
                    latencies.push(now - t0.expect("event for a key we wrote"));
                }
            }
            latencies
        })
    };
    for i in 0..writes {
        let key = format!("/bench/watch/{i:06}");
        sent.lock()
            .expect("lock")
            .insert(key.clone(), Instant::now());
        a.create(&key, VALUE.to_vec(), 0).await.expect("create");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), receiver)
        .await
        .expect("all events within a minute")
        .expect("receiver")
}

async fn bench_store(name: &str, endpoint: &Endpoint, instances: usize) {
    let n = scale();
    let options = StoreOptions::default;
    let a = Store::open(endpoint, options()).await.expect("open");
    let b = if instances > 1 {
        Store::open(endpoint, options()).await.expect("open second")
    } else {
        a.clone()
    };
    let area = format!("datastore/{name}");
    let c1 = create_throughput(&a, "/bench/c1", 1, 500 * n).await;
    let c16 = create_throughput(&a, "/bench/c16", 16, 4000 * n).await;
    let u1 = update_throughput(&a, "/bench/c1", 1).await;
    let u16 = update_throughput(&a, "/bench/c16", 16).await;
    row(
        &area,
        "create, 1 client",
        per_sec(c1),
        "-".into(),
        "-".into(),
    );
    row(
        &area,
        "create, 16 clients",
        per_sec(c16),
        "-".into(),
        "-".into(),
    );
    row(
        &area,
        "update (CAS), 1 client",
        per_sec(u1),
        "-".into(),
        "-".into(),
    );
    row(
        &area,
        "update (CAS), 16 clients",
        per_sec(u16),
        "-".into(),
        "-".into(),
    );
    RESULTS
        .lock()
        .expect("lock")
        .insert(format!("{name}/c1"), c1);
    RESULTS
        .lock()
        .expect("lock")
        .insert(format!("{name}/c16"), c16);

    // 10,000 keys in one prefix.
    create_throughput(&a, "/bench/list", 16, 10_000).await;
    let mut gets = Vec::new();
    for i in 0..2000 {
        let key = format!("/bench/list/{}/{:06}", i % 16, (i * 7919) % 625);
        let t = Instant::now();
        let (_, kv) = a.get(&key).await.expect("get");
        gets.push(t.elapsed());
        assert!(kv.is_some(), "{key}");
    }
    row(
        &area,
        "get at 10,000 keys, p50 / p99",
        format!("{} / {}", ms(pct(&mut gets, 0.5)), ms(pct(&mut gets, 0.99))),
        "-".into(),
        "-".into(),
    );
    let mut lists = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let page = a
            .list(&KeyRange::prefix("/bench/list/"), 0, None)
            .await
            .expect("list");
        lists.push(t.elapsed());
        assert_eq!(page.kvs.len(), 10_000);
    }
    row(
        &area,
        "list all 10,000 keys, p50 / p99",
        format!(
            "{} / {}",
            ms(pct(&mut lists, 0.5)),
            ms(pct(&mut lists, 0.99))
        ),
        "-".into(),
        "-".into(),
    );
    let mut pages = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        a.list(&KeyRange::prefix("/bench/list/"), 500, None)
            .await
            .expect("page");
        pages.push(t.elapsed());
    }
    row(
        &area,
        "list a 500-key page of 10,000, p50 / p99",
        format!(
            "{} / {}",
            ms(pct(&mut pages, 0.5)),
            ms(pct(&mut pages, 0.99))
        ),
        "-".into(),
        "-".into(),
    );

    let mut lat = watch_latency(&a, &b, 500).await;
    let what = if instances > 1 {
        "watch latency, write via A, watch via B, p50 / p99"
    } else {
        "watch latency (one instance), p50 / p99"
    };
    row(
        &area,
        what,
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
        "kine: 1 s poll".into(),
        "-".into(),
    );
    a.close().await;
    b.close().await;
}

/// Throughputs by `<system>/c<clients>`, for the ratio rows.
static RESULTS: std::sync::LazyLock<Mutex<HashMap<String, f64>>> =
    std::sync::LazyLock::new(Mutex::default);

/// A minimal client for etcd's JSON gateway (`/v3/...`), enough to measure puts
/// and watches. etcd's own gRPC clients would be somewhat faster; the gateway
/// adds one JSON translation per request.
struct Etcd {
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Etcd {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (port, peer) = (free_port(), free_port());
        let mut cmd = Command::new("etcd");
        cmd.args([
            "--name",
            "bench",
            "--data-dir",
            &dir.path().join("data").to_string_lossy(),
            "--listen-client-urls",
            &format!("http://127.0.0.1:{port}"),
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{port}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-cluster",
            &format!("bench=http://127.0.0.1:{peer}"),
            "--log-level",
            "error",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        let guard = ChildGuard::spawn(cmd).expect("etcd from Debian's etcd-server package");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let etcd = Self {
            _guard: guard,
            _dir: dir,
            base: format!("http://127.0.0.1:{port}"),
            client,
        };
        for _ in 0..100 {
            if etcd
                .post("/v3/kv/range", serde_json::json!({"key": B64.encode("x")}))
                .await
                .is_ok()
            {
                return etcd;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("etcd did not start");
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value, String> {
        let req = hyper::Request::post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    async fn put(&self, key: &str) {
        self.post(
            "/v3/kv/put",
            serde_json::json!({"key": B64.encode(key), "value": B64.encode(VALUE)}),
        )
        .await
        .expect("etcd put");
    }
}

async fn bench_etcd() {
    let n = scale();
    let etcd = Arc::new(Etcd::start().await);
    let throughput = |clients: usize, total: usize| {
        let etcd = etcd.clone();
        async move {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for c in 0..clients {
                let etcd = etcd.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..total / clients {
                        etcd.put(&format!("/bench/{clients}/{c}/{i}")).await;
                    }
                }));
            }
            for t in tasks {
                t.await.expect("client");
            }
            (total / clients * clients) as f64 / started.elapsed().as_secs_f64()
        }
    };
    let p1 = throughput(1, 500 * n).await;
    let p16 = throughput(16, 4000 * n).await;
    row(
        "reference/etcd 3.4 (Debian)",
        "put, 1 client",
        per_sec(p1),
        "-".into(),
        "-".into(),
    );
    row(
        "reference/etcd 3.4 (Debian)",
        "put, 16 clients",
        per_sec(p16),
        "-".into(),
        "-".into(),
    );
    RESULTS.lock().expect("lock").insert("etcd/c1".into(), p1);
    RESULTS.lock().expect("lock").insert("etcd/c16".into(), p16);

    // Watch latency through the gateway's streaming watch.
    let req = hyper::Request::post(format!("{}/v3/watch", etcd.base))
        .body(Full::new(Bytes::from(
            serde_json::json!({"create_request": {"key": B64.encode("/w/"), "range_end": B64.encode("/w0")}}).to_string(),
        )))
        .expect("request");
    let resp = etcd.client.request(req).await.expect("watch");
    let mut body = resp.into_body();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let writes = 500;
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut buf = Vec::new();
            while latencies.len() < writes {
                let frame = body.frame().await.expect("stream open").expect("frame");
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let now = Instant::now();
                buf.extend_from_slice(&data);
                while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
                    for e in v["result"]["events"].as_array().into_iter().flatten() {
                        let key = String::from_utf8(
                            B64.decode(e["kv"]["key"].as_str().unwrap_or(""))
                                .unwrap_or_default(),
                        )
                        .unwrap_or_default();
                        if let Some(t0) = sent.lock().expect("lock").remove(&key) {
                            latencies.push(now - t0);
                        }
                    }
                }
            }
            latencies
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..writes {
        let key = format!("/w/{i:06}");
        sent.lock()
            .expect("lock")
            .insert(key.clone(), Instant::now());
        etcd.put(&key).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut lat = tokio::time::timeout(Duration::from_secs(60), receiver)
        .await
        .expect("events")
        .expect("receiver");
    row(
        "reference/etcd 3.4 (Debian)",
        "watch latency, p50 / p99",
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
        "-".into(),
        "-".into(),
    );
}

/// pgbench's single-row insert rate on the same PostgreSQL: the database's own limit.
fn bench_pgbench(server: &DbServer) {
    server
        .create_database("pgbench")
        .expect("create pgbench database");
    server
        .sql(
            "pgbench",
            "CREATE TABLE bench_kv (id BIGSERIAL PRIMARY KEY, v BYTEA NOT NULL)",
        )
        .expect("table");
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("insert.sql");
    std::fs::write(
        &script,
        format!(
            "INSERT INTO bench_kv (v) VALUES (decode('{}', 'hex'));\n",
            hex::encode(VALUE)
        ),
    )
    .expect("script");
    let pgbench = glob_pgbench();
    for clients in [1, 16] {
        let out = Command::new(&pgbench)
            .args([
                "-n",
                "-h",
                server.host(),
                "-p",
                &server.port().to_string(),
                "-U",
                server.user(),
            ])
            .args(["-c", &clients.to_string(), "-j", "2", "-T", "5", "-f"])
            .arg(&script)
            .arg("pgbench")
            .env("PGPASSWORD", server.password())
            .output()
            .expect("pgbench runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let tps: f64 = text
            .lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "pgbench output: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        row(
            "reference/pgbench (PostgreSQL 15)",
            &format!("single-row insert, {clients} client(s)"),
            per_sec(tps),
            "-".into(),
            "-".into(),
        );
        RESULTS
            .lock()
            .expect("lock")
            .insert(format!("pgbench/c{clients}"), tps);
    }
}

fn glob_pgbench() -> std::path::PathBuf {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL installed")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().expect("pgbench from postgresql")
}

fn ratios() {
    let r = RESULTS.lock().expect("lock");
    for backend in ["sqlite", "postgres", "mariadb"] {
        for (c, label) in [("c1", "1 client"), ("c16", "16 clients")] {
            if let (Some(ours), Some(etcd)) = (
                r.get(&format!("{backend}/{c}")),
                r.get(&format!("etcd/{c}")),
            ) {
                row(
                    &format!("datastore/{backend}"),
                    &format!("create vs etcd put, {label}"),
                    per_sec(*ours),
                    per_sec(*etcd),
                    format!("{:.2}×", ours / etcd),
                );
            }
        }
    }
    for c in ["c1", "c16"] {
        if let (Some(ours), Some(pg)) = (
            r.get(&format!("postgres/{c}")),
            r.get(&format!("pgbench/{c}")),
        ) {
            row(
                "datastore/postgres",
                &format!(
                    "create vs pgbench insert, {}",
                    if c == "c1" { "1 client" } else { "16 clients" }
                ),
                per_sec(*ours),
                per_sec(*pg),
                format!("{:.2}×", ours / pg),
            );
        }
    }
}

/// Whether `part` runs (`EDGE_BENCH_ONLY` unset: all of them).
fn runs(part: &str) -> bool {
    std::env::var("EDGE_BENCH_ONLY").map_or(true, |only| only == part)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Endpoint::parse(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .expect("endpoint");
    if runs("sqlite") {
        bench_store("sqlite", &sqlite, 1).await;
    }

    if runs("postgres") {
        bench_postgres().await;
    }
    if runs("mariadb") {
        bench_mariadb().await;
    }
    if runs("etcd") {
        bench_etcd().await;
    }
    ratios();
}

async fn bench_postgres() {
    let pg = tokio::task::spawn_blocking(|| {
        Engine::Postgres.start(ServerOptions::default().with_fsync(true))
    })
    .await
    .expect("task")
    .expect("PostgreSQL");
    bench_store(
        "postgres",
        &Endpoint::parse(&pg.url("bench")).expect("endpoint"),
        2,
    )
    .await;
    let pg = tokio::task::spawn_blocking(move || {
        bench_pgbench(&pg);
        pg
    })
    .await
    .expect("pgbench");
    drop(pg);
}

async fn bench_mariadb() {
    let my = tokio::task::spawn_blocking(|| {
        Engine::MariaDb.start(ServerOptions::default().with_fsync(true))
    })
    .await
    .expect("task")
    .expect("MariaDB");
    bench_store(
        "mariadb",
        &Endpoint::parse(&my.url("bench")).expect("endpoint"),
        2,
    )
    .await;
    drop(my);
}
