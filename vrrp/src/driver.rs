//! The driver loop of one instance: feeds the [`Router`] with time, received
//! packets and commands, and executes its actions through a [`NetOps`].
//!
//! Owns: the event loop, health tracking glue, counters and the published
//! [`Snapshot`]. Must not: implement protocol rules (the router does) or make
//! system calls directly (the `NetOps` does). Time comes from
//! `tokio::time`, so tests run it under a paused clock.

use std::net::Ipv4Addr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::config::{ConfigError, Priority, VrrpConfig, select_primary};
use crate::error::Error;
use crate::health::{Change, HealthTracker};
use crate::machine::{Action, Input, Router, RouterConfig, State};
use crate::net::{NetOps, VipChange};
use crate::packet::{self, Advertisement};
use crate::receive::{self, DropReason, Filter};
use crate::stats::{Counters, Snapshot};

/// Receive buffer: the largest advert is 8 + 4 * 255 bytes plus a 60-byte IP header.
const RECV_BUF: usize = 2048;

enum Command {
    SetPriority(Priority),
    Health(bool),
    Shutdown,
}

/// Controls a running [`Instance`] and reads its status. Cheap to clone.
/// Dropping every handle shuts the instance down gracefully.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Snapshot>,
}

impl Handle {
    /// Changes the configured priority at run time. False if the instance stopped.
    pub fn set_priority(&self, priority: Priority) -> bool {
        self.commands.send(Command::SetPriority(priority)).is_ok()
    }

    /// Reports one health-check result (see [`crate::health`]). Ignored when
    /// the config has no health section.
    pub fn report_health(&self, ok: bool) -> bool {
        self.commands.send(Command::Health(ok)).is_ok()
    }

    /// Resigns (priority 0 if master), removes the VIP and ends [`Instance::run`].
    pub fn shutdown(&self) -> bool {
        self.commands.send(Command::Shutdown).is_ok()
    }

    /// The latest status.
    pub fn snapshot(&self) -> Snapshot {
        self.status.borrow().clone()
    }

    /// A receiver notified on every status change.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.status.clone()
    }
}

/// One VRRP instance on one interface.
#[derive(Debug)]
pub struct Instance<N> {
    cfg: VrrpConfig,
    net: N,
    commands: mpsc::UnboundedReceiver<Command>,
    status: watch::Sender<Snapshot>,
    health: Option<HealthTracker>,
    base_priority: Priority,
    counters: Counters,
    send_failing: bool,
    last_transition_unix_ms: Option<u64>,
}

/// What exists once the interface has been read.
struct Core {
    router: Router,
    primary: Ipv4Addr,
    garp: [u8; packet::GARP_FRAME_LEN],
    filter: Filter,
}

enum Event {
    Command(Option<Command>),
    Packet(Result<usize, Error>),
    Timer,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<N: NetOps> Instance<N> {
    /// Validates `cfg` and prepares an instance over `net`. Nothing happens
    /// until [`Instance::run`] is awaited.
    pub fn new(cfg: VrrpConfig, net: N) -> Result<(Self, Handle), ConfigError> {
        cfg.validate()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let health = cfg.health.map(HealthTracker::new);
        let base_priority = cfg.priority;
        let this = Self {
            net,
            commands: rx,
            status: watch::Sender::new(placeholder_snapshot(&cfg)),
            health,
            base_priority,
            counters: Counters::default(),
            send_failing: false,
            last_transition_unix_ms: None,
            cfg,
        };
        let status = this.status.subscribe();
        this.status.send_replace(this.snapshot(None));
        Ok((
            this,
            Handle {
                commands: tx,
                status,
            },
        ))
    }

    fn effective_priority(&self) -> u8 {
        let base = self.base_priority.get();
        self.health
            .as_ref()
            .map_or(base, |h| h.effective_priority(base))
    }

    /// Runs until [`Handle::shutdown`] (or every handle is dropped): reads the
    /// interface, removes a stale VIP, then elects. On shutdown a master sends
    /// priority 0 and removes the VIP. Dropping the future instead skips that.
    pub async fn run(mut self) -> Result<(), Error> {
        let info = self.net.interface_info().await?;
        let vip = self.cfg.vip.addr();
        let primary = select_primary(self.cfg.vip, self.cfg.interface.as_str(), &info.ipv4)?;
        match self.net.remove_vip(vip).await? {
            VipChange::Changed => warn!(%vip, interface = %self.cfg.interface,
                "removed a stale virtual IP left by an earlier run"),
            VipChange::Unchanged => {}
        }
        let router = Router::new(RouterConfig {
            vrid: self.cfg.vrid.get(),
            priority: self.effective_priority(),
            advert_interval_cs: self.cfg.advert_interval.centiseconds(),
            preempt: self.cfg.preempt,
            primary_address: primary,
            garp_repeat: Some(self.cfg.garp_repeat_after.0).filter(|d| !d.is_zero()),
            garp_lower_priority_holdoff: self.cfg.advert_interval.duration(),
        });
        let mut core = Core {
            router,
            primary,
            garp: packet::gratuitous_arp(info.mac, vip),
            filter: Filter {
                vrid: Some(self.cfg.vrid.get()),
                own: info
                    .ipv4
                    .iter()
                    .map(|(a, _)| *a)
                    .filter(|a| *a != vip)
                    .collect(),
                peers: self.cfg.unicast_peers.clone(),
                vip: Some(vip),
            },
        };
        info!(interface = %self.cfg.interface, %vip, vrid = %self.cfg.vrid, %primary,
            priority = core.router.priority(), interval = %self.cfg.advert_interval,
            checksum = %self.cfg.checksum, peers = ?self.cfg.unicast_peers, "vrrp starting");
        self.feed(&mut core, Input::Startup).await;
        self.publish(&core);

        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let deadline = core.router.poll_timeout();
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                biased;
                c = self.commands.recv() => Event::Command(c),
                p = self.net.recv_packet(&mut buf) => Event::Packet(p),
                () = timer => Event::Timer,
            };
            match event {
                Event::Command(None | Some(Command::Shutdown)) => break,
                Event::Command(Some(c)) => self.command(&mut core, c).await,
                Event::Packet(Ok(n)) => self.packet(&mut core, &buf[..n.min(RECV_BUF)]).await,
                Event::Packet(Err(e)) => {
                    self.counters.receive_errors += 1;
                    warn!(error = %e, "receive failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Event::Timer => self.feed(&mut core, Input::Timer).await,
            }
            self.publish(&core);
        }
        self.feed(&mut core, Input::Shutdown).await;
        self.publish(&core);
        info!("vrrp stopped");
        Ok(())
    }

    async fn command(&mut self, core: &mut Core, c: Command) {
        match c {
            Command::SetPriority(p) => {
                info!(priority = %p, "configured priority changed");
                self.base_priority = p;
            }
            Command::Health(ok) => {
                let Some(h) = self.health.as_mut() else {
                    return;
                };
                match h.record(ok) {
                    Some(Change::Failed) => {
                        warn!("health check failing: lowering priority by the configured weight")
                    }
                    Some(Change::Recovered) => info!("health check recovered: priority restored"),
                    None => {}
                }
            }
            Command::Shutdown => {}
        }
        let p = self.effective_priority();
        if p != core.router.priority() {
            info!(
                from = core.router.priority(),
                to = p,
                "effective priority changed"
            );
            self.feed(core, Input::SetPriority(p)).await;
        }
    }

    async fn packet(&mut self, core: &mut Core, raw: &[u8]) {
        match receive::classify(raw, &core.filter) {
            Ok(rx) => {
                self.counters.adverts_received += 1;
                self.counters.count_checksum(rx.checksum);
                if rx.advert.priority == 0 {
                    self.counters.priority_zero_received += 1;
                }
                if !rx.addresses_match {
                    self.counters.address_list_mismatch += 1;
                    debug!(source = %rx.source, addresses = ?rx.advert.addresses,
                        "advert lists other addresses than our VIP");
                }
                let input = Input::Advert {
                    source: rx.source,
                    priority: rx.advert.priority,
                    max_advert_interval_cs: rx.advert.max_advert_interval,
                };
                self.feed(core, input).await;
            }
            Err(d) => {
                self.counters.dropped.count(d.reason);
                if d.reason != DropReason::OwnPacket {
                    debug!(reason = d.reason.as_str(), detail = ?d.detail, "dropped packet");
                }
            }
        }
    }

    async fn feed(&mut self, core: &mut Core, input: Input) {
        let actions = core.router.handle(now(), input);
        for a in actions {
            self.execute(core, a).await;
        }
    }

    async fn execute(&mut self, core: &mut Core, action: Action) {
        let vip = self.cfg.vip.addr();
        match action {
            Action::SendAdvert { priority } => {
                let advert = Advertisement {
                    vrid: self.cfg.vrid.get(),
                    priority,
                    max_advert_interval: self.cfg.advert_interval.centiseconds(),
                    addresses: vec![vip],
                };
                let group = [packet::MULTICAST_GROUP];
                let dsts: &[Ipv4Addr] = if self.cfg.unicast_peers.is_empty() {
                    &group
                } else {
                    &self.cfg.unicast_peers
                };
                for &dst in dsts {
                    let pkt = advert.encode_ipv4(self.cfg.checksum, core.primary, dst);
                    match self.net.send_packet(dst, &pkt) {
                        Ok(()) => {
                            self.counters.adverts_sent += 1;
                            if priority == 0 {
                                self.counters.priority_zero_sent += 1;
                            }
                            if self.send_failing {
                                self.send_failing = false;
                                info!(%dst, "sending adverts works again");
                            }
                        }
                        Err(e) => {
                            self.counters.send_errors += 1;
                            if !self.send_failing {
                                self.send_failing = true;
                                warn!(error = %e, "sending an advert failed (logged once until it works again)");
                            }
                        }
                    }
                }
            }
            Action::AddVip => match self.net.add_vip(vip).await {
                Ok(VipChange::Changed) => info!(%vip, "virtual IP added"),
                Ok(VipChange::Unchanged) => info!(%vip, "virtual IP was already present"),
                Err(e) => {
                    self.counters.vip_errors += 1;
                    error!(error = %e, "adding the virtual IP failed");
                }
            },
            Action::RemoveVip => match self.net.remove_vip(vip).await {
                Ok(VipChange::Changed) => info!(%vip, "virtual IP removed"),
                Ok(VipChange::Unchanged) => debug!(%vip, "virtual IP was not present"),
                Err(e) => {
                    self.counters.vip_errors += 1;
                    error!(error = %e, "removing the virtual IP failed");
                }
            },
            Action::SendGarp => {
                for _ in 0..self.cfg.garp_count {
                    match self.net.send_frame(&core.garp) {
                        Ok(()) => self.counters.garp_sent += 1,
                        Err(e) => {
                            self.counters.send_errors += 1;
                            debug!(error = %e, "gratuitous ARP failed");
                        }
                    }
                }
            }
            Action::Transition { from, to, reason } => {
                self.last_transition_unix_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_millis() as u64);
                let master = core.router.master().map(|m| m.address);
                info!(%from, %to, ?reason, priority = core.router.priority(),
                    master = ?master, "vrrp state change");
            }
        }
    }

    fn snapshot(&self, core: Option<&Core>) -> Snapshot {
        Snapshot {
            interface: self.cfg.interface.to_string(),
            vip: self.cfg.vip.addr(),
            vrid: self.cfg.vrid.get(),
            primary_address: core.map(|c| c.primary),
            state: core.map_or(State::Initialize, |c| c.router.state()),
            master: core.and_then(|c| c.router.master()),
            configured_priority: self.base_priority.get(),
            effective_priority: self.effective_priority(),
            advert_interval_ms: self.cfg.advert_interval.duration().as_millis() as u64,
            checksum: self.cfg.checksum,
            unicast_peers: self.cfg.unicast_peers.clone(),
            transitions: core.map_or(0, |c| c.router.transitions()),
            last_transition_unix_ms: self.last_transition_unix_ms,
            health: self.health.as_ref().map(HealthTracker::status),
            counters: self.counters.clone(),
        }
    }

    fn publish(&self, core: &Core) {
        let snap = self.snapshot(Some(core));
        self.status.send_if_modified(|cur| {
            if *cur == snap {
                false
            } else {
                *cur = snap;
                true
            }
        });
    }
}

fn placeholder_snapshot(cfg: &VrrpConfig) -> Snapshot {
    Snapshot {
        interface: cfg.interface.to_string(),
        vip: cfg.vip.addr(),
        vrid: cfg.vrid.get(),
        primary_address: None,
        state: State::Initialize,
        master: None,
        configured_priority: cfg.priority.get(),
        effective_priority: cfg.priority.get(),
        advert_interval_ms: cfg.advert_interval.duration().as_millis() as u64,
        checksum: cfg.checksum,
        unicast_peers: cfg.unicast_peers.clone(),
        transitions: 0,
        last_transition_unix_ms: None,
        health: None,
        counters: Counters::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{HealthConfig, VirtualIp, Vrid};
    use crate::net::InterfaceInfo;
    use crate::net::fake::{FakeEvent, FakeNet, FakeWire};
    use crate::packet::{ChecksumMode, MULTICAST_GROUP};

    const ME: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 3);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn cfg() -> VrrpConfig {
        let mut c = VrrpConfig::new(
            "e0".parse().expect("name"),
            VirtualIp::new(VIP).expect("vip"),
            Vrid::new(51).expect("vrid"),
        );
        c.advert_interval = "100ms".parse().expect("interval");
        c.garp_count = 3;
        c
    }

    fn start(c: VrrpConfig) -> (Handle, FakeWire, tokio::task::JoinHandle<Result<(), Error>>) {
        let (net, wire) = FakeNet::new(InterfaceInfo {
            index: 2,
            mac: MAC,
            ipv4: vec![(ME, 24)],
        });
        let (inst, handle) = Instance::new(c, net).expect("valid config");
        (handle, wire, tokio::spawn(inst.run()))
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

    fn sent_priorities(events: &[FakeEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                FakeEvent::Sent { packet, .. } => {
                    let ip = packet::parse_ipv4(packet).expect("own packet parses");
                    Some(Advertisement::decode(ip.payload).expect("decodes").priority)
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn lone_node_takes_over_after_master_down_interval() {
        let (handle, wire, _task) = start(cfg());
        // Master_Down_Interval at priority 100 and 10 cs: 36 cs.
        sleep_ms(350).await;
        assert_eq!(handle.snapshot().state, State::Backup);
        assert!(!wire.has_address(VIP));
        sleep_ms(20).await;
        let s = handle.snapshot();
        assert_eq!(s.state, State::Master);
        assert_eq!(s.master.map(|m| m.address), Some(ME));
        assert!(wire.has_address(VIP));
        let ev = wire.take_events();
        // Stale-VIP cleanup first, then advert, VIP, GARP burst.
        assert_eq!(ev[0], FakeEvent::VipRemoved(VIP));
        let FakeEvent::Sent { dst, packet } = &ev[1] else {
            panic!("expected an advert, got {:?}", ev[1]);
        };
        assert_eq!(*dst, MULTICAST_GROUP);
        let ip = packet::parse_ipv4(packet).expect("parses");
        assert_eq!((ip.src, ip.dst, ip.ttl), (ME, MULTICAST_GROUP, 255));
        assert_eq!(
            packet::checksum_form(ip.payload, ip.src, ip.dst),
            Some(ChecksumMode::PseudoHeader)
        );
        assert_eq!(ev[2], FakeEvent::VipAdded(VIP));
        let garps = ev
            .iter()
            .filter(|e| matches!(e, FakeEvent::Frame(_)))
            .count();
        assert_eq!(garps, 3);
        assert_eq!(
            ev.iter().find(|e| matches!(e, FakeEvent::Frame(_))),
            Some(&FakeEvent::Frame(packet::gratuitous_arp(MAC, VIP).to_vec()))
        );
        // Then adverts every 100 ms.
        sleep_ms(1000).await;
        assert_eq!(sent_priorities(&wire.take_events()).len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_vip_is_removed_at_start() {
        let (net, wire) = FakeNet::new(InterfaceInfo {
            index: 2,
            mac: MAC,
            ipv4: vec![(ME, 24)],
        });
        wire.state().addresses.insert(VIP);
        let (inst, handle) = Instance::new(cfg(), net).expect("valid");
        let _task = tokio::spawn(inst.run());
        sleep_ms(10).await;
        assert!(!wire.has_address(VIP));
        assert_eq!(handle.snapshot().state, State::Backup);
    }

    #[tokio::test(start_paused = true)]
    async fn higher_priority_peer_keeps_us_backup_and_takes_vip_away() {
        let (handle, wire, _task) = start(cfg());
        sleep_ms(400).await;
        assert!(wire.has_address(VIP));
        wire.inject(advert_from(PEER, 200));
        sleep_ms(1).await;
        let s = handle.snapshot();
        assert_eq!(s.state, State::Backup);
        assert_eq!(s.master.map(|m| (m.address, m.priority)), Some((PEER, 200)));
        assert!(!wire.has_address(VIP));
        // Keep the peer alive: we stay backup.
        for _ in 0..10 {
            sleep_ms(100).await;
            wire.inject(advert_from(PEER, 200));
        }
        assert_eq!(handle.snapshot().state, State::Backup);
        // The peer resigns: we take over after the skew (6 cs), not 36 cs.
        wire.take_events();
        wire.inject(advert_from(PEER, 0));
        sleep_ms(50).await;
        assert_eq!(handle.snapshot().state, State::Backup);
        sleep_ms(20).await;
        assert_eq!(handle.snapshot().state, State::Master);
        assert_eq!(handle.snapshot().counters.priority_zero_received, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn bad_packets_are_counted_by_reason_and_change_nothing() {
        let (handle, wire, _task) = start(cfg());
        sleep_ms(400).await;
        assert_eq!(handle.snapshot().state, State::Master);
        let good = advert_from(PEER, 200);
        let mut ttl = good.clone();
        ttl[8] = 64;
        let mut sum = good.clone();
        sum[26] ^= 0xff;
        let foreign = Advertisement {
            vrid: 52,
            priority: 200,
            max_advert_interval: 10,
            addresses: vec![VIP],
        }
        .encode_ipv4(ChecksumMode::PseudoHeader, PEER, MULTICAST_GROUP);
        let own = advert_from(ME, 200);
        for p in [vec![0x45; 3], good[..25].to_vec(), ttl, sum, foreign, own] {
            wire.inject(p);
        }
        sleep_ms(1).await;
        let s = handle.snapshot();
        assert_eq!(s.state, State::Master, "nothing valid arrived");
        let d = &s.counters.dropped;
        assert_eq!(
            (d.malformed, d.ttl, d.checksum, d.foreign_vrid, d.own_packet),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(s.counters.adverts_received, 0);
        // Snapshot serialises for `edgectl status`.
        let json = serde_json::to_value(&s).expect("serialises");
        assert_eq!(json["state"], "master");
        assert_eq!(json["counters"]["dropped"]["foreign-vrid"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn message_only_peer_is_accepted_and_counted() {
        let (handle, wire, _task) = start(cfg());
        let p = Advertisement {
            vrid: 51,
            priority: 200,
            max_advert_interval: 10,
            addresses: vec![VIP],
        }
        .encode_ipv4(ChecksumMode::MessageOnly, PEER, MULTICAST_GROUP);
        wire.inject(p);
        sleep_ms(1).await;
        let s = handle.snapshot();
        assert_eq!(s.counters.checksum_message_only_received, 1);
        assert_eq!(s.master.map(|m| m.address), Some(PEER));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_as_master_resigns_with_priority_zero_and_removes_vip() {
        let (handle, wire, task) = start(cfg());
        sleep_ms(400).await;
        wire.take_events();
        handle.shutdown();
        task.await.expect("joins").expect("runs");
        let ev = wire.take_events();
        assert_eq!(sent_priorities(&ev), vec![0]);
        assert!(ev.contains(&FakeEvent::VipRemoved(VIP)));
        assert!(!wire.has_address(VIP));
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_every_handle_also_shuts_down() {
        let (handle, wire, task) = start(cfg());
        sleep_ms(400).await;
        drop(handle);
        task.await.expect("joins").expect("runs");
        assert!(!wire.has_address(VIP));
    }

    #[tokio::test(start_paused = true)]
    async fn failing_health_lowers_priority_but_a_lone_node_keeps_the_vip() {
        let mut c = cfg();
        c.priority = Priority::new(150).expect("p");
        c.health = Some(HealthConfig {
            fall: 2,
            rise: 2,
            weight: 100,
            start_failing: true,
        });
        let (handle, wire, _task) = start(c);
        assert_eq!(handle.snapshot().effective_priority, 50);
        sleep_ms(500).await;
        assert_eq!(
            handle.snapshot().state,
            State::Master,
            "lone node holds the VIP"
        );
        wire.take_events();
        sleep_ms(100).await;
        assert_eq!(sent_priorities(&wire.take_events()), vec![50]);
        handle.report_health(true);
        handle.report_health(true);
        sleep_ms(100).await;
        assert_eq!(handle.snapshot().effective_priority, 150);
        assert_eq!(sent_priorities(&wire.take_events()), vec![150]);
        handle.report_health(false);
        handle.report_health(false);
        sleep_ms(100).await;
        assert_eq!(sent_priorities(&wire.take_events()), vec![50]);
        // A healthy peer at 100 now wins the election.
        wire.inject(advert_from(PEER, 100));
        sleep_ms(1).await;
        assert_eq!(handle.snapshot().state, State::Backup);
        assert!(!wire.has_address(VIP));
        // Run-time priority change (operator) above the peer: preempt back
        // once the peer's adverts no longer reset our down timer.
        handle.set_priority(Priority::new(254).expect("p"));
        sleep_ms(1).await;
        assert_eq!(handle.snapshot().effective_priority, 154);
        for _ in 0..3 {
            wire.inject(advert_from(PEER, 100));
            sleep_ms(100).await;
        }
        sleep_ms(400).await;
        assert_eq!(handle.snapshot().state, State::Master);
    }

    #[tokio::test(start_paused = true)]
    async fn unicast_peers_get_adverts_and_strangers_are_dropped() {
        let mut c = cfg();
        c.unicast_peers = vec![PEER, Ipv4Addr::new(10, 99, 0, 4)];
        let (handle, wire, _task) = start(c);
        wire.inject(advert_from(Ipv4Addr::new(10, 99, 0, 9), 200));
        sleep_ms(400).await;
        let s = handle.snapshot();
        assert_eq!(s.counters.dropped.unknown_peer, 1);
        assert_eq!(s.state, State::Master);
        let dsts: Vec<_> = wire
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                FakeEvent::Sent { dst, .. } => Some(dst),
                _ => None,
            })
            .collect();
        assert_eq!(&dsts[..2], &[PEER, Ipv4Addr::new(10, 99, 0, 4)]);
    }

    #[tokio::test(start_paused = true)]
    async fn send_errors_are_counted_not_fatal() {
        let (handle, wire, task) = start(cfg());
        wire.state().fail_sends = Some(libc::ENETDOWN);
        sleep_ms(600).await;
        let s = handle.snapshot();
        assert_eq!(s.state, State::Master);
        assert!(s.counters.send_errors >= 2, "{:?}", s.counters);
        wire.state().fail_sends = None;
        sleep_ms(200).await;
        assert!(handle.snapshot().counters.adverts_sent >= 1);
        assert!(!task.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn vip_off_the_interface_subnet_fails_naming_the_field() {
        let mut c = cfg();
        c.vip = VirtualIp::new(Ipv4Addr::new(192, 168, 7, 1)).expect("vip");
        let (_handle, _wire, task) = start(c);
        let e = task.await.expect("joins").expect_err("off subnet");
        assert!(
            e.to_string().starts_with("vip: 192.168.7.1 is not inside"),
            "{e}"
        );
    }
}
