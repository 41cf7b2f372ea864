//! HA benchmark: two `edged server` processes on one PostgreSQL, then on one
//! MariaDB (fsync on), driven through their HTTPS APIs by the kube crate.
//! Prints `| area | metric | value | reference | ratio |` rows for
//! `scripts/bench.sh`.
//!
//! Measures API create throughput (16 clients spread over both servers),
//! cross-server watch latency (a ConfigMap created through server A, the
//! event received by a watch on server B), and the controller leader's
//! hand-over: the leader SIGKILLed, until the other server holds the lease.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, Engine, ServerOptions, free_port};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

const CREATES: usize = 3000;
const CLIENTS: usize = 16;
const WATCHED: usize = 300;

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Server {
    guard: ChildGuard,
    node: String,
    client: kube::Client,
}

async fn start(ip: &str, endpoint: &str, dir: &std::path::Path) -> Server {
    let port = free_port();
    let kubeconfig = dir.join(format!("{ip}.yaml"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.join(ip))
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--bind-address",
            ip,
            "--node-ip",
            ip,
            "--node-name",
            &format!("bench-{}", ip.replace('.', "-")),
        ])
        .args(["--https-listen-port", &port.to_string()])
        .args(["--datastore-endpoint", endpoint, "--token", "bench-token"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn(cmd).expect("edged");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(k) = kube::config::Kubeconfig::read_from(&kubeconfig)
            && let Ok(config) = kube::Config::from_custom_kubeconfig(k, &Default::default()).await
            && let Ok(client) = kube::Client::try_from(config)
            && client.apiserver_version().await.is_ok()
        {
            return Server {
                guard,
                node: format!("bench-{}", ip.replace('.', "-")),
                client,
            };
        }
        assert!(Instant::now() < deadline, "edged at {ip} did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(
        serde_json::json!({"metadata": {"name": name}, "data": {"key": "x".repeat(256)}}),
    )
    .expect("cm")
}

async fn bench(engine: Engine, name: &str) {
    let db = tokio::task::spawn_blocking(move || {
        engine.start(ServerOptions::default().with_fsync(true))
    })
    .await
    .expect("task")
    .expect("database");
    let endpoint = db.url("bench_ha");
    let dir = tempfile::tempdir().expect("tmp");
    let a = start("127.0.0.2", &endpoint, dir.path()).await;
    let b = start("127.0.0.3", &endpoint, dir.path()).await;
    let area = format!("ha/two servers on {name}");

    let apis = [
        Api::<ConfigMap>::namespaced(a.client.clone(), "default"),
        Api::<ConfigMap>::namespaced(b.client.clone(), "default"),
    ];
    let started = Instant::now();
    futures::stream::iter(0..CREATES)
        .map(|i| {
            let api = apis[i % 2].clone();
            async move {
                api.create(&PostParams::default(), &configmap(&format!("load-{i:05}")))
                    .await
                    .expect("create");
            }
        })
        .buffer_unordered(CLIENTS)
        .collect::<Vec<_>>()
        .await;
    let rate = CREATES as f64 / started.elapsed().as_secs_f64();
    println!(
        "| {area} | API create, {CLIENTS} clients over both servers | {rate:.0}/s | Rancher: etcd >10× kine/PostgreSQL on creates | - |"
    );

    // Cross-server watch latency.
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let watch_api = Api::<ConfigMap>::namespaced(b.client.clone(), "default");
    let rv = watch_api
        .list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = watch_api
        .watch(&WatchParams::default().timeout(120), &rv)
        .await
        .expect("watch")
        .boxed();
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while latencies.len() < WATCHED {
                match stream.try_next().await.expect("watch") {
                    Some(WatchEvent::Added(cm)) => {
                        let now = Instant::now();
                        let name = cm.metadata.name.unwrap_or_default();
                        if let Some(t0) = sent.lock().expect("lock").remove(&name) {
                            latencies.push(now - t0);
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            latencies
        })
    };
    for i in 0..WATCHED {
        let name = format!("watched-{i:04}");
        sent.lock()
            .expect("lock")
            .insert(name.clone(), Instant::now());
        apis[0]
            .create(&PostParams::default(), &configmap(&name))
            .await
            .expect("create");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut lat = tokio::time::timeout(Duration::from_secs(60), receiver)
        .await
        .expect("events")
        .expect("receiver");
    println!(
        "| {area} | watch latency through the API, write via A, watch via B, p50 / p99 | {} / {} | kine: 1 s poll | - |",
        ms(pct(&mut lat, 0.5)),
        ms(pct(&mut lat, 0.99))
    );

    // Leader hand-over: SIGKILL the holder of the controllers' lease, time
    // until the survivor holds it.
    let leases = |s: &Server| {
        Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
            s.client.clone(),
            "kube-system",
        )
    };
    let holder_via = |s: &Server| {
        let api = leases(s);
        async move {
            api.get_opt(LEADER_LEASE)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.spec?.holder_identity)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = loop {
        if let Some(h) = holder_via(&a).await {
            break h;
        }
        assert!(Instant::now() < deadline, "no controller leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (dead, survivor) = if holder == a.node { (a, b) } else { (b, a) };
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dead.guard.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the leader");
    let deadline = killed + Duration::from_secs(120);
    loop {
        if holder_via(&survivor).await.as_deref() == Some(survivor.node.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "the lease never moved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "| {area} | controller leader hand-over after SIGKILL of the leader | {:.1} s | lease 15 s, retry 2 s (kube-controller-manager's defaults) | - |",
        killed.elapsed().as_secs_f64()
    );
    drop((dead, survivor));
    drop(db);
}

/// The controllers' leader-election Lease (kube-system).
const LEADER_LEASE: &str = "edge-controller";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench(Engine::Postgres, "PostgreSQL").await;
    bench(Engine::MariaDb, "MariaDB").await;
}
