//! The VRRPv3 state machine of RFC 5798 / RFC 9568 §6, sans IO: time and
//! inputs go in, [`Action`]s come out, [`Router::poll_timeout`] says when to
//! call again.
//!
//! Owns: the states, the timers (Adver_Timer, Master_Down_Timer, the
//! gratuitous-ARP repeat), the timer formulas in integer centiseconds, and the
//! election rules (preemption, priority 0, ties broken by the primary address).
//! Must not: read a clock, touch a socket, or know about tokio; the caller
//! passes `now` and executes the actions in order.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Skew_Time in centiseconds: `((256 - Priority) * Master_Adver_Interval) / 256`,
/// integer division as in RFC 9568 §6.1.
pub fn skew_time(priority: u8, master_adver_interval_cs: u16) -> u32 {
    ((256 - u32::from(priority)) * u32::from(master_adver_interval_cs)) / 256
}

/// Master_Down_Interval in centiseconds: `3 * Master_Adver_Interval + Skew_Time`.
pub fn master_down_interval(priority: u8, master_adver_interval_cs: u16) -> u32 {
    3 * u32::from(master_adver_interval_cs) + skew_time(priority, master_adver_interval_cs)
}

/// Centiseconds to a [`Duration`].
pub fn centis(cs: u32) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// RFC 9568 calls Master "Active"; the keepalived and RFC 5798 name is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Initialize,
    Backup,
    Master,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Initialize => "initialize",
            Self::Backup => "backup",
            Self::Master => "master",
        })
    }
}

/// Why a transition happened, for logs and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Startup as the address owner (priority 255).
    Owner,
    /// Startup: wait for a master.
    Startup,
    /// Master_Down_Timer fired: no advert from a master in time.
    MasterDown,
    /// The master resigned (priority 0) and our skew ran out first.
    MasterResigned,
    /// An advert with a higher priority (or equal priority, higher address).
    Preempted,
    /// Shutdown requested.
    Shutdown,
}

/// Static parameters of one virtual router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub vrid: u8,
    /// Our priority at start, 1..=255 (255 = address owner, takes over at once).
    pub priority: u8,
    /// Advertisement_Interval in centiseconds (1..=4095).
    pub advert_interval_cs: u16,
    /// Preempt_Mode: a higher-priority backup takes over from a lower master.
    pub preempt: bool,
    /// Our primary IPv4 address: the advert source and the tie-breaker.
    pub primary_address: Ipv4Addr,
    /// Send a second gratuitous-ARP burst this long after taking over.
    pub garp_repeat: Option<Duration>,
    /// At most one gratuitous-ARP burst per this period in answer to
    /// lower-priority adverts (a second master after a partition heals).
    pub garp_lower_priority_holdoff: Duration,
}

/// What happened, fed to [`Router::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Startup,
    Shutdown,
    /// A timer returned by [`Router::poll_timeout`] may have expired.
    Timer,
    /// A validated advertisement for our VRID from another router.
    Advert {
        source: Ipv4Addr,
        priority: u8,
        max_advert_interval_cs: u16,
    },
    /// Our effective priority changed (health tracking, operator). 1..=255.
    SetPriority(u8),
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority (0 = resign) and our own interval.
    SendAdvert { priority: u8 },
    /// Add the virtual address to the interface.
    AddVip,
    /// Remove the virtual address from the interface.
    RemoveVip,
    /// Send a gratuitous-ARP burst for the virtual address.
    SendGarp,
    /// The state changed (for logs, status and metrics).
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
}

/// The master as seen from this router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MasterInfo {
    pub address: Ipv4Addr,
    pub priority: u8,
    /// Its advertised interval in centiseconds.
    pub advert_interval_cs: u16,
}

/// One VRRP virtual router.
#[derive(Debug, Clone)]
pub struct Router {
    cfg: RouterConfig,
    state: State,
    priority: u8,
    /// Master_Adver_Interval (centiseconds): ours as master, adopted as backup.
    master_adver_interval: u16,
    /// Adver_Timer as master, Master_Down_Timer as backup.
    timer: Option<Instant>,
    garp_repeat_at: Option<Instant>,
    last_garp: Option<Instant>,
    master: Option<MasterInfo>,
    /// As backup: the last advert was a priority-0 resignation.
    master_resigned: bool,
    transitions: u64,
}

impl Router {
    pub fn new(cfg: RouterConfig) -> Self {
        let priority = cfg.priority.max(1);
        let master_adver_interval = cfg.advert_interval_cs.clamp(1, 0x0fff);
        Self {
            cfg,
            state: State::Initialize,
            priority,
            master_adver_interval,
            timer: None,
            garp_repeat_at: None,
            last_garp: None,
            master: None,
            master_resigned: false,
            transitions: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Current effective priority.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// Master_Adver_Interval in centiseconds.
    pub fn master_adver_interval(&self) -> u16 {
        self.master_adver_interval
    }

    /// The current master: us when Master, the last accepted sender when Backup.
    pub fn master(&self) -> Option<MasterInfo> {
        match self.state {
            State::Master => Some(MasterInfo {
                address: self.cfg.primary_address,
                priority: self.priority,
                advert_interval_cs: self.cfg.advert_interval_cs,
            }),
            State::Backup => self.master,
            State::Initialize => None,
        }
    }

    /// Number of transitions since creation.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Skew_Time for our priority and the current Master_Adver_Interval.
    pub fn skew(&self) -> Duration {
        centis(skew_time(self.priority, self.master_adver_interval))
    }

    /// Master_Down_Interval for our priority and the current Master_Adver_Interval.
    pub fn master_down(&self) -> Duration {
        centis(master_down_interval(
            self.priority,
            self.master_adver_interval,
        ))
    }

    /// The earliest instant at which [`Input::Timer`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timer, self.garp_repeat_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn preempt(&self) -> bool {
        self.cfg.preempt || self.priority == 255
    }

    fn advert_interval(&self) -> Duration {
        centis(u32::from(self.cfg.advert_interval_cs))
    }

    fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        self.transitions += 1;
        out.push(Action::Transition { from, to, reason });
    }

    fn become_master(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        self.transition(State::Master, reason, out);
        self.master_adver_interval = self.cfg.advert_interval_cs;
        self.master = None;
        self.master_resigned = false;
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::AddVip);
        out.push(Action::SendGarp);
        self.last_garp = Some(now);
        self.garp_repeat_at = self.cfg.garp_repeat.map(|d| now + d);
        self.timer = Some(now + self.advert_interval());
    }

    fn become_backup(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        let was_master = self.state == State::Master;
        self.transition(State::Backup, reason, out);
        if was_master {
            out.push(Action::RemoveVip);
        }
        self.garp_repeat_at = None;
        self.timer = Some(now + self.master_down());
    }

    /// Feeds one input at `now`; returns the actions to execute in order.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Startup => self.startup(now, &mut out),
            Input::Shutdown => self.shutdown(&mut out),
            Input::Timer => self.timers(now, &mut out),
            Input::Advert {
                source,
                priority,
                max_advert_interval_cs,
            } => self.advert(now, source, priority, max_advert_interval_cs, &mut out),
            Input::SetPriority(p) => {
                // Skew and Master_Down_Interval follow at the next reset; the
                // next advert as master carries the new value.
                self.priority = p.max(1);
            }
        }
        out
    }

    fn startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.priority == 255 {
            self.become_master(now, Reason::Owner, out);
        } else {
            self.master_adver_interval = self.cfg.advert_interval_cs;
            self.become_backup(now, Reason::Startup, out);
        }
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize => return,
            State::Master => {
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::RemoveVip);
            }
            State::Backup => {}
        }
        self.timer = None;
        self.garp_repeat_at = None;
        self.master = None;
        self.transition(State::Initialize, Reason::Shutdown, out);
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.garp_repeat_at.is_some_and(|t| now >= t) {
            self.garp_repeat_at = None;
            if self.state == State::Master {
                out.push(Action::SendGarp);
                self.last_garp = Some(now);
            }
        }
        if self.timer.is_none_or(|t| now < t) {
            return;
        }
        match self.state {
            State::Master => {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.timer = Some(now + self.advert_interval());
            }
            State::Backup => {
                let reason = if self.master_resigned {
                    Reason::MasterResigned
                } else {
                    Reason::MasterDown
                };
                self.become_master(now, reason, out);
            }
            State::Initialize => self.timer = None,
        }
    }

    fn advert(
        &mut self,
        now: Instant,
        source: Ipv4Addr,
        priority: u8,
        interval_cs: u16,
        out: &mut Vec<Action>,
    ) {
        let interval_cs = interval_cs.clamp(1, 0x0fff);
        match self.state {
            State::Initialize => {}
            State::Backup => {
                if priority == 0 {
                    // The master resigned: take over after our skew unless a
                    // higher-priority backup (shorter skew) does first.
                    self.master = None;
                    self.master_resigned = true;
                    self.timer = Some(now + self.skew());
                } else if !self.preempt() || priority >= self.priority {
                    self.master_resigned = false;
                    self.master_adver_interval = interval_cs;
                    self.master = Some(MasterInfo {
                        address: source,
                        priority,
                        advert_interval_cs: interval_cs,
                    });
                    self.timer = Some(now + self.master_down());
                }
                // else: a lower-priority master while we preempt: discard,
                // so our Master_Down_Timer runs out and we take over.
            }
            State::Master => {
                let wins = priority > self.priority
                    || (priority == self.priority
                        && u32::from(source) > u32::from(self.cfg.primary_address));
                if priority == 0 {
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    self.timer = Some(now + self.advert_interval());
                } else if wins {
                    // One last advert at our priority before stepping down
                    // (keepalived's `higher_prio_send_advert`): after a
                    // partition heals, the winner hears a lower-priority
                    // master and answers with gratuitous ARP, so clients that
                    // followed us move back to it.
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    self.master_adver_interval = interval_cs;
                    self.master = Some(MasterInfo {
                        address: source,
                        priority,
                        advert_interval_cs: interval_cs,
                    });
                    self.become_backup(now, Reason::Preempted, out);
                } else {
                    // Another master with a lower priority (a partition healed,
                    // a peer came up as master): answer at once (RFC 9568) so
                    // it steps down, and re-announce the VIP's MAC so clients
                    // that followed the other master come back.
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    self.timer = Some(now + self.advert_interval());
                    let holdoff_over = self
                        .last_garp
                        .is_none_or(|t| now >= t + self.cfg.garp_lower_priority_holdoff);
                    if holdoff_over {
                        out.push(Action::SendGarp);
                        self.last_garp = Some(now);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const LOWER_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const HIGHER_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 3);

    fn cfg(priority: u8) -> RouterConfig {
        RouterConfig {
            vrid: 51,
            priority,
            advert_interval_cs: 100,
            preempt: true,
            primary_address: ME,
            garp_repeat: Some(Duration::from_secs(5)),
            garp_lower_priority_holdoff: Duration::from_secs(1),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn adv(source: Ipv4Addr, priority: u8) -> Input {
        Input::Advert {
            source,
            priority,
            max_advert_interval_cs: 100,
        }
    }

    fn transition(actions: &[Action]) -> Option<(State, State, Reason)> {
        actions.iter().find_map(|a| match a {
            Action::Transition { from, to, reason } => Some((*from, *to, *reason)),
            _ => None,
        })
    }

    /// A router started at t0, now Backup.
    fn backup(priority: u8) -> (Router, Instant) {
        let t0 = Instant::now();
        let mut r = Router::new(cfg(priority));
        let a = r.handle(t0, Input::Startup);
        assert_eq!(
            a,
            vec![Action::Transition {
                from: State::Initialize,
                to: State::Backup,
                reason: Reason::Startup
            }]
        );
        (r, t0)
    }

    /// A router that became Master by its down timer; returns the takeover instant.
    fn master(priority: u8) -> (Router, Instant) {
        let (mut r, t0) = backup(priority);
        let t = r.poll_timeout().expect("down timer");
        assert_eq!(t, t0 + r.master_down());
        r.handle(t, Input::Timer);
        assert_eq!(r.state(), State::Master);
        (r, t)
    }

    #[test]
    fn skew_and_master_down_follow_the_integer_formulas() {
        // reference/vrrp.md: at 100 cs, priority 100 gives 360 cs, 128 gives 350, 254 gives 300.
        assert_eq!(skew_time(100, 100), 60); // 156*100/256 = 60.9 -> 60
        assert_eq!(master_down_interval(100, 100), 360);
        assert_eq!(master_down_interval(128, 100), 350);
        assert_eq!(master_down_interval(254, 100), 300);
        // 100 ms adverts: 10 cs.
        assert_eq!(skew_time(100, 10), 6); // 1560/256 = 6.09
        assert_eq!(master_down_interval(100, 10), 36);
        assert_eq!(skew_time(255, 10), 0); // 10/256
        assert_eq!(skew_time(1, 4095), 4079); // 255*4095/256 = 4079.0
        assert_eq!(master_down_interval(1, 4095), 3 * 4095 + 4079);
        assert_eq!(centis(36), ms(360));
    }

    #[test]
    fn initialize_to_backup_starts_master_down_timer() {
        let (r, t0) = backup(100);
        assert_eq!(r.state(), State::Backup);
        assert_eq!(r.poll_timeout(), Some(t0 + ms(3600)));
        assert_eq!(r.master(), None);
    }

    #[test]
    fn owner_goes_master_at_once() {
        let t0 = Instant::now();
        let mut r = Router::new(cfg(255));
        let a = r.handle(t0, Input::Startup);
        assert_eq!(
            transition(&a),
            Some((State::Initialize, State::Master, Reason::Owner))
        );
        assert!(a.contains(&Action::SendAdvert { priority: 255 }));
        assert_eq!(r.poll_timeout(), Some(t0 + ms(1000)));
    }

    #[test]
    fn backup_to_master_when_down_timer_fires_not_before() {
        let (mut r, t0) = backup(100);
        assert!(r.handle(t0 + ms(3599), Input::Timer).is_empty());
        let a = r.handle(t0 + ms(3600), Input::Timer);
        assert_eq!(
            a,
            vec![
                Action::Transition {
                    from: State::Backup,
                    to: State::Master,
                    reason: Reason::MasterDown
                },
                Action::SendAdvert { priority: 100 },
                Action::AddVip,
                Action::SendGarp,
            ]
        );
        assert_eq!(
            r.master().map(|m| m.address),
            Some(ME),
            "master reports itself"
        );
    }

    #[test]
    fn master_sends_advert_every_interval_and_repeats_garp_once() {
        let (mut r, t) = master(100);
        assert_eq!(r.poll_timeout(), Some(t + ms(1000)));
        assert_eq!(
            r.handle(t + ms(1000), Input::Timer),
            vec![Action::SendAdvert { priority: 100 }]
        );
        for i in 2..=4 {
            r.handle(t + ms(1000 * i), Input::Timer);
        }
        // At 5 s both the advert and the second GARP burst are due.
        let a = r.handle(t + ms(5000), Input::Timer);
        assert_eq!(
            a,
            vec![Action::SendGarp, Action::SendAdvert { priority: 100 }]
        );
        let a = r.handle(t + ms(10_000), Input::Timer);
        assert_eq!(
            a,
            vec![Action::SendAdvert { priority: 100 }],
            "only one repeat"
        );
    }

    #[test]
    fn backup_resets_down_timer_on_equal_or_higher_advert() {
        let (mut r, t0) = backup(100);
        let t = t0 + ms(3000);
        assert!(r.handle(t, adv(HIGHER_IP, 100)).is_empty());
        assert_eq!(r.poll_timeout(), Some(t + ms(3600)));
        assert_eq!(r.master().map(|m| m.address), Some(HIGHER_IP));
        let t = t + ms(1000);
        r.handle(t, adv(LOWER_IP, 200));
        assert_eq!(r.poll_timeout(), Some(t + ms(3600)));
    }

    #[test]
    fn backup_with_preempt_discards_lower_priority_and_takes_over() {
        let (mut r, t0) = backup(150);
        r.handle(t0 + ms(1000), adv(HIGHER_IP, 100));
        r.handle(t0 + ms(2000), adv(HIGHER_IP, 100));
        // Timer still from start-up: (3*100 + (106*100)/256=41) cs = 3.41 s.
        assert_eq!(r.poll_timeout(), Some(t0 + ms(3410)));
        let a = r.handle(t0 + ms(3410), Input::Timer);
        assert_eq!(
            transition(&a),
            Some((State::Backup, State::Master, Reason::MasterDown))
        );
    }

    #[test]
    fn backup_without_preempt_accepts_lower_priority_master() {
        let t0 = Instant::now();
        let mut r = Router::new(RouterConfig {
            preempt: false,
            ..cfg(200)
        });
        r.handle(t0, Input::Startup);
        let t = t0 + ms(3000);
        r.handle(t, adv(HIGHER_IP, 50));
        // Down interval uses our own priority for the skew: 3*100 + 56*100/256 = 321 cs.
        assert_eq!(r.poll_timeout(), Some(t + ms(3210)));
        assert_eq!(r.state(), State::Backup);
    }

    #[test]
    fn backup_adopts_master_advert_interval() {
        let (mut r, t0) = backup(100);
        r.handle(
            t0,
            Input::Advert {
                source: HIGHER_IP,
                priority: 200,
                max_advert_interval_cs: 10,
            },
        );
        assert_eq!(r.master_adver_interval(), 10);
        assert_eq!(r.poll_timeout(), Some(t0 + ms(360)));
        // Once master again, it sends at its own interval.
        r.handle(t0 + ms(360), Input::Timer);
        assert_eq!(r.master_adver_interval(), 100);
        assert_eq!(r.poll_timeout(), Some(t0 + ms(360 + 1000)));
    }

    #[test]
    fn backup_on_priority_zero_waits_only_skew() {
        let (mut r, t0) = backup(100);
        r.handle(t0, adv(HIGHER_IP, 200));
        let t = t0 + ms(500);
        r.handle(t, adv(HIGHER_IP, 0));
        assert_eq!(r.poll_timeout(), Some(t + ms(600)));
        assert_eq!(r.master(), None);
        let a = r.handle(t + ms(600), Input::Timer);
        assert_eq!(
            transition(&a),
            Some((State::Backup, State::Master, Reason::MasterResigned))
        );
    }

    #[test]
    fn master_answers_priority_zero_with_an_advert() {
        let (mut r, t) = master(100);
        let t1 = t + ms(300);
        assert_eq!(
            r.handle(t1, adv(HIGHER_IP, 0)),
            vec![Action::SendAdvert { priority: 100 }]
        );
        assert_eq!(r.poll_timeout(), Some(t1 + ms(1000)));
        assert_eq!(r.state(), State::Master);
    }

    #[test]
    fn master_steps_down_for_higher_priority() {
        let (mut r, t) = master(100);
        let t1 = t + ms(100);
        let a = r.handle(t1, adv(LOWER_IP, 101));
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 100 },
                Action::Transition {
                    from: State::Master,
                    to: State::Backup,
                    reason: Reason::Preempted
                },
                Action::RemoveVip,
            ]
        );
        assert_eq!(r.poll_timeout(), Some(t1 + ms(3600)));
        assert_eq!(r.master().map(|m| m.address), Some(LOWER_IP));
    }

    #[test]
    fn equal_priority_tie_is_broken_by_higher_primary_address() {
        let (mut r, t) = master(100);
        // Lower address, same priority: we stay, answer and re-announce.
        let a = r.handle(t + ms(100), adv(LOWER_IP, 100));
        assert_eq!(a, vec![Action::SendAdvert { priority: 100 }]);
        assert_eq!(r.state(), State::Master);
        // Higher address, same priority: we yield.
        let a = r.handle(t + ms(200), adv(HIGHER_IP, 100));
        assert_eq!(
            transition(&a),
            Some((State::Master, State::Backup, Reason::Preempted))
        );
    }

    #[test]
    fn master_answers_lower_priority_with_advert_and_rate_limited_garp() {
        let (mut r, t) = master(100);
        let t1 = t + ms(1500);
        assert_eq!(
            r.handle(t1, adv(HIGHER_IP, 50)),
            vec![Action::SendAdvert { priority: 100 }, Action::SendGarp]
        );
        assert_eq!(r.poll_timeout(), Some(t1 + ms(1000)));
        // Within the hold-off: advert only.
        assert_eq!(
            r.handle(t1 + ms(500), adv(HIGHER_IP, 50)),
            vec![Action::SendAdvert { priority: 100 }]
        );
    }

    #[test]
    fn master_shutdown_resigns_with_priority_zero() {
        let (mut r, t) = master(100);
        let a = r.handle(t + ms(10), Input::Shutdown);
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 0 },
                Action::RemoveVip,
                Action::Transition {
                    from: State::Master,
                    to: State::Initialize,
                    reason: Reason::Shutdown
                },
            ]
        );
        assert_eq!(r.poll_timeout(), None);
        assert!(r.handle(t + ms(5000), Input::Timer).is_empty());
        assert!(r.handle(t + ms(5000), adv(HIGHER_IP, 200)).is_empty());
    }

    #[test]
    fn backup_shutdown_sends_nothing() {
        let (mut r, t0) = backup(100);
        let a = r.handle(t0, Input::Shutdown);
        assert_eq!(
            transition(&a),
            Some((State::Backup, State::Initialize, Reason::Shutdown))
        );
        assert_eq!(a.len(), 1);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn initialize_ignores_adverts_and_timers() {
        let mut r = Router::new(cfg(100));
        let t0 = Instant::now();
        assert!(r.handle(t0, adv(HIGHER_IP, 200)).is_empty());
        assert!(r.handle(t0, Input::Timer).is_empty());
        assert_eq!(r.state(), State::Initialize);
    }

    #[test]
    fn lowered_priority_lets_a_preempting_backup_win() {
        // Master at 150 drops to 50 (health): its next advert says 50 and a
        // backup at 100 with preempt stops resetting its timer.
        let (mut m, t) = master(150);
        m.handle(t, Input::SetPriority(50));
        assert_eq!(
            m.handle(t + ms(1000), Input::Timer),
            vec![Action::SendAdvert { priority: 50 }]
        );
        let (mut b, t0) = backup(100);
        b.handle(t0, adv(HIGHER_IP, 150));
        let deadline = b.poll_timeout().expect("timer");
        b.handle(t0 + ms(1000), adv(HIGHER_IP, 50));
        assert_eq!(b.poll_timeout(), Some(deadline), "lower advert discarded");
        let a = b.handle(deadline, Input::Timer);
        assert_eq!(
            transition(&a),
            Some((State::Backup, State::Master, Reason::MasterDown))
        );
        // The old master, now at 50, steps down on the new master's advert.
        let a = m.handle(t + ms(5000), adv(LOWER_IP, 100));
        assert_eq!(
            transition(&a),
            Some((State::Master, State::Backup, Reason::Preempted))
        );
    }

    #[test]
    fn priority_change_in_backup_changes_the_next_down_interval() {
        let (mut r, t0) = backup(100);
        r.handle(t0, Input::SetPriority(254));
        r.handle(t0, adv(HIGHER_IP, 254));
        assert_eq!(r.poll_timeout(), Some(t0 + ms(3000)));
        r.handle(t0, Input::SetPriority(0));
        assert_eq!(r.priority(), 1, "0 is reserved for resigning");
    }
}
