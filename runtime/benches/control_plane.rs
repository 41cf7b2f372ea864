//! Control-plane benchmark: one `edged server` on embedded SQLite, driven
//! through its HTTPS API by the kube crate. Prints `| area | metric | value |
//! reference | ratio |` rows for `scripts/bench.sh`.
//!
//! Measures: resident memory idle and with 10,000 ConfigMaps, create latency
//! (16 concurrent clients), and the latency of listing all 10,000.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, free_port};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};

const OBJECTS: usize = 10_000;
const CLIENTS: usize = 16;

fn row(metric: &str, value: String, reference: &str) {
    println!("| control-plane/sqlite | {metric} | {value} | {reference} | - |");
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--bind-address",
            "127.0.0.1",
            "--node-ip",
            "127.0.0.1",
            "--node-name",
            "bench",
        ])
        .args(["--https-listen-port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn(cmd).expect("edged");
    let pid = guard.pid();

    let deadline = Instant::now() + Duration::from_secs(60);
    let client = loop {
        if let Ok(k) = kube::config::Kubeconfig::read_from(&kubeconfig)
            && let Ok(config) = kube::Config::from_custom_kubeconfig(k, &Default::default()).await
            && let Ok(client) = kube::Client::try_from(config)
            && client.apiserver_version().await.is_ok()
        {
            break client;
        }
        assert!(Instant::now() < deadline, "edged did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    row(
        "server RSS, idle",
        format!("{:.1} MiB", rss_mib(pid)),
        "K3s server: 1.4–1.6 GB (K3s resource profiling)",
    );

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let cms = cms.clone();
            async move {
                let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "yes"}},
                    "data": {"key": "x".repeat(256)}
                }))
                .expect("configmap");
                let t = Instant::now();
                cms.create(&PostParams::default(), &cm)
                    .await
                    .expect("create");
                t.elapsed()
            }
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies = latencies;
    row(
        &format!("create ConfigMap ({CLIENTS} clients), p50 / p99"),
        format!(
            "{} / {}",
            ms(pct(&mut latencies, 0.5)),
            ms(pct(&mut latencies, 0.99))
        ),
        "-",
    );
    row(
        &format!("create ConfigMap ({CLIENTS} clients), throughput"),
        format!("{:.0}/s", OBJECTS as f64 / elapsed.as_secs_f64()),
        "-",
    );
    let mut lists = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let list = cms.list(&ListParams::default()).await.expect("list");
        lists.push(t.elapsed());
        assert!(list.items.len() >= OBJECTS);
    }
    row(
        &format!("list {OBJECTS} ConfigMaps, p50 / p99"),
        format!(
            "{} / {}",
            ms(pct(&mut lists, 0.5)),
            ms(pct(&mut lists, 0.99))
        ),
        "-",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    row(
        &format!("server RSS with {OBJECTS} ConfigMaps"),
        format!("{:.1} MiB", rss_mib(pid)),
        "-",
    );
    drop(guard);
}
