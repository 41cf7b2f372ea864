//! The virtual IP in `edged server`: glue from the `vrrp` crate to the
//! server. Chooses and checks the interface at start, opens the Linux
//! transport, runs one [`vrrp::Instance`], feeds it the local API's readiness
//! as its health check, and resigns (priority 0) on shutdown.
//!
//! Health: every advert interval (at most ten times a second, since each
//! check is a datastore round trip) the server's own readiness
//! ([`crate::apiserver::supervisor::Supervisor::readiness`], in process) is
//! checked; after [`HEALTH`]`.fall` failures in a row the advertised priority
//! drops to 1, so any ready server takes the VIP, and it comes back after
//! `rise` good checks. A server starts as failing, so a booting server does
//! not take the VIP from a ready one, while a lone booting server still holds
//! it (the weight lowers priority, it never forbids).
//!
//! Owns: the VRRP task, the health-check task and the mapping of the crate's
//! errors onto `edged`'s flag names. Must not: implement protocol rules (the
//! crate does) or decide the server's start-up order (`server` calls
//! [`Vip::start`] first and [`Vip::resign`] before the API listener closes).

pub mod interfaces;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vrrp::config::ConfigError;
use vrrp::net::NetOps;
use vrrp::net::linux::LinuxNet;
use vrrp::{HealthConfig, Instance, VrrpConfig};

use edge_config::server::VipConfig;

/// Health tracking of the local API: 3 failed checks in a row lower the
/// priority, 2 good ones restore it. The weight takes any configured
/// priority (1..=254) down to 1, below every ready server.
pub const HEALTH: HealthConfig = HealthConfig {
    fall: 3,
    rise: 2,
    weight: 253,
    start_failing: true,
};

/// Health checks run every advert interval but no more often than this:
/// each one asks the datastore.
pub const MIN_HEALTH_PERIOD: Duration = Duration::from_millis(100);

/// A health check may take this long even with short advert intervals
/// (a datastore round trip on a busy board); slower counts as a failure.
pub const MIN_CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a resign (priority 0 advert, VIP removal) may take at shutdown.
pub const RESIGN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the virtual IP could not be started. Each message names the `edged`
/// flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    #[error(
        "--vip-interface {interface}: no such interface in this network namespace \
         (there are: {available}); see `ip link`"
    )]
    NoSuchInterface {
        interface: String,
        available: String,
    },
    #[error(
        "--vip {vip} is not inside any IPv4 subnet of --vip-interface {interface} \
         (its addresses: {addresses}); use a free address of one of those subnets, \
         or set --vip-interface to the interface on the VIP's subnet"
    )]
    NotOnSubnet {
        vip: Ipv4Addr,
        interface: String,
        addresses: String,
    },
    #[error(
        "--vip {vip} is the address of interface {interface} (/{prefix}) itself, not a \
         free one; pick an unused address of that subnet"
    )]
    VipIsInterfaceAddress {
        vip: Ipv4Addr,
        interface: String,
        prefix: u8,
    },
    #[error(
        "--vip-interface {interface} has no IPv4 address; VRRP sends its adverts from \
         the interface's own address (add one, e.g. `ip addr add 10.0.0.2/24 dev {interface}`)"
    )]
    NoIpv4Address { interface: String },
    #[error(
        "--vip {vip}: no interface has an IPv4 subnet holding it ({interfaces}); \
         set --vip-interface, or pick a VIP on one of those subnets"
    )]
    CannotInfer { vip: Ipv4Addr, interfaces: String },
    #[error(
        "--vip {vip} is inside the subnets of several interfaces ({interfaces}); \
         choose one with --vip-interface"
    )]
    Ambiguous { vip: Ipv4Addr, interfaces: String },
    #[error("invalid {flag} `{value}`: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
    // The causes below are part of the message, not `#[source]`s, so a
    // `{:#}` chain does not print them twice.
    #[error("cannot list the network interfaces: {0}")]
    ListInterfaces(nix::Error),
    #[error("virtual IP (--vip): {0}")]
    Vrrp(vrrp::Error),
    #[error(
        "cannot listen on {address} for the virtual IP: {error} \
         (is another server running? choose another --https-listen-port)"
    )]
    Listen {
        address: SocketAddr,
        error: std::io::Error,
    },
}

impl From<vrrp::Error> for VipError {
    fn from(e: vrrp::Error) -> Self {
        Self::Vrrp(e)
    }
}

/// The `edged` flag behind a field of [`VrrpConfig`].
fn flag_of(field: &str) -> &'static str {
    match field {
        "interface" => "--vip-interface",
        "vrid" => "--vrrp-id",
        "priority" => "--vrrp-priority",
        "advert-interval" => "--vrrp-advert-interval",
        "unicast-peers" => "--vrrp-unicast-peer",
        "checksum" => "--vrrp-checksum",
        _ => "--vip",
    }
}

impl VipError {
    /// The crate's configuration error, with `edged`'s flag name.
    pub fn from_config(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid {
                field,
                value,
                reason,
            } => Self::Invalid {
                flag: flag_of(field),
                value,
                reason,
            },
            ConfigError::VipNotOnSubnet {
                vip,
                interface,
                addresses,
            } => Self::NotOnSubnet {
                vip,
                interface,
                addresses,
            },
            ConfigError::VipIsInterfaceAddress {
                vip,
                interface,
                prefix,
            } => Self::VipIsInterfaceAddress {
                vip,
                interface,
                prefix,
            },
            ConfigError::NoIpv4Address { interface } => Self::NoIpv4Address { interface },
        }
    }
}

/// Readiness of the local API, as the supervisor reports it.
pub type Readiness = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The VRRP configuration for `cfg` on the chosen interface: this server's
/// own addresses are dropped from the unicast peers (a site-wide list may
/// name every server), and the API's readiness is the health check.
pub fn vrrp_config(cfg: &VipConfig, chosen: &interfaces::Chosen) -> VrrpConfig {
    let mut v = VrrpConfig::new(chosen.name.clone(), cfg.vip, cfg.vrid);
    v.priority = cfg.priority;
    v.advert_interval = cfg.advert_interval;
    v.checksum = cfg.checksum;
    v.unicast_peers = cfg
        .unicast_peers
        .iter()
        .copied()
        .filter(|p| !chosen.own.contains(p))
        .collect();
    v.health = Some(HEALTH);
    v
}

/// A running VRRP instance for this server's VIP.
pub struct Vip {
    handle: vrrp::Handle,
    run: Option<JoinHandle<Result<(), vrrp::Error>>>,
    health: JoinHandle<()>,
    readiness: watch::Sender<Option<Readiness>>,
}

impl std::fmt::Debug for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vip")
            .field("snapshot", &self.handle.snapshot())
            .finish_non_exhaustive()
    }
}

impl Vip {
    /// Checks `cfg` against this host's interfaces, opens the raw sockets
    /// and netlink (CAP_NET_RAW, CAP_NET_ADMIN) and starts competing for the
    /// VIP, as not ready until [`Vip::watch_readiness`] says otherwise.
    pub async fn start(cfg: &VipConfig) -> Result<Self, VipError> {
        let list = interfaces::list()?;
        let chosen = interfaces::choose(cfg.vip, cfg.interface.as_ref(), &list)?;
        let vcfg = vrrp_config(cfg, &chosen);
        vcfg.validate().map_err(VipError::from_config)?;
        let skipped: Vec<Ipv4Addr> = cfg
            .unicast_peers
            .iter()
            .copied()
            .filter(|p| chosen.own.contains(p))
            .collect();
        if !skipped.is_empty() {
            tracing::info!(?skipped, "--vrrp-unicast-peer names this server; skipped");
        }
        tracing::info!(vip = %cfg.vip, interface = %chosen.name, primary = %chosen.primary,
            inferred = cfg.interface.is_none(), "virtual IP interface");
        let net = LinuxNet::open(chosen.name.as_str(), vcfg.unicast_peers.is_empty()).await?;
        Self::spawn(vcfg, net)
    }

    /// Starts `cfg` over any transport (the tests use the crate's fake).
    pub fn spawn<N: NetOps + 'static>(cfg: VrrpConfig, net: N) -> Result<Self, VipError> {
        let every = cfg.advert_interval.duration().max(MIN_HEALTH_PERIOD);
        let (instance, handle) = Instance::new(cfg, net).map_err(VipError::from_config)?;
        let run = tokio::spawn(async move {
            let result = instance.run().await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "VRRP stopped: this server no longer competes for the virtual IP");
            }
            result
        });
        let (readiness, rx) = watch::channel(None);
        let health = tokio::spawn(check_health(handle.clone(), rx, every));
        Ok(Self {
            handle,
            run: Some(run),
            health,
            readiness,
        })
    }

    /// The instance's handle: its [`vrrp::Snapshot`] for the status endpoint.
    pub fn handle(&self) -> vrrp::Handle {
        self.handle.clone()
    }

    /// From now on the health check asks `readiness`.
    pub fn watch_readiness(&self, readiness: Readiness) {
        self.readiness.send_replace(Some(readiness));
    }

    /// Resigns: a master sends priority 0 so a backup takes over after its
    /// skew time, and the VIP is removed. Idempotent; waits at most
    /// [`RESIGN_TIMEOUT`].
    pub async fn resign(&mut self) {
        self.health.abort();
        let Some(run) = self.run.take() else {
            return;
        };
        self.handle.shutdown();
        match tokio::time::timeout(RESIGN_TIMEOUT, run).await {
            Ok(Ok(Ok(()))) => tracing::info!("resigned the virtual IP"),
            // Already logged when it ended.
            Ok(Ok(Err(_))) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the VRRP task failed"),
            Err(_) => tracing::warn!(
                "VRRP did not stop within {RESIGN_TIMEOUT:?}; the VIP may stay until a peer takes it"
            ),
        }
    }
}

impl Drop for Vip {
    fn drop(&mut self) {
        self.health.abort();
        if self.run.is_some() {
            // Best effort without awaiting; `resign` is the orderly way.
            self.handle.shutdown();
        }
    }
}

/// Reports the API's readiness to the instance every `every`, until the
/// instance stops. Nothing to ask yet counts as not ready.
async fn check_health(
    handle: vrrp::Handle,
    readiness: watch::Receiver<Option<Readiness>>,
    every: Duration,
) {
    let limit = every.max(MIN_CHECK_TIMEOUT);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<bool> = None;
    loop {
        tick.tick().await;
        let check = readiness.borrow().clone();
        let result = match check {
            None => Err("the API server is not up yet".to_owned()),
            Some(ready) => match tokio::time::timeout(limit, ready()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {limit:?}")),
            },
        };
        let ok = result.is_ok();
        if last != Some(ok) {
            match &result {
                Ok(()) => tracing::info!("VRRP health check: the API is ready"),
                Err(why) if last.is_some() => {
                    tracing::warn!(reason = %why, "VRRP health check: the API is not ready")
                }
                Err(why) => tracing::info!(reason = %why, "VRRP health check: not ready yet"),
            }
            last = Some(ok);
        }
        if !handle.report_health(ok) {
            return;
        }
    }
}

/// Listens on `address` even while it is not (yet) an address of this host
/// (`IP_FREEBIND`): the API answers on the VIP once this server holds it,
/// when `--bind-address` names one address rather than all.
pub fn listen_nonlocal(address: SocketAddr) -> Result<tokio::net::TcpListener, VipError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |error| VipError::Listen { address, error };
    let sock = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(err)?;
    sock.set_reuse_address(true).map_err(err)?;
    sock.set_freebind_v4(true).map_err(err)?;
    sock.set_nonblocking(true).map_err(err)?;
    sock.bind(&address.into()).map_err(err)?;
    sock.listen(1024).map_err(err)?;
    tokio::net::TcpListener::from_std(sock.into()).map_err(err)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use vrrp::net::InterfaceInfo;
    use vrrp::net::fake::{FakeEvent, FakeNet, FakeWire};
    use vrrp::packet::{Advertisement, ChecksumMode, MULTICAST_GROUP};
    use vrrp::{State, VirtualIp};

    use super::*;

    const ME: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);

    fn vip_config(priority: u64) -> VipConfig {
        VipConfig {
            vip: VirtualIp::new(VIP).expect("vip"),
            interface: None,
            vrid: vrrp::Vrid::new(51).expect("vrid"),
            priority: vrrp::Priority::new(priority).expect("priority"),
            advert_interval: "100ms".parse().expect("interval"),
            unicast_peers: vec![ME, PEER],
            checksum: ChecksumMode::PseudoHeader,
        }
    }

    fn chosen() -> interfaces::Chosen {
        interfaces::Chosen {
            name: "e0".parse().expect("name"),
            own: vec![ME],
            primary: ME,
        }
    }

    fn start(priority: u64) -> (Vip, FakeWire) {
        let (net, wire) = FakeNet::new(InterfaceInfo {
            index: 2,
            mac: [2, 0, 0, 0, 0, 1],
            ipv4: vec![(ME, 24)],
        });
        let vip = Vip::spawn(vrrp_config(&vip_config(priority), &chosen()), net).expect("starts");
        (vip, wire)
    }

    fn flag(ready: Arc<AtomicBool>) -> Readiness {
        Arc::new(move || {
            let ok = ready.load(Ordering::SeqCst);
            Box::pin(async move {
                if ok {
                    Ok(())
                } else {
                    Err("datastore: down".to_owned())
                }
            })
        })
    }

    fn sent_priorities(events: &[FakeEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                FakeEvent::Sent { packet, .. } => {
                    let ip = vrrp::packet::parse_ipv4(packet).expect("own packet parses");
                    Some(Advertisement::decode(ip.payload).expect("decodes").priority)
                }
                _ => None,
            })
            .collect()
    }

    fn advert_from(src: Ipv4Addr, priority: u8) -> Vec<u8> {
        Advertisement {
            vrid: 51,
            priority,
            max_advert_interval: 10,
            addresses: vec![VIP],
        }
        .encode_ipv4(ChecksumMode::PseudoHeader, src, MULTICAST_GROUP)
    }

    async fn sleep_ms(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    #[test]
    fn own_address_is_dropped_from_the_unicast_peers() {
        let v = vrrp_config(&vip_config(100), &chosen());
        assert_eq!(v.unicast_peers, [PEER]);
        assert_eq!(v.health, Some(HEALTH));
        v.validate().expect("valid");
    }

    #[test]
    fn crate_errors_carry_edgeds_flag_names() {
        let mut v = vrrp_config(&vip_config(100), &chosen());
        v.unicast_peers = vec![VIP];
        let e = VipError::from_config(v.validate().expect_err("vip as peer"));
        assert!(
            e.to_string()
                .starts_with("invalid --vrrp-unicast-peer `10.99.0.100`"),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_server_holds_the_vip_before_it_is_ready_at_priority_one() {
        let (vip, wire) = start(150);
        sleep_ms(600).await;
        let s = vip.handle().snapshot();
        assert_eq!(
            s.state,
            State::Master,
            "a lone booting server takes the VIP"
        );
        assert_eq!(s.effective_priority, 1);
        assert!(wire.has_address(VIP));
        // Once the API is ready, rise (2) checks restore the configured priority.
        vip.watch_readiness(flag(Arc::new(AtomicBool::new(true))));
        sleep_ms(300).await;
        assert_eq!(vip.handle().snapshot().effective_priority, 150);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_api_lowers_priority_so_a_ready_peer_wins_and_recovery_restores_it() {
        let ready = Arc::new(AtomicBool::new(true));
        let (vip, wire) = start(150);
        vip.watch_readiness(flag(ready.clone()));
        sleep_ms(600).await;
        let s = vip.handle().snapshot();
        assert_eq!((s.state, s.effective_priority), (State::Master, 150));

        ready.store(false, Ordering::SeqCst);
        sleep_ms(350).await;
        assert_eq!(vip.handle().snapshot().effective_priority, 1);
        wire.take_events();
        sleep_ms(100).await;
        assert_eq!(sent_priorities(&wire.take_events()), [1]);
        // A ready peer at the default priority now wins.
        wire.inject(advert_from(PEER, 100));
        sleep_ms(1).await;
        assert_eq!(vip.handle().snapshot().state, State::Backup);
        assert!(!wire.has_address(VIP));

        ready.store(true, Ordering::SeqCst);
        sleep_ms(250).await;
        assert_eq!(vip.handle().snapshot().effective_priority, 150);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_readiness_answer_counts_as_a_failure() {
        let (vip, _wire) = start(150);
        vip.watch_readiness(Arc::new(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
        }));
        sleep_ms(3000).await;
        let h = vip.handle().snapshot().health.expect("health");
        assert!(
            h.failing && h.checks >= 3 && h.failures == h.checks,
            "{h:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn resign_sends_priority_zero_and_removes_the_vip() {
        let (mut vip, wire) = start(150);
        vip.watch_readiness(flag(Arc::new(AtomicBool::new(true))));
        sleep_ms(600).await;
        assert!(wire.has_address(VIP));
        wire.take_events();
        vip.resign().await;
        let events = wire.take_events();
        assert_eq!(sent_priorities(&events), [0]);
        assert!(events.contains(&FakeEvent::VipRemoved(VIP)));
        assert!(!wire.has_address(VIP));
        // Idempotent.
        vip.resign().await;
        assert!(wire.take_events().is_empty());
    }
}
