//! Failover benchmark: `vrrp-node` against keepalived in the same lab and
//! the same run. Two nodes (priorities 150 and 100) and a client in network
//! namespaces; the client connects through the VIP every 10 ms to a TCP port
//! that each node serves (served by this harness, so every implementation is
//! measured the same way; on a crash the old holder's port closes with it).
//!
//! For each implementation, scenario and run it records:
//! - takeover: from the event to the VIP appearing on the backup;
//! - outage: the client's gap, from its last good connect before the event to
//!   its first good connect after it.
//!
//! Run by `scripts/bench-vrrp.sh` (root). Usage:
//! `failover_bench [--runs N] [--vrrp-node PATH] [--only NAME-SUBSTRING]`

use edge_testkit::netns as lab;

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use lab::{Keepalived, Lab, Listener, Proc, prerequisites};
use nix::sys::signal::Signal;

const PORT: u16 = 8080;

#[derive(Clone, Copy)]
enum Impl {
    /// vrrp-node with this advert interval.
    Ours(&'static str),
    /// keepalived with this `advert_int`.
    Keepalived(&'static str),
}

impl Impl {
    fn name(self) -> String {
        match self {
            Self::Ours(i) => format!("vrrp-node {i}"),
            Self::Keepalived(i) => format!("keepalived 2.2.7 advert_int {i}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Crash,
    LinkDown,
    Graceful,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Crash => "crash (SIGKILL)",
            Self::LinkDown => "link down",
            Self::Graceful => "graceful (SIGTERM)",
        }
    }
}

enum Running {
    Ours(Proc),
    Keepalived(Keepalived),
}

impl Running {
    fn log(&self) -> &Proc {
        match self {
            Self::Ours(p) => p,
            Self::Keepalived(k) => &k.parent,
        }
    }
}

fn start(lab: &Lab, bin: &str, imp: Impl, node: usize, priority: u8) -> Running {
    match imp {
        Impl::Ours(interval) => Running::Ours(lab.spawn_node(
            bin,
            node,
            &[
                "--priority",
                &priority.to_string(),
                "--advert-interval",
                interval,
            ],
        )),
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

fn one_run(bin: &str, imp: Impl, sc: Scenario, run: usize) -> Result<Sample, String> {
    let lab = Lab::new(&format!("b{run}"), 2);
    let addr = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, PORT);
    let mut api_a = Some(Listener::start(
        lab.ns(0),
        addr,
        &lab.nodes[0].ip.to_string(),
    ));
    let _api_b = Listener::start(lab.ns(1), addr, &lab.nodes[1].ip.to_string());
    let mut a = start(&lab, bin, imp, 0, 150);
    let b = start(&lab, bin, imp, 1, 100);
    let ready = lab::wait_for(Duration::from_secs(15), Duration::from_millis(20), || {
        (lab.holders() == [0]).then_some(())
    });
    if ready.is_none() {
        return Err(format!(
            "no single holder at start\n{}",
            lab.dump(&[a.log(), b.log()])
        ));
    }
    let probe = lab.probe(PORT, Duration::from_millis(10));
    let a_ip = lab.nodes[0].ip.to_string();
    let b_ip = lab.nodes[1].ip.to_string();
    probe
        .wait_reply_from(&a_ip, Instant::now(), Duration::from_secs(5))
        .ok_or("client never reached the first holder")?;
    // Let start-up GARP bursts and ARP settle.
    std::thread::sleep(Duration::from_millis(1200));

    let t = Instant::now();
    match (sc, &mut a) {
        (Scenario::Crash, Running::Ours(p)) => {
            p.signal(Signal::SIGKILL);
            api_a = None;
        }
        (Scenario::Crash, Running::Keepalived(k)) => {
            k.crash();
            api_a = None;
        }
        (Scenario::LinkDown, _) => lab.link(0, false),
        (Scenario::Graceful, Running::Ours(p)) => p.signal(Signal::SIGTERM),
        (Scenario::Graceful, Running::Keepalived(k)) => k.terminate(),
    }
    let takeover = lab::wait_for(Duration::from_secs(15), Duration::from_millis(5), || {
        lab.has_vip(1).then(|| t.elapsed())
    })
    .ok_or_else(|| {
        format!(
            "backup never took the VIP\n{}",
            lab.dump(&[a.log(), b.log()])
        )
    })?;
    probe
        .wait_reply_from(&b_ip, t, Duration::from_secs(15))
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
    let mut bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("vrrp-node")))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--vrrp-node" => bin = args.next().unwrap_or(bin),
            "--only" => only = args.next(),
            other => {
                eprintln!(
                    "unknown argument {other}; usage: failover_bench [--runs N] [--vrrp-node PATH] [--only TEXT]"
                );
                std::process::exit(2);
            }
        }
    }
    if !prerequisites("failover_bench", &["ip", "keepalived"]) {
        std::process::exit(1);
    }
    assert!(
        std::path::Path::new(&bin).is_file(),
        "vrrp-node not found at {bin}; build it or pass --vrrp-node"
    );
    let impls = [
        Impl::Ours("100ms"),
        Impl::Ours("10ms"),
        Impl::Ours("1s"),
        Impl::Keepalived("1"),
        Impl::Keepalived("0.1"),
        Impl::Keepalived("0.01"),
    ];
    let scenarios = [Scenario::Crash, Scenario::LinkDown, Scenario::Graceful];
    let mut rows = Vec::new();
    for imp in impls {
        if only.as_deref().is_some_and(|o| !imp.name().contains(o)) {
            continue;
        }
        for sc in scenarios {
            let mut takeovers = Vec::new();
            let mut outages = Vec::new();
            let mut failures = 0;
            for run in 0..runs {
                match one_run(&bin, imp, sc, run) {
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
