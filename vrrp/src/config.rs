//! Configuration of one VRRP instance: validated newtypes that refuse bad
//! values at parse time (from flags through `FromStr`, from files through
//! serde), and the checks that need the interface's addresses.
//!
//! Owns: what a valid value is and the error that names the field. Must not:
//! read files, flags or the network; callers (the `vrrp-node` binary, `edged`)
//! map their flag names onto these fields.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::packet::{ChecksumMode, MAX_ADVERT_INTERVAL_CS};

/// A configuration value that cannot be used. Each variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field}: `{value}` is not valid: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "vip: {vip} is not inside any IPv4 subnet of interface {interface} ({addresses}); \
         use an address from the interface's subnet, or check --interface"
    )]
    VipNotOnSubnet {
        vip: Ipv4Addr,
        interface: String,
        addresses: String,
    },
    #[error(
        "vip: {vip} is the interface {interface}'s own address (/{prefix}), not a virtual one; \
         pick an unused address in the subnet"
    )]
    VipIsInterfaceAddress {
        vip: Ipv4Addr,
        interface: String,
        prefix: u8,
    },
    #[error(
        "interface: {interface} has no IPv4 address; VRRP needs one as the advertisement \
         source (add one, e.g. `ip addr add 10.0.0.2/24 dev {interface}`)"
    )]
    NoIpv4Address { interface: String },
}

impl ConfigError {
    pub(crate) fn invalid(field: &'static str, value: impl fmt::Display, reason: &str) -> Self {
        Self::Invalid {
            field,
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }

    /// The configuration field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
            Self::VipNotOnSubnet { .. } | Self::VipIsInterfaceAddress { .. } => "vip",
            Self::NoIpv4Address { .. } => "interface",
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = ConfigError;
            fn try_from(s: String) -> Result<Self, ConfigError> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}

/// Virtual Router ID, 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u8")]
pub struct Vrid(u8);

impl Vrid {
    pub fn new(v: u64) -> Result<Self, ConfigError> {
        match u8::try_from(v) {
            Ok(v) if v >= 1 => Ok(Self(v)),
            _ => Err(ConfigError::invalid(
                "vrid",
                v,
                "a virtual router id is 1..=255, and the same on every server sharing the VIP",
            )),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u64> for Vrid {
    type Error = ConfigError;
    fn try_from(v: u64) -> Result<Self, ConfigError> {
        Self::new(v)
    }
}
impl From<Vrid> for u8 {
    fn from(v: Vrid) -> u8 {
        v.0
    }
}
impl FromStr for Vrid {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let v = s
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::invalid("vrid", s, "expected a number 1..=255"))?;
        Self::new(v)
    }
}
impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Configured VRRP priority, 1..=254. 0 is reserved for resigning and 255 for
/// the owner of the address, which a virtual IP never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u8")]
pub struct Priority(u8);

impl Priority {
    pub const DEFAULT: Priority = Priority(100);

    pub fn new(v: u64) -> Result<Self, ConfigError> {
        match u8::try_from(v) {
            Ok(v @ 1..=254) => Ok(Self(v)),
            _ => Err(ConfigError::invalid(
                "priority",
                v,
                "a priority is 1..=254 (0 means resign, 255 the address owner); higher wins",
            )),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}
impl TryFrom<u64> for Priority {
    type Error = ConfigError;
    fn try_from(v: u64) -> Result<Self, ConfigError> {
        Self::new(v)
    }
}
impl From<Priority> for u8 {
    fn from(v: Priority) -> u8 {
        v.0
    }
}
impl FromStr for Priority {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let v = s
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::invalid("priority", s, "expected a number 1..=254"))?;
        Self::new(v)
    }
}
impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses `100ms`, `1s`, `1.5s`, `2m` into a duration. No unit is an error:
/// `1` could mean seconds (keepalived) or centiseconds (the wire).
fn parse_duration(field: &'static str, s: &str) -> Result<Duration, ConfigError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale_ms: f64 = match unit.trim() {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => {
            return Err(ConfigError::invalid(
                field,
                s,
                "expected a duration with a unit: `100ms`, `1s`, `1.5s`",
            ));
        }
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| {
            ConfigError::invalid(field, s, "expected a non-negative number and a unit")
        })?;
    let ms = n * scale_ms;
    if ms > 1e12 || ms.fract() != 0.0 {
        return Err(ConfigError::invalid(
            field,
            s,
            "expected whole milliseconds, at most 1e12",
        ));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn format_duration(d: Duration, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        write!(f, "{}s", ms / 1000)
    } else {
        write!(f, "{ms}ms")
    }
}

/// The advertisement interval: whole centiseconds, 10 ms ..= 40.95 s
/// (the 12-bit Max Adver Int field). Default 1 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdvertInterval(u16);

impl AdvertInterval {
    pub const DEFAULT: AdvertInterval = AdvertInterval(100);

    pub fn from_duration(d: Duration) -> Result<Self, ConfigError> {
        let ms = d.as_millis();
        let ok = d.subsec_nanos().is_multiple_of(10_000_000)
            && (10..=u128::from(MAX_ADVERT_INTERVAL_CS) * 10).contains(&ms);
        if !ok {
            return Err(ConfigError::invalid(
                "advert-interval",
                format!("{ms}ms"),
                "the interval is sent in centiseconds: use a multiple of 10ms between 10ms and 40950ms",
            ));
        }
        Ok(Self((ms / 10) as u16))
    }

    /// Centiseconds, as on the wire.
    pub fn centiseconds(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
}

impl Default for AdvertInterval {
    fn default() -> Self {
        Self::DEFAULT
    }
}
impl FromStr for AdvertInterval {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::from_duration(parse_duration("advert-interval", s)?).map_err(|e| match e {
            ConfigError::Invalid { field, reason, .. } => ConfigError::Invalid {
                field,
                value: s.to_owned(),
                reason,
            },
            other => other,
        })
    }
}
impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_duration(self.duration(), f)
    }
}
string_serde!(AdvertInterval);

/// A duration written with a unit (`500ms`, `5s`), for secondary timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_duration("duration", s).map(Self)
    }
}
impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_duration(self.0, f)
    }
}
string_serde!(HumanDuration);

/// The virtual IPv4 address: unicast, not loopback, not 0.0.0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VirtualIp(Ipv4Addr);

impl VirtualIp {
    pub fn new(ip: Ipv4Addr) -> Result<Self, ConfigError> {
        if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
            return Err(ConfigError::invalid(
                "vip",
                ip,
                "the virtual IP must be a unicast address on the servers' subnet",
            ));
        }
        Ok(Self(ip))
    }
    pub fn addr(self) -> Ipv4Addr {
        self.0
    }
}
impl FromStr for VirtualIp {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        // Accept `10.0.0.100/32` as people write it in keepalived; nothing else.
        let t = t.strip_suffix("/32").unwrap_or(t);
        let ip = t.parse::<Ipv4Addr>().map_err(|_| {
            ConfigError::invalid(
                "vip",
                s,
                "expected an IPv4 address such as 10.0.0.100 (IPv6 is not supported yet)",
            )
        })?;
        Self::new(ip)
    }
}
impl fmt::Display for VirtualIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(VirtualIp);

/// A Linux interface name: 1..=15 bytes, no `/`, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterfaceName(String);

impl InterfaceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for InterfaceName {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let ok = !s.is_empty()
            && s.len() <= 15
            && s != "."
            && s != ".."
            && !s
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
        if !ok {
            return Err(ConfigError::invalid(
                "interface",
                s,
                "an interface name is 1..=15 characters without '/', ':' or spaces (see `ip link`)",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}
impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(InterfaceName);

/// Health tracking (see [`crate::health`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct HealthConfig {
    /// Consecutive failed checks before the weight applies.
    pub fall: u32,
    /// Consecutive good checks before it is lifted.
    pub rise: u32,
    /// How much the priority drops while failing.
    pub weight: u8,
    /// Start as failing until `rise` good checks: a server that just booted
    /// does not take the VIP from a healthy peer before its API answers. A lone
    /// server still takes it (the weight lowers priority, it never forbids).
    pub start_failing: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            fall: 3,
            rise: 2,
            weight: 50,
            start_failing: true,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_garp_count() -> u8 {
    5
}
fn default_garp_repeat() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// One VRRP instance. Field names are the config-file keys (kebab-case);
/// `edged` maps `--vip --vip-interface --vrrp-id --vrrp-priority
/// --vrrp-advert-interval --vrrp-unicast-peer --vrrp-checksum` onto them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VrrpConfig {
    pub interface: InterfaceName,
    pub vip: VirtualIp,
    pub vrid: Vrid,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub advert_interval: AdvertInterval,
    /// A higher-priority backup takes over from a lower-priority master.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// Send adverts to these addresses instead of 224.0.0.18 and accept only
    /// them (networks without multicast).
    #[serde(default)]
    pub unicast_peers: Vec<Ipv4Addr>,
    /// Checksum form to send; both are accepted on receive.
    #[serde(default)]
    pub checksum: ChecksumMode,
    /// Gratuitous ARPs per burst.
    #[serde(default = "default_garp_count")]
    pub garp_count: u8,
    /// Delay of the second burst after a takeover.
    #[serde(default = "default_garp_repeat")]
    pub garp_repeat_after: HumanDuration,
    /// Health tracking; `None` = the priority never changes by itself.
    #[serde(default)]
    pub health: Option<HealthConfig>,
}

impl VrrpConfig {
    /// A config with every optional field at its default.
    pub fn new(interface: InterfaceName, vip: VirtualIp, vrid: Vrid) -> Self {
        Self {
            interface,
            vip,
            vrid,
            priority: Priority::default(),
            advert_interval: AdvertInterval::default(),
            preempt: true,
            unicast_peers: Vec::new(),
            checksum: ChecksumMode::default(),
            garp_count: default_garp_count(),
            garp_repeat_after: default_garp_repeat(),
            health: None,
        }
    }

    /// Checks across fields (each field alone is valid by construction).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for p in &self.unicast_peers {
            if *p == self.vip.addr() || p.is_multicast() || p.is_unspecified() || p.is_broadcast() {
                return Err(ConfigError::invalid(
                    "unicast-peers",
                    p,
                    "a unicast peer is another server's own address, not the VIP or a group",
                ));
            }
        }
        if self.garp_count == 0 {
            return Err(ConfigError::invalid(
                "garp-count",
                0,
                "at least one gratuitous ARP is needed to move clients",
            ));
        }
        if let Some(h) = self.health.filter(|h| h.fall == 0 || h.rise == 0) {
            return Err(ConfigError::invalid(
                "health",
                format!("fall={} rise={}", h.fall, h.rise),
                "fall and rise count checks and must be at least 1",
            ));
        }
        Ok(())
    }
}

fn in_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    u32::from(a) & mask == u32::from(b) & mask
}

/// Picks the primary address (advert source, tie-breaker) among the
/// interface's IPv4 addresses: the first whose subnet holds the VIP. /32
/// entries equal to the VIP are a stale VIP, not a subnet, and are skipped.
pub fn select_primary(
    vip: VirtualIp,
    interface: &str,
    addresses: &[(Ipv4Addr, u8)],
) -> Result<Ipv4Addr, ConfigError> {
    let vip = vip.addr();
    let real: Vec<_> = addresses
        .iter()
        .filter(|(a, p)| !(*a == vip && *p == 32))
        .collect();
    if real.is_empty() {
        return Err(ConfigError::NoIpv4Address {
            interface: interface.to_owned(),
        });
    }
    if let Some((_, prefix)) = real.iter().find(|(a, _)| *a == vip) {
        return Err(ConfigError::VipIsInterfaceAddress {
            vip,
            interface: interface.to_owned(),
            prefix: *prefix,
        });
    }
    real.iter()
        .find(|(a, p)| *p < 32 && in_subnet(*a, vip, *p))
        .map(|(a, _)| *a)
        .ok_or_else(|| ConfigError::VipNotOnSubnet {
            vip,
            interface: interface.to_owned(),
            addresses: real
                .iter()
                .map(|(a, p)| format!("{a}/{p}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrid_range_names_the_field() {
        for bad in ["0", "256", "x", "-1"] {
            let e = bad.parse::<Vrid>().expect_err(bad);
            assert_eq!(e.field(), "vrid");
            assert!(e.to_string().starts_with("vrid: "), "{e}");
        }
        assert_eq!("255".parse::<Vrid>().map(Vrid::get), Ok(255));
        assert_eq!("1".parse::<Vrid>().map(Vrid::get), Ok(1));
    }

    #[test]
    fn priority_range() {
        assert!("0".parse::<Priority>().is_err());
        assert!("255".parse::<Priority>().is_err());
        assert_eq!("254".parse::<Priority>().map(Priority::get), Ok(254));
    }

    #[test]
    fn advert_interval_parsing() {
        let cs = |s: &str| {
            s.parse::<AdvertInterval>()
                .map(AdvertInterval::centiseconds)
        };
        assert_eq!(cs("100ms"), Ok(10));
        assert_eq!(cs("1s"), Ok(100));
        assert_eq!(cs("1.5s"), Ok(150));
        assert_eq!(cs("40950ms"), Ok(4095));
        assert_eq!(cs("10ms"), Ok(1));
        for bad in [
            "0ms", "5ms", "105ms", "41s", "1", "fast", "1.0001s", "-1s", "1h",
        ] {
            let e = bad.parse::<AdvertInterval>().expect_err(bad);
            assert_eq!(e.field(), "advert-interval", "{bad}");
        }
        assert_eq!(AdvertInterval::DEFAULT.to_string(), "1s");
        assert_eq!(cs("250ms").map(|c| c * 10), Ok(250));
    }

    #[test]
    fn vip_and_interface() {
        assert!("10.0.0.1".parse::<VirtualIp>().is_ok());
        assert!("10.0.0.1/32".parse::<VirtualIp>().is_ok());
        for bad in [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.18",
            "255.255.255.255",
            "fe80::1",
            "10.0.0.1/24",
        ] {
            assert_eq!(bad.parse::<VirtualIp>().expect_err(bad).field(), "vip");
        }
        assert!("eth0".parse::<InterfaceName>().is_ok());
        for bad in ["", "a/b", "sixteen-chars-xx", "e 0"] {
            assert_eq!(
                bad.parse::<InterfaceName>().expect_err(bad).field(),
                "interface"
            );
        }
    }

    #[test]
    fn select_primary_checks_the_subnet() {
        let vip: VirtualIp = "10.99.0.100".parse().expect("vip");
        let addrs = [
            (Ipv4Addr::new(192, 168, 1, 5), 24),
            (Ipv4Addr::new(10, 99, 0, 1), 24),
        ];
        assert_eq!(
            select_primary(vip, "e0", &addrs),
            Ok(Ipv4Addr::new(10, 99, 0, 1))
        );
        // A stale VIP left by a crash is skipped.
        let with_stale = [
            (Ipv4Addr::new(10, 99, 0, 100), 32),
            (Ipv4Addr::new(10, 99, 0, 1), 24),
        ];
        assert_eq!(
            select_primary(vip, "e0", &with_stale),
            Ok(Ipv4Addr::new(10, 99, 0, 1))
        );
        let e = select_primary(vip, "e0", &addrs[..1]).expect_err("off subnet");
        assert!(matches!(e, ConfigError::VipNotOnSubnet { .. }));
        assert!(e.to_string().contains("192.168.1.5/24"), "{e}");
        assert!(matches!(
            select_primary(vip, "e0", &[]),
            Err(ConfigError::NoIpv4Address { .. })
        ));
        assert!(matches!(
            select_primary(vip, "e0", &[(Ipv4Addr::new(10, 99, 0, 100), 24)]),
            Err(ConfigError::VipIsInterfaceAddress { .. })
        ));
    }

    #[test]
    fn serde_kebab_case_defaults_and_unknown_fields() {
        let c: VrrpConfig = serde_json::from_str(
            r#"{"interface":"eth0","vip":"10.0.0.100","vrid":51,"advert-interval":"100ms",
                "unicast-peers":["10.0.0.2"],"checksum":"message-only"}"#,
        )
        .expect("parses");
        assert_eq!(c.vrid.get(), 51);
        assert_eq!(c.priority, Priority::DEFAULT);
        assert_eq!(c.advert_interval.centiseconds(), 10);
        assert_eq!(c.checksum, ChecksumMode::MessageOnly);
        assert!(c.preempt);
        assert_eq!(c.garp_count, 5);
        c.validate().expect("valid");
        let back = serde_json::to_string(&c).expect("serialises");
        assert_eq!(
            serde_json::from_str::<VrrpConfig>(&back).expect("reparses"),
            c
        );

        let e = serde_json::from_str::<VrrpConfig>(
            r#"{"interface":"eth0","vip":"10.0.0.100","vrid":51,"vrrp-id":3}"#,
        )
        .expect_err("unknown field");
        assert!(e.to_string().contains("vrrp-id"), "{e}");
        let e = serde_json::from_str::<VrrpConfig>(
            r#"{"interface":"eth0","vip":"10.0.0.100","vrid":256}"#,
        )
        .expect_err("vrid 256");
        assert!(e.to_string().contains("vrid: `256`"), "{e}");
        let e = serde_json::from_str::<VrrpConfig>(
            r#"{"interface":"eth0","vip":"10.0.0.100","vrid":0}"#,
        )
        .expect_err("vrid 0");
        assert!(e.to_string().contains("vrid: `0`"), "{e}");
    }

    #[test]
    fn validate_rejects_vip_as_peer() {
        let mut c = VrrpConfig::new(
            "eth0".parse().expect("if"),
            "10.0.0.100".parse().expect("vip"),
            Vrid::new(1).expect("vrid"),
        );
        c.unicast_peers = vec![Ipv4Addr::new(10, 0, 0, 100)];
        assert_eq!(
            c.validate().expect_err("vip as peer").field(),
            "unicast-peers"
        );
    }
}
