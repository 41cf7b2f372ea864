//! Validated value types for configuration: each parses from the text an
//! operator writes (a flag, a YAML value) and cannot hold an invalid value.
//!
//! Owns the syntax rules of CIDRs, node names, labels and taints. Must not do
//! IO. Errors say what was expected, in words an operator can act on.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements serde for a type through its `FromStr` and `Display`.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// An IP network: `10.42.0.0/16`. The address must be the network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network `ip/prefix` lies in (host bits cleared; the prefix is
    /// capped at the address family's length).
    pub fn of_address(ip: IpAddr, prefix: u8) -> Cidr {
        match ip {
            IpAddr::V4(a) => {
                let prefix = prefix.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Cidr {
                    addr: IpAddr::V4((u32::from(a) & mask).into()),
                    prefix,
                }
            }
            IpAddr::V6(a) => {
                let prefix = prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Cidr {
                    addr: IpAddr::V6((u128::from(a) & mask).into()),
                    prefix,
                }
            }
        }
    }

    /// Whether `ip` lies in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The `n`-th address of the network (0 = the network address), if it fits.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        match self.addr {
            IpAddr::V4(net) => {
                let size = 1u128 << (32 - u32::from(self.prefix));
                (n < size).then(|| IpAddr::V4((u32::from(net) + n as u32).into()))
            }
            IpAddr::V6(net) => {
                let bits = 128 - u32::from(self.prefix);
                let fits = bits >= 128 || n < (1u128 << bits);
                fits.then(|| IpAddr::V6((u128::from(net) + n).into()))
            }
        }
    }

    /// The `index`-th subnet of length `prefix` (e.g. a node's /24 in a /16).
    pub fn subnet(&self, prefix: u8, index: u128) -> Option<Cidr> {
        if prefix < self.prefix {
            return None;
        }
        let max = match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > max {
            return None;
        }
        let shift = u32::from(max - prefix);
        let count_bits = u32::from(prefix - self.prefix);
        if count_bits < 128 && index >= (1u128 << count_bits) {
            return None;
        }
        let offset = index.checked_shl(shift)?;
        Some(Cidr {
            addr: self.nth(offset)?,
            prefix,
        })
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| {
            format!("{s:?} is not a CIDR: expected ADDRESS/PREFIX, e.g. 10.42.0.0/16")
        })?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not a CIDR: {addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{s:?} is not a CIDR: the prefix must be 0-{max}"))?;
        let cidr = Cidr { addr, prefix };
        let network = cidr.nth(0).expect("offset 0 fits");
        let masked = match (addr, network) {
            (IpAddr::V4(a), _) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            (IpAddr::V6(a), _) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        if masked != addr {
            return Err(format!(
                "{s:?} has host bits set: the network address is {masked}/{prefix}"
            ));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

serde_via_str!(Cidr);

/// Whether `s` is a DNS-1123 label: lowercase alphanumerics and '-', 1-63
/// characters, starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Kubernetes node name (a DNS-1123 subdomain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(String);

impl NodeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A node name from a hostname: lower-cased, as Kubernetes does.
    pub fn from_hostname(hostname: &str) -> Result<Self, String> {
        hostname.trim().to_lowercase().parse()
    }
}

impl FromStr for NodeName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if is_dns_subdomain(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a valid node name: use lowercase letters, digits, '-' and '.', \
                 at most 253 characters, starting and ending with a letter or digit"
            ))
        }
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(NodeName);

/// Validates a label or taint key: `[prefix/]name`, prefix a DNS subdomain,
/// name 1-63 of alphanumerics, '-', '_', '.', starting and ending alphanumeric.
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err(format!(
            "key {key:?}: the prefix {prefix:?} must be a DNS subdomain"
        ));
    }
    if !is_label_value(name) || name.is_empty() {
        return Err(format!(
            "key {key:?}: the name must be 1-63 characters of letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// Whether `s` is a valid label value (may be empty).
pub fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

/// A node label: `key=value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    pub key: String,
    pub value: String,
}

impl FromStr for Label {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("label {s:?}: expected key=value"))?;
        check_qualified_name(key).map_err(|e| format!("label {s:?}: {e}"))?;
        if !is_label_value(value) {
            return Err(format!(
                "label {s:?}: the value must be at most 63 characters of letters, digits, '-', '_' or '.', \
                 starting and ending with a letter or digit"
            ));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

serde_via_str!(Label);

/// A taint effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

/// A node taint: `key[=value]:Effect`, e.g. `CriticalAddonsOnly=true:NoExecute`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

impl FromStr for Taint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kv, effect) = s.rsplit_once(':').ok_or_else(|| {
            format!(
                "taint {s:?}: expected key=value:Effect, e.g. CriticalAddonsOnly=true:NoExecute"
            )
        })?;
        let effect = match effect {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            other => {
                return Err(format!(
                    "taint {s:?}: effect {other:?} must be NoSchedule, PreferNoSchedule or NoExecute"
                ));
            }
        };
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        check_qualified_name(key).map_err(|e| format!("taint {s:?}: {e}"))?;
        if !is_label_value(value) {
            return Err(format!(
                "taint {s:?}: the value {value:?} is not a valid label value"
            ));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
            effect,
        })
    }
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect.as_str())
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect.as_str())
        }
    }
}

serde_via_str!(Taint);

/// A file mode written in octal, as `--write-kubeconfig-mode 0644` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl FromStr for FileMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .map(FileMode)
            .ok_or_else(|| {
                format!("{s:?} is not a file mode: expected octal digits, e.g. 0600 or 644")
            })
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

serde_via_str!(FileMode);

/// The registration address of an agent: `https://HOST[:PORT]`, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(pub url::Url);

impl ServerUrl {
    /// The URL of a virtual IP and port.
    pub fn for_vip(vip: std::net::Ipv4Addr, port: u16) -> Option<Self> {
        url::Url::parse(&format!("https://{vip}:{port}"))
            .ok()
            .map(Self)
    }

    pub fn host(&self) -> Option<String> {
        self.0.host_str().map(str::to_owned)
    }
}

impl FromStr for ServerUrl {
    type Err = String;

    fn from_str(t: &str) -> Result<Self, String> {
        let t = t.trim();
        let u = url::Url::parse(t).map_err(|e| {
            format!("{t:?} is not a URL ({e}); expected https://ADDRESS:6443, e.g. the virtual IP")
        })?;
        if u.scheme() != "https" {
            return Err(format!(
                "{t:?} must use https:// (the server only speaks TLS), e.g. https://10.0.0.100:6443"
            ));
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err(format!("{t:?} has no host"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err("the server URL must not hold credentials; use token".into());
        }
        if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
            return Err(format!(
                "{t:?} must be just https://ADDRESS[:PORT], without a path or query"
            ));
        }
        Ok(Self(u))
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

/// A duration as Kubernetes flags write one: a number and a unit, or
/// several (`500ms`, `10s`, `1m30s`, `2h`). At least 1 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval(pub std::time::Duration);

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not a duration: expected a number and a unit (ms, s, m, h), e.g. 10s, 500ms or 1m30s"
            )
        };
        let mut total = std::time::Duration::ZERO;
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let part = match &rest[..unit] {
                "ms" => std::time::Duration::from_millis(n),
                "s" => std::time::Duration::from_secs(n),
                "m" => std::time::Duration::from_secs(n.saturating_mul(60)),
                "h" => std::time::Duration::from_secs(n.saturating_mul(3600)),
                _ => return Err(bad()),
            };
            rest = &rest[unit..];
            total = total.saturating_add(part);
        }
        if total < std::time::Duration::from_millis(1) {
            return Err(format!("{s:?} is too short: at least 1ms"));
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

serde_via_str!(Interval);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let d = |s: &str| s.parse::<Interval>().map(|i| i.0);
        assert_eq!(d("10s"), Ok(std::time::Duration::from_secs(10)));
        assert_eq!(d("500ms"), Ok(std::time::Duration::from_millis(500)));
        assert_eq!(d("1m30s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!("40s".parse::<Interval>().expect("ok").to_string(), "40s");
        for bad in ["", "10", "s", "10x", "-1s", "0s"] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cidrs() {
        let c: Cidr = "10.42.0.0/16".parse().expect("valid");
        assert!(c.contains("10.42.3.4".parse().expect("ip")));
        assert!(!c.contains("10.43.0.1".parse().expect("ip")));
        assert_eq!(c.nth(1), Some("10.42.0.1".parse().expect("ip")));
        assert_eq!(
            c.subnet(24, 3).map(|s| s.to_string()),
            Some("10.42.3.0/24".into())
        );
        assert_eq!(c.subnet(24, 256), None);
        let s: Cidr = "10.43.0.0/16".parse().expect("valid");
        assert_eq!(s.nth(10), Some("10.43.0.10".parse().expect("ip")));
        let v6: Cidr = "fd00:42::/56".parse().expect("valid v6");
        assert_eq!(
            v6.subnet(64, 1).map(|s| s.to_string()),
            Some("fd00:42:0:1::/64".into())
        );
        for (bad, msg) in [
            ("10.42.0.0", "expected ADDRESS/PREFIX"),
            (
                "10.42.0.1/16",
                "host bits set: the network address is 10.42.0.0/16",
            ),
            ("10.42.0.0/33", "prefix must be 0-32"),
            ("ten/8", "not an IP address"),
        ] {
            let e = bad.parse::<Cidr>().expect_err(bad);
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn names_labels_taints() {
        assert!("edge-a.site1".parse::<NodeName>().is_ok());
        assert!("Edge_A".parse::<NodeName>().is_err());
        assert_eq!(
            NodeName::from_hostname("Edge-A\n")
                .expect("lowered")
                .as_str(),
            "edge-a"
        );
        let l: Label = "topology.kubernetes.io/zone=shop-7".parse().expect("label");
        assert_eq!(
            (l.key.as_str(), l.value.as_str()),
            ("topology.kubernetes.io/zone", "shop-7")
        );
        assert!("novalue".parse::<Label>().is_err());
        assert!("a=b c".parse::<Label>().is_err());
        let t: Taint = "CriticalAddonsOnly=true:NoExecute".parse().expect("taint");
        assert_eq!(t.effect, TaintEffect::NoExecute);
        assert_eq!(t.to_string(), "CriticalAddonsOnly=true:NoExecute");
        let t: Taint = "dedicated:NoSchedule".parse().expect("taint without value");
        assert_eq!(t.value, "");
        let e = "x=y:NoScheduel".parse::<Taint>().expect_err("bad effect");
        assert!(e.contains("must be NoSchedule"), "{e}");
        assert_eq!("0644".parse::<FileMode>().expect("mode").0, 0o644);
        assert!("0999".parse::<FileMode>().is_err());
    }
}
