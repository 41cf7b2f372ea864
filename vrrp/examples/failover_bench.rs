//! Failover benchmark: `vrrp-node` and `edged server --vip` against
//! keepalived in the same lab and the same run. Two nodes (priorities 150
//! and 100) and a client in network namespaces; the client connects through
//! the VIP every 10 ms (20 ms connect timeout).
//!
//! - vrrp-node and keepalived: to a TCP port each node serves (served by
//!   this harness, so both are measured the same way; on a crash the old
//!   holder's port closes with it); a reply names the node.
//! - edged: to the API port (6443) of `edged server --vip`, each node its own
//!   single-server SQLite cluster; a completed TCP connect is the API's
//!   listener answering through the VIP. After the event the old holder
//!   cannot answer (dead, link down, or VIP removed before its listener
//!   closes), so a connect that starts after the takeover reached the new
//!   holder. Measured once both servers are ready (health check passing).
//!
//! For each implementation, scenario and run it records:
//! - takeover: from the event to the VIP appearing on the backup;
//! - outage: the client's gap, from its last good connect before the event to
//!   its first good connect after it.
//!
//! Run by `scripts/bench-vrrp.sh` (root). Usage:
//! `failover_bench [--runs N] [--vrrp-node PATH] [--edged PATH] [--only NAME-SUBSTRING]`

use edge_testkit::netns as lab;

use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use lab::{Keepalived, Lab, Listener, Proc, prerequisites};
use nix::sys::signal::Signal;

const PORT: u16 = 8080;
/// `edged server`'s API port.
const API_PORT: u16 = 6443;

#[derive(Clone, Copy)]
enum Impl {
    /// vrrp-node with this advert interval.
    Ours(&'static str),
    /// `edged server --vip` with this `--vrrp-advert-interval`.
    Edged(&'static str),
    /// keepalived with this `advert_int`.
    Keepalived(&'static str),
}

impl Impl {
    fn name(self) -> String {
        match self {
            Self::Ours(i) => format!("vrrp-node {i}"),
            Self::Edged(i) => format!("edged --vip {i}"),
            Self::Keepalived(i) => format!("keepalived 2.2.7 advert_int {i}"),
        }
    }
}

/// The binaries under test.
struct Bins {
    vrrp_node: String,
    edged: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Crash,
    LinkDown,
    Graceful,
    /// The holder was cut off the switch (both nodes hold the VIP); the cut
    /// heals: the time until one holder is left.
    Heal,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Crash => "crash (SIGKILL)",
            Self::LinkDown => "link down",
            Self::Graceful => "graceful (SIGTERM)",
            Self::Heal => "partition heal",
        }
    }
}

enum Running {
    /// vrrp-node or edged.
    Process(Proc),
    Keepalived(Keepalived),
}

impl Running {
    fn log(&self) -> &Proc {
        match self {
            Self::Process(p) => p,
            Self::Keepalived(k) => &k.parent,
        }
    }
}

fn start_edged(lab: &Lab, bin: &str, interval: &str, node: usize, priority: u8) -> Proc {
    let dir = lab.dir.path().join(format!("edged-n{node}"));
    let mut cmd = lab.nodes[node].ns.command(bin);
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--write-kubeconfig")
        .arg(dir.join("kubeconfig.yaml"))
        .args(["--node-ip", &lab.nodes[node].ip.to_string()])
        .args(["--node-name", &format!("bench-n{node}")])
        .args(["--vip", &lab::VIP.to_string(), "--vip-interface", "e0"])
        .args([
            "--vrrp-id",
            lab::VRID,
            "--vrrp-priority",
            &priority.to_string(),
        ])
        .args(["--vrrp-advert-interval", interval])
        .env("RUST_LOG", "info,sqlx=warn")
        .env("NO_COLOR", "1")
        .env_remove("EDGE_TOKEN");
    lab.spawn(&format!("edged n{node}"), cmd)
}

fn start(lab: &Lab, bins: &Bins, imp: Impl, node: usize, priority: u8) -> Running {
    match imp {
        Impl::Ours(interval) => Running::Process(lab.spawn_node(
            &bins.vrrp_node,
            node,
            &[
                "--priority",
                &priority.to_string(),
                "--advert-interval",
                interval,
            ],
        )),
        Impl::Edged(interval) => {
            Running::Process(start_edged(lab, &bins.edged, interval, node, priority))
        }
        Impl::Keepalived(interval) => Running::Keepalived(lab.spawn_keepalived(
            node,
            &format!("  state BACKUP\n  priority {priority}\n  advert_int {interval}\n"),
        )),
    }
}

struct Sample {
    takeover: Duration,
    outage: Duration,
}

/// A TCP connect to the API through the VIP (edged): "api" when it completes.
fn api_connect() -> Option<String> {
    let target = SocketAddr::V4(SocketAddrV4::new(lab::VIP, API_PORT));
    TcpStream::connect_timeout(&target, Duration::from_millis(20))
        .ok()
        .map(|_| "api".to_owned())
}

/// Waits until edged's health check passes (its configured priority is back).
fn wait_edged_ready(p: &Proc) -> bool {
    lab::wait_for(Duration::from_secs(60), Duration::from_millis(50), || {
        std::fs::read_to_string(&p.log)
            .ok()
            .filter(|l| l.contains("priority restored"))
    })
    .is_some()
}

fn one_run(bins: &Bins, imp: Impl, sc: Scenario, run: usize) -> Result<Sample, String> {
    let lab = Lab::new(&format!("b{run}"), 2);
    let addr = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, PORT);
    let mut api_a = Some(Listener::start(
        lab.ns(0),
        addr,
        &lab.nodes[0].ip.to_string(),
    ));
    let _api_b = Listener::start(lab.ns(1), addr, &lab.nodes[1].ip.to_string());
    let mut a = start(&lab, bins, imp, 0, 150);
    let b = start(&lab, bins, imp, 1, 100);
    let edged = matches!(imp, Impl::Edged(_));
    if edged && !(wait_edged_ready(a.log()) && wait_edged_ready(b.log())) {
        return Err(format!(
            "edged not ready\n{}",
            lab.dump(&[a.log(), b.log()])
        ));
    }
    let ready = lab::wait_for(Duration::from_secs(15), Duration::from_millis(20), || {
        (lab.holders() == [0]).then_some(())
    });
    if ready.is_none() {
        return Err(format!(
            "no single holder at start\n{}",
            lab.dump(&[a.log(), b.log()])
        ));
    }
    let probe = if edged {
        lab::Probe::start_with(&lab.client.name, Duration::from_millis(10), api_connect)
    } else {
        lab.probe(PORT, Duration::from_millis(10))
    };
    let (a_id, b_id) = if edged {
        ("api".to_owned(), "api".to_owned())
    } else {
        (lab.nodes[0].ip.to_string(), lab.nodes[1].ip.to_string())
    };
    probe
        .wait_reply_from(&a_id, Instant::now(), Duration::from_secs(5))
        .ok_or("client never reached the first holder")?;
    // Let start-up GARP bursts and ARP settle.
    std::thread::sleep(Duration::from_millis(1200));

    if sc == Scenario::Heal {
        lab.partition(0, true);
        lab::wait_for(Duration::from_secs(15), Duration::from_millis(5), || {
            (lab.holders() == [0, 1]).then_some(())
        })
        .ok_or_else(|| {
            format!(
                "no split brain after the cut\n{}",
                lab.dump(&[a.log(), b.log()])
            )
        })?;
        probe
            .wait_reply_from(&b_id, Instant::now(), Duration::from_secs(15))
            .ok_or("client never reached the other side's holder")?;
        std::thread::sleep(Duration::from_millis(1200));
    }

    let t = Instant::now();
    match (sc, &mut a) {
        (Scenario::Crash, Running::Process(p)) => {
            p.signal(Signal::SIGKILL);
            api_a = None;
        }
        (Scenario::Crash, Running::Keepalived(k)) => {
            k.crash();
            api_a = None;
        }
        (Scenario::LinkDown, _) => lab.link(0, false),
        (Scenario::Graceful, Running::Process(p)) => p.signal(Signal::SIGTERM),
        (Scenario::Graceful, Running::Keepalived(k)) => k.terminate(),
        (Scenario::Heal, _) => lab.partition(0, false),
    }
    // After a heal the first holder keeps the VIP (it has the higher
    // priority) and the other drops it; otherwise the backup takes it.
    let (settled, new_holder) = match sc {
        Scenario::Heal => (&[0][..], &a_id),
        _ => (&[1][..], &b_id),
    };
    let takeover = lab::wait_for(Duration::from_secs(15), Duration::from_millis(5), || {
        let done = match sc {
            Scenario::Heal => lab.holders() == settled,
            _ => lab.has_vip(1),
        };
        done.then(|| t.elapsed())
    })
    .ok_or_else(|| {
        format!(
            "backup never took the VIP\n{}",
            lab.dump(&[a.log(), b.log()])
        )
    })?;
    // edged's replies do not name the node: only a connect started after
    // the takeover surely reached the new holder.
    let since = if edged { t + takeover } else { t };
    probe
        .wait_reply_from(new_holder, since, Duration::from_secs(15))
        .ok_or("client never reached the new holder")?;
    std::thread::sleep(Duration::from_millis(100));
    let outage = probe
        .outage_after(t)
        .ok_or("client connects did not recover")?;
    drop(api_a);
    Ok(Sample { takeover, outage })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut runs = 10usize;
    let mut only: Option<String> = None;
    let mut scenario: Option<String> = None;
    let sibling = |name: &str| {
        std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.parent()?.join(name)))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut bins = Bins {
        vrrp_node: sibling("vrrp-node"),
        edged: sibling("edged"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--vrrp-node" => bins.vrrp_node = args.next().unwrap_or(bins.vrrp_node),
            "--edged" => bins.edged = args.next().unwrap_or(bins.edged),
            "--only" => only = args.next(),
            "--scenario" => scenario = args.next(),
            other => {
                eprintln!(
                    "unknown argument {other}; usage: failover_bench [--runs N] [--vrrp-node PATH] [--edged PATH] [--only TEXT] [--scenario TEXT]"
                );
                std::process::exit(2);
            }
        }
    }
    if !prerequisites("failover_bench", &["ip", "keepalived"]) {
        std::process::exit(1);
    }
    assert!(
        std::path::Path::new(&bins.vrrp_node).is_file(),
        "vrrp-node not found at {}; build it or pass --vrrp-node",
        bins.vrrp_node
    );
    let impls = [
        Impl::Ours("100ms"),
        Impl::Ours("10ms"),
        Impl::Ours("1s"),
        Impl::Edged("100ms"),
        Impl::Edged("1s"),
        Impl::Keepalived("1"),
        Impl::Keepalived("0.1"),
        Impl::Keepalived("0.01"),
    ];
    let scenarios = [
        Scenario::Crash,
        Scenario::LinkDown,
        Scenario::Graceful,
        Scenario::Heal,
    ];
    let mut rows = Vec::new();
    for imp in impls {
        if only.as_deref().is_some_and(|o| !imp.name().contains(o)) {
            continue;
        }
        if matches!(imp, Impl::Edged(_)) && !std::path::Path::new(&bins.edged).is_file() {
            eprintln!(
                "{}: edged not found at {}; build it (cargo build -p edge-runtime --bin edged) or pass --edged",
                imp.name(),
                bins.edged
            );
            std::process::exit(1);
        }
        for sc in scenarios {
            if scenario.as_deref().is_some_and(|o| !sc.name().contains(o)) {
                continue;
            }
            let mut takeovers = Vec::new();
            let mut outages = Vec::new();
            let mut failures = 0;
            for run in 0..runs {
                match one_run(&bins, imp, sc, run) {
                    Ok(s) => {
                        eprintln!(
                            "{} / {} / run {run}: takeover {} ms, outage {} ms",
                            imp.name(),
                            sc.name(),
                            ms(s.takeover),
                            ms(s.outage)
                        );
                        takeovers.push(s.takeover);
                        outages.push(s.outage);
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!("{} / {} / run {run}: FAILED: {e}", imp.name(), sc.name());
                    }
                }
            }
            takeovers.sort();
            outages.sort();
            rows.push((imp.name(), sc, takeovers, outages, failures));
        }
    }
    let reference = |sc: Scenario| {
        rows.iter()
            .find(|r| r.0 == Impl::Keepalived("1").name() && r.1 == sc)
            .map(|r| percentile(&r.3, 50.0))
    };
    println!(
        "| implementation | scenario | runs | takeover median (ms) | takeover p90 (ms) | client outage median (ms) | client outage p90 (ms) | outage vs keepalived 1 s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, sc, take, out, failures) in &rows {
        let med = percentile(out, 50.0);
        let ratio = reference(*sc)
            .filter(|r| !r.is_zero() && !out.is_empty())
            .map_or("".to_owned(), |r| {
                format!("{:.2}x", med.as_secs_f64() / r.as_secs_f64())
            });
        let runs_cell = if *failures > 0 {
            format!("{} ({failures} failed)", out.len())
        } else {
            out.len().to_string()
        };
        println!(
            "| {name} | {} | {runs_cell} | {} | {} | {} | {} | {ratio} |",
            sc.name(),
            ms(percentile(take, 50.0)),
            ms(percentile(take, 90.0)),
            ms(med),
            ms(percentile(out, 90.0)),
        );
    }
}
