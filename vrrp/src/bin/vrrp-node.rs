//! `vrrp-node`: runs one VRRPv3 instance from the command line. A test and
//! benchmark vehicle for the `vrrp` crate and a stand-in for `edged server`'s
//! VIP: optional TCP health check, optional trivial TCP service, resigns with
//! priority 0 on SIGTERM or SIGINT.
//!
//! Owns: flag parsing, logging set-up, the health-check and demo-service
//! tasks. Must not: hold protocol logic (the crate does).

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};
use vrrp::config::HumanDuration;
use vrrp::net::linux::LinuxNet;
use vrrp::{
    AdvertInterval, ChecksumMode, HealthConfig, Instance, InterfaceName, Priority, VirtualIp, Vrid,
    VrrpConfig,
};

/// Hold a virtual IPv4 address with VRRPv3 (RFC 5798 / 9568) on one interface.
///
/// Needs CAP_NET_RAW and CAP_NET_ADMIN. Logs go to stderr (RUST_LOG filters).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Interface to run on; the VIP must be inside one of its IPv4 subnets.
    #[arg(long)]
    interface: InterfaceName,
    /// The virtual IPv4 address, added as /32 while master.
    #[arg(long)]
    vip: VirtualIp,
    /// Virtual router id, 1-255, the same on every peer.
    #[arg(long)]
    vrid: Vrid,
    /// Priority 1-254; the highest healthy node holds the VIP.
    #[arg(long, default_value_t = Priority::DEFAULT)]
    priority: Priority,
    /// Advertisement interval: 10ms..40950ms in steps of 10ms (e.g. 100ms, 1s).
    #[arg(long, default_value_t = AdvertInterval::DEFAULT)]
    advert_interval: AdvertInterval,
    /// Send adverts to this peer instead of multicast 224.0.0.18 (repeatable).
    #[arg(long = "unicast-peer", value_name = "IPV4")]
    unicast_peers: Vec<Ipv4Addr>,
    /// Checksum form to send: pseudo-header (keepalived) or message-only (RFC 9568).
    /// Both are accepted.
    #[arg(long, default_value_t = ChecksumMode::PseudoHeader)]
    checksum: ChecksumMode,
    /// Do not take over from a lower-priority master.
    #[arg(long)]
    no_preempt: bool,
    /// Health check: a TCP connect to ADDR:PORT must succeed.
    #[arg(long, value_name = "ADDR:PORT")]
    health_tcp: Option<SocketAddr>,
    /// Time between health checks (also the connect timeout).
    #[arg(long, default_value = "200ms")]
    health_interval: HumanDuration,
    /// Failed checks in a row before the priority drops.
    #[arg(long, default_value_t = 3)]
    health_fall: u32,
    /// Good checks in a row before it is restored.
    #[arg(long, default_value_t = 2)]
    health_rise: u32,
    /// How much the priority drops while the check fails.
    #[arg(long, default_value_t = 50)]
    health_weight: u8,
    /// Serve TCP on this port: every connection gets one line with this
    /// node's primary address (a stand-in for the API server in tests).
    #[arg(long, value_name = "PORT")]
    serve_tcp: Option<u16>,
}

fn config(args: &Args) -> VrrpConfig {
    let mut cfg = VrrpConfig::new(args.interface.clone(), args.vip, args.vrid);
    cfg.priority = args.priority;
    cfg.advert_interval = args.advert_interval;
    cfg.unicast_peers = args.unicast_peers.clone();
    cfg.checksum = args.checksum;
    cfg.preempt = !args.no_preempt;
    cfg.health = args.health_tcp.map(|_| HealthConfig {
        fall: args.health_fall,
        rise: args.health_rise,
        weight: args.health_weight,
        start_failing: true,
    });
    cfg
}

async fn serve(port: u16, handle: vrrp::Handle) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        .await
        .with_context(|| format!("listen on TCP port {port}"))?;
    info!(port, "serving TCP");
    loop {
        let (mut stream, _) = listener.accept().await.context("accept")?;
        let who = handle
            .snapshot()
            .primary_address
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        tokio::spawn(async move {
            let _ = stream.write_all(format!("{who}\n").as_bytes()).await;
        });
    }
}

async fn check_health(target: SocketAddr, every: Duration, handle: vrrp::Handle) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ok = matches!(
            tokio::time::timeout(every, tokio::net::TcpStream::connect(target)).await,
            Ok(Ok(_))
        );
        if !handle.report_health(ok) {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let cfg = config(&args);
    let net = LinuxNet::open(cfg.interface.as_str(), cfg.unicast_peers.is_empty())
        .await
        .context("open the network")?;
    let (instance, handle) = Instance::new(cfg, net).context("invalid configuration")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut run = tokio::spawn(instance.run());

    if let Some(port) = args.serve_tcp {
        let h = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(port, h).await {
                warn!(error = format!("{e:#}"), "TCP service stopped");
            }
        });
    }
    if let Some(target) = args.health_tcp {
        tokio::spawn(check_health(target, args.health_interval.0, handle.clone()));
    }

    let finished = tokio::select! {
        r = &mut run => Some(r),
        _ = term.recv() => None,
        _ = int.recv() => None,
    };
    let result = match finished {
        Some(r) => r,
        None => {
            info!("signal received: resigning");
            handle.shutdown();
            run.await
        }
    };
    result.context("vrrp task panicked")??;
    Ok(())
}
