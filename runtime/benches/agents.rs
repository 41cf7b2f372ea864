//! Agent load: many agents against two `edged server` processes on one
//! PostgreSQL, the database, the servers and this generator together on the
//! machine. The agents run in this process through the real code
//! (`edge_runtime::agent::run_observed`: join with CA check, node password
//! and CSRs; a tunnel to each server; the load balancer; heartbeats), each
//! with its own data dir and load-balancer port, joining through a fixed
//! address that is no server's own. Prints `| area | metric | value |
//! reference | ratio |` rows for `scripts/bench.sh`.
//!
//! Measures: the join time of 50 agents started at once; at 100, 500 and
//! 1,000 agents, heartbeat latency (p50/p99 of one beat: read the Node,
//! renew the Lease) and the servers' CPU and RSS over a 30 s window; the RSS
//! of one idle `edged agent` process; and that agent's failover: its
//! server SIGKILLed (the fixed address already gone), until a request
//! through its load balancer is answered again.
//!
//! `AGENTS=100,500` limits the steps; `WINDOW=30` sets the window in seconds.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edge_runtime::agent::{Observer, run_observed};
use edge_testkit::{ChildGuard, Postgres, ServerOptions, free_port};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "agents-bench-token";

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn row(metric: &str, value: &str, reference: &str, ratio: &str) {
    println!("| agents | {metric} | {value} | {reference} | {ratio} |");
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after ')'.
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Resident memory of a process, MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

struct Server {
    guard: ChildGuard,
    address: String,
}

fn start_server(ip: &str, endpoint: &str, dir: &std::path::Path) -> Server {
    let port = free_port();
    let kubeconfig = dir.join(format!("{ip}.yaml"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.join(ip))
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .args(["--bind-address", ip, "--node-ip", ip])
        .args(["--node-name", &format!("bench-{}", ip.replace('.', "-"))])
        .args(["--https-listen-port", &port.to_string()])
        .args(["--datastore-endpoint", endpoint, "--token", TOKEN])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn(cmd).expect("edged server");
    let address = format!("{ip}:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join(ip).join("server/token").exists()
        || std::net::TcpStream::connect(&address).is_err()
    {
        assert!(Instant::now() < deadline, "edged at {ip} did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    Server { guard, address }
}

/// The fixed registration address: a loopback address that is no
/// server's own, each connection passed to the first server that accepts.
async fn forwarder(targets: Vec<String>, stop: CancellationToken) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.9", 0))
        .await
        .expect("bind the fixed address");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let (mut client, _) = tokio::select! {
                () = stop.cancelled() => return,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            };
            let targets = targets.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                for t in &targets {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(t.as_str()).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            () = stop.cancelled() => {}
                        }
                        return;
                    }
                }
            });
        }
    });
    address
}

/// Heartbeat durations, gathered while `recording`.
#[derive(Default)]
struct Beats {
    recording: bool,
    samples: Vec<Duration>,
    failed: usize,
}

struct Fleet {
    dir: tempfile::TempDir,
    server: String,
    token: String,
    beats: Arc<Mutex<Beats>>,
    stop: CancellationToken,
    count: usize,
}

impl Fleet {
    /// Starts `n` more agents at once; returns when all are ready.
    async fn grow(&mut self, n: usize) -> Duration {
        let started = Instant::now();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..n {
            let i = self.count;
            self.count += 1;
            let data = self.dir.path().join(format!("agent-{i:04}"));
            let argv = [
                "--server",
                self.server.as_str(),
                "--token",
                self.token.as_str(),
                "--data-dir",
                &data.display().to_string(),
                "--node-name",
                &format!("load-{i:04}"),
                "--node-ip",
                &format!("127.1.{}.{}", i / 250, i % 250 + 1),
            ]
            .map(str::to_owned);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let mut config = edge_config::agent::parse_agent_argv(&argv).expect("agent config");
            // Any free port: the flag refuses 0, the balancer takes it.
            config.lb_server_port = 0;
            let beats = self.beats.clone();
            let observer = Observer {
                on_beat: Some(Arc::new(move |took, ok| {
                    let mut b = beats.lock().expect("beats");
                    if b.recording {
                        if ok {
                            b.samples.push(took);
                        } else {
                            b.failed += 1;
                        }
                    }
                })),
            };
            let stop = self.stop.clone();
            let ready = ready_tx.clone();
            tokio::spawn(async move {
                let result = run_observed(
                    config,
                    stop,
                    move |_| {
                        let _ = ready.send(());
                    },
                    observer,
                )
                .await;
                if let Err(e) = result {
                    eprintln!("agent {i}: {e}");
                }
            });
        }
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(600), ready_rx.recv())
                .await
                .expect("agents ready within 10 minutes");
        }
        started.elapsed()
    }
}

fn raise_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn main() {
    raise_file_limit();
    let steps: Vec<usize> = std::env::var("AGENTS")
        .unwrap_or_else(|_| "100,500,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let window = Duration::from_secs(
        std::env::var("WINDOW")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(30),
    );
    let pg = Postgres::start(ServerOptions::default().with_fsync(true)).expect("PostgreSQL");
    let endpoint = pg.url("agents_bench");
    let dir = tempfile::tempdir().expect("tmp");
    let mut servers = vec![
        start_server("127.0.0.2", &endpoint, dir.path()),
        start_server("127.0.0.3", &endpoint, dir.path()),
    ];
    let token = std::fs::read_to_string(dir.path().join("127.0.0.2/server/token"))
        .expect("token")
        .trim()
        .to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stop = CancellationToken::new();
    let fixed_stop = CancellationToken::new();
    let fixed = runtime.block_on(forwarder(
        servers.iter().map(|s| s.address.clone()).collect(),
        fixed_stop.clone(),
    ));
    let mut fleet = Fleet {
        dir: tempfile::tempdir().expect("tmp"),
        server: format!("https://{fixed}"),
        token: token.clone(),
        beats: Arc::default(),
        stop: stop.clone(),
        count: 0,
    };

    let join50 = runtime.block_on(fleet.grow(50));
    row(
        "join of 50 agents started at once",
        &format!("{:.2} s", join50.as_secs_f64()),
        "K3s docs: join agents in batches of ≤ 50",
        "",
    );
    for &target in &steps {
        while fleet.count < target {
            let n = (target - fleet.count).min(50);
            runtime.block_on(fleet.grow(n));
        }
        // Let the joins' work settle, then measure a window.
        runtime.block_on(async { tokio::time::sleep(Duration::from_secs(5)).await });
        {
            let mut beats = fleet.beats.lock().expect("beats");
            beats.samples.clear();
            beats.failed = 0;
            beats.recording = true;
        }
        let pids: Vec<u32> = servers.iter().map(|s| s.guard.pid()).collect();
        let cpu0: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
        let t0 = Instant::now();
        runtime.block_on(async { tokio::time::sleep(window).await });
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu: Vec<f64> = pids
            .iter()
            .zip(&cpu0)
            .map(|(p, c0)| (cpu_seconds(*p) - c0) / elapsed * 100.0)
            .collect();
        let rss: Vec<f64> = pids.iter().map(|p| rss_mib(*p)).collect();
        let (mut samples, failed) = {
            let mut beats = fleet.beats.lock().expect("beats");
            beats.recording = false;
            (std::mem::take(&mut beats.samples), beats.failed)
        };
        let n = samples.len();
        let p50 = pct(&mut samples, 0.50);
        let p99 = pct(&mut samples, 0.99);
        row(
            &format!("{target} agents: heartbeat p50 / p99 ({n} beats, {failed} failed)"),
            &format!("{} / {}", ms(p50), ms(p99)),
            "target p99 < 100 ms at 1,000",
            "",
        );
        row(
            &format!("{target} agents: server CPU (each of 2)"),
            &format!("{:.0}% / {:.0}% of a core", cpu[0], cpu[1]),
            "K3s docs: 4 vCPU / 8 GB for 351–900 agents",
            "",
        );
        row(
            &format!("{target} agents: server RSS (each of 2)"),
            &format!("{:.0} / {:.0} MiB", rss[0], rss[1]),
            "K3s profiling: server 1428–1596 MB",
            "",
        );
    }
    let generator_rss = rss_mib(std::process::id());
    row(
        &format!("{} in-process agents: generator RSS", fleet.count),
        &format!("{generator_rss:.0} MiB"),
        "",
        "",
    );
    stop.cancel();
    runtime.block_on(async { tokio::time::sleep(Duration::from_secs(2)).await });

    // One real agent process: idle RSS, then failover.
    let agent_dir = tempfile::tempdir().expect("tmp");
    let lb_port = free_port();
    let log = agent_dir.path().join("agent.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edged"));
    cmd.arg("agent")
        .args(["--server", &format!("https://{fixed}")])
        .arg("--data-dir")
        .arg(agent_dir.path().join("data"))
        .args(["--node-name", "bench-agent", "--node-ip", "127.0.0.20"])
        .args(["--lb-server-port", &lb_port.to_string()])
        .env("EDGE_TOKEN", &token)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    let agent = ChildGuard::spawn(cmd).expect("edged agent");
    let deadline = Instant::now() + Duration::from_secs(120);
    let marker = "load balancer: active server server=";
    let active = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("agent ready")
            && let Some(line) = text.lines().rfind(|l| l.contains(marker))
        {
            break line
                .split(marker)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_default()
                .to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Idle: a few heartbeats.
    std::thread::sleep(Duration::from_secs(25));
    row(
        "edged agent RSS, idle (no pods)",
        &format!("{:.1} MiB", rss_mib(agent.pid())),
        "K3s agent 275 MB; target < 30 MiB",
        &format!("{:.1}%", rss_mib(agent.pid()) / 275.0 * 100.0),
    );
    // The fixed address goes first, so only the balancer can carry the
    // agent's traffic to the other server.
    fixed_stop.cancel();
    let base = url::Url::parse(&format!("https://127.0.0.1:{lb_port}")).expect("url");
    let dead = servers
        .iter()
        .position(|s| s.address == active)
        .expect("the active server is one of the two");
    let killed = Instant::now();
    // Dropping the guard SIGKILLs the server.
    drop(servers.remove(dead));
    let failover = runtime.block_on(async {
        loop {
            let r = tokio::time::timeout(
                Duration::from_secs(2),
                edge_runtime::ctl::client::request(
                    &base,
                    http::Method::GET,
                    "/ping",
                    &edge_runtime::ctl::client::Trust::FetchCaOnly,
                    None,
                    None,
                ),
            )
            .await;
            if matches!(r, Ok(Ok(_))) {
                return killed.elapsed();
            }
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "no answer through the balancer within a minute"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    row(
        "agent failover: its server SIGKILLed → its API traffic answered again",
        &ms(failover),
        "target < 1 s",
        "",
    );
    drop(agent);
    drop(pg);
}
