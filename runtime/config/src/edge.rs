//! The device configuration model: what `edge.yaml` (on the boot partition),
//! the image's site config and `edge.*` kernel arguments may say. Keys are
//! `edged` flag names wherever a flag exists (as in K3s's config.yaml), plus
//! the device keys `role`, `hostname`, `network`, `vip` and `cluster-size`.
//!
//! Every field is optional here: a file is one layer, and layers are merged
//! before the cross-field rules of [`crate::validate`] run. Leaf values are
//! validated newtypes that parse from the text an operator wrote.
//!
//! Owns the keys, their value syntax and the JSON Schema editors use. Must not
//! do IO, and must never print a secret: `Serialize` (used by `edgectl config
//! render`) writes tokens and datastore passwords redacted.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value as Json, json};

use crate::endpoint::{Backend, Endpoint, TlsFiles};
use crate::secret::Secret;
use crate::server::{DISABLABLE, EdgeHome, edge_home, server_flags};
use crate::token::{Token, TokenError};
use crate::types::{Cidr, FileMode, Interval, Label, NodeName, Taint, is_dns_subdomain};

/// A leaf value: parsed from text, rendered to JSON, described for editors.
pub trait Leaf: Sized {
    /// Parses what an operator wrote. Errors say what is expected and never
    /// quote a secret.
    fn parse(text: &str) -> Result<Self, String>;
    /// The value as `render` shows it (secrets redacted).
    fn to_json(&self) -> Json;
    /// The JSON Schema name and body.
    fn schema_name() -> &'static str;
    fn schema() -> Json;
}

/// A leaf in the model: deserializes from a YAML scalar (or kernel argument)
/// through [`Leaf::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct Text<T>(pub T);

impl<T> Text<T> {
    pub fn get(&self) -> &T {
        &self.0
    }
}

struct TextVisitor<T>(PhantomData<T>);

impl<T: Leaf> Visitor<'_> for TextVisitor<T> {
    type Value = Text<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = T::schema();
        match schema.get("description").and_then(Json::as_str) {
            Some(d) => f.write_str(d.split(['.', ';']).next().unwrap_or(d)),
            None => f.write_str(T::schema_name()),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<T>, E> {
        T::parse(v).map(Text).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text<T>, E> {
        self.visit_str(&v.to_string())
    }
}

impl<'de, T: Leaf> Deserialize<'de> for Text<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(PhantomData))
    }
}

impl<T: Leaf> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

fn schema_of(value: Json) -> Schema {
    match value {
        Json::Object(map) => Schema::from(map),
        _ => Schema::from(true),
    }
}

impl<T: Leaf> JsonSchema for Text<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(T::schema_name())
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_of(T::schema())
    }
}

/// A list key: one value or a list of them (`tls-san: a` or `tls-san: [a, b]`),
/// as K3s's config file accepts. On the kernel command line: `a,b`.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a list of values")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<List<T>, A::Error> {
        let mut v = Vec::new();
        while let Some(item) = a.next_element()? {
            v.push(item);
        }
        Ok(List(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<List<T>, E> {
        use serde::de::IntoDeserializer;
        T::deserialize(v.into_deserializer()).map(|t| List(vec![t]))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<List<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<List<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<List<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<List<T>, E> {
        self.visit_str(&v.to_string())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for List<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Cow::Owned(format!("List_{}", T::schema_name()))
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let item = g.subschema_for::<T>().to_value();
        schema_of(json!({
            "anyOf": [item.clone(), {"type": "array", "items": item}]
        }))
    }
}

/// `network:`: interface name to its addressing, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interfaces(pub Vec<(Text<vrrp::InterfaceName>, InterfaceSection)>);

struct InterfacesVisitor;

impl<'de> Visitor<'de> for InterfacesVisitor {
    type Value = Interfaces;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interfaces by name, e.g. `eth0: {dhcp: true}`")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Interfaces, A::Error> {
        let mut v = Vec::new();
        while let Some(entry) = a.next_entry()? {
            v.push(entry);
        }
        Ok(Interfaces(v))
    }
}

impl<'de> Deserialize<'de> for Interfaces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(InterfacesVisitor)
    }
}

impl Serialize for Interfaces {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.0.as_str(), v)?;
        }
        m.end()
    }
}

impl JsonSchema for Interfaces {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Interfaces")
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let iface = g.subschema_for::<InterfaceSection>().to_value();
        schema_of(json!({
            "type": "object",
            "description": "Network interfaces by name (see `ip link`). Interfaces not listed stay down; without a `network` key every interface uses DHCP.",
            "propertyNames": {"minLength": 1, "maxLength": 15, "pattern": "^[^/:\\s]+$"},
            "additionalProperties": iface
        }))
    }
}

/// The server's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A control-plane server (`edged server`).
    #[default]
    Server,
    /// A worker that registers with the servers (`edged agent`).
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Agent => "agent",
        }
    }
}

impl Leaf for Role {
    fn parse(t: &str) -> Result<Self, String> {
        match t.trim() {
            "server" => Ok(Self::Server),
            "agent" => Ok(Self::Agent),
            other => Err(format!("unknown role {other:?}; expected server or agent")),
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.as_str())
    }
    fn schema_name() -> &'static str {
        "Role"
    }
    fn schema() -> Json {
        json!({"type": "string", "enum": ["server", "agent"],
               "description": "server (control plane) or agent (worker); default server"})
    }
}

/// The cluster token in `edge.yaml`: the one [`Token`] type, trimmed first.
impl Leaf for Token {
    fn parse(t: &str) -> Result<Self, String> {
        Token::parse_trimmed(t).map_err(|e| match e {
            TokenError::Empty => "the token is empty".into(),
            TokenError::Characters => {
                format!("{e} (quote it if it contains `#` or `:`)")
            }
            e => format!("not a valid token: {e}"),
        })
    }
    fn to_json(&self) -> Json {
        Json::from("<redacted>")
    }
    fn schema_name() -> &'static str {
        "Token"
    }
    fn schema() -> Json {
        json!({"type": "string", "minLength": 1, "writeOnly": true,
               "description": "the cluster token: a secret shared by every device of the cluster, or a full K10… token; moved to the data partition after the first start"})
    }
}

/// `token-sha256`: written by `edged init` in place of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Hex(pub String);

impl Leaf for Sha256Hex {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim().to_ascii_lowercase();
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(t))
        } else {
            Err("expected 64 hexadecimal digits (sha256); edged init writes this key itself".into())
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.clone())
    }
    fn schema_name() -> &'static str {
        "Sha256"
    }
    fn schema() -> Json {
        json!({"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
               "description": "sha256 of the token, written by edged init after it moved the token to the data partition"})
    }
}

/// An absolute path on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsPath(pub PathBuf);

impl Leaf for AbsPath {
    fn parse(t: &str) -> Result<Self, String> {
        let p = PathBuf::from(t.trim());
        if p.is_absolute() && !t.contains('\0') {
            Ok(Self(p))
        } else {
            Err(format!("{t:?} is not an absolute path (start it with /)"))
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.display().to_string())
    }
    fn schema_name() -> &'static str {
        "AbsolutePath"
    }
    fn schema() -> Json {
        json!({"type": "string", "pattern": "^/", "description": "an absolute path on the device"})
    }
}

pub use crate::types::ServerUrl;

impl Leaf for ServerUrl {
    fn parse(t: &str) -> Result<Self, String> {
        t.parse()
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.as_str().trim_end_matches('/'))
    }
    fn schema_name() -> &'static str {
        "ServerUrl"
    }
    fn schema() -> Json {
        json!({"type": "string", "format": "uri", "pattern": "^https://",
               "description": "where an agent registers: https://ADDRESS:6443, usually the virtual IP"})
    }
}

/// `datastore-endpoint`, validated as `edged server` would, kept secret.
#[derive(Clone)]
pub struct DatastoreUrl {
    raw: Secret<String>,
    redacted: String,
    backend: Backend,
}

impl fmt::Debug for DatastoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl PartialEq for DatastoreUrl {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl DatastoreUrl {
    /// The endpoint with its password, for the runtime config only.
    pub fn expose(&self) -> &str {
        self.raw.expose()
    }
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    /// Re-validates with the TLS files (sqlite refuses them).
    pub fn check_tls(&self, tls: TlsFiles) -> Result<(), String> {
        Endpoint::parse_with_tls(self.raw.expose(), tls)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Leaf for DatastoreUrl {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        let e = Endpoint::parse(t).map_err(|e| e.to_string())?;
        Ok(Self {
            raw: Secret::new(t.to_owned()),
            redacted: crate::endpoint::redact_dsn(t),
            backend: e.backend(),
        })
    }
    fn to_json(&self) -> Json {
        Json::from(self.redacted.clone())
    }
    fn schema_name() -> &'static str {
        "DatastoreEndpoint"
    }
    fn schema() -> Json {
        json!({"type": "string",
               "description": "the shared datastore: postgres://user:pass@host:5432/db, mysql://user:pass@tcp(host:3306)/db or sqlite:///path",
               "examples": ["postgres://edge:pw@10.0.0.5:5432/edge"]})
    }
}

/// A TCP port, 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl Leaf for Port {
    fn parse(t: &str) -> Result<Self, String> {
        match t.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(Self(p)),
            _ => Err(format!("{t:?} is not a port: expected 1-65535")),
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0)
    }
    fn schema_name() -> &'static str {
        "Port"
    }
    fn schema() -> Json {
        json!({"type": "integer", "minimum": 1, "maximum": 65535, "description": "a TCP port"})
    }
}

/// How many servers the cluster is meant to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSize(pub u16);

impl Leaf for ClusterSize {
    fn parse(t: &str) -> Result<Self, String> {
        match t.trim().parse::<u16>() {
            Ok(n @ 1..=64) => Ok(Self(n)),
            _ => Err(format!("{t:?} is not a number of servers: expected 1-64")),
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0)
    }
    fn schema_name() -> &'static str {
        "ClusterSize"
    }
    fn schema() -> Json {
        json!({"type": "integer", "minimum": 1, "maximum": 64,
               "description": "the number of servers the cluster is meant to have. More than one needs a shared datastore-endpoint; default 1 without vip, 2 or more with vip"})
    }
}

/// A hostname: DNS labels separated by dots, at most 64 characters (the
/// kernel's limit). Upper case is allowed; the node name lower-cases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(pub String);

impl Leaf for Hostname {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        let lower = t.to_ascii_lowercase();
        if t.len() <= 64 && is_dns_subdomain(&lower) {
            Ok(Self(t.to_owned()))
        } else {
            Err(format!(
                "{t:?} is not a hostname: use letters, digits and '-', at most 64 characters, \
                 starting and ending with a letter or digit (dots separate labels)"
            ))
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.clone())
    }
    fn schema_name() -> &'static str {
        "Hostname"
    }
    fn schema() -> Json {
        json!({"type": "string", "maxLength": 64,
               "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
               "description": "the device's hostname; also the node name unless node-name is set"})
    }
}

/// An interface address with its prefix: `10.0.0.11/24`. Unlike [`Cidr`],
/// host bits are the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAddress {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl HostAddress {
    /// The network the address is in.
    pub fn network(&self) -> Cidr {
        Cidr::of_address(self.ip, self.prefix)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.network().contains(ip)
    }
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

impl Leaf for HostAddress {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        let Some((ip, prefix)) = t.split_once('/') else {
            return Err(format!(
                "{t:?} has no prefix length: write ADDRESS/PREFIX, e.g. 10.0.0.11/24"
            ));
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("{t:?}: {ip:?} is not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{t:?}: the prefix length must be 0-{max}"))?;
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
            return Err(format!("{t:?} cannot be an interface's address"));
        }
        let a = Self { ip, prefix };
        if let IpAddr::V4(v4) = ip
            && prefix < 31
        {
            let host = u32::from(v4) & !u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let all = !u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            if host == 0 {
                return Err(format!(
                    "{t:?} is the network address of {}; use a host address in it",
                    a.network()
                ));
            }
            if host == all {
                return Err(format!(
                    "{t:?} is the broadcast address of {}; use a host address in it",
                    a.network()
                ));
            }
        }
        Ok(a)
    }
    fn to_json(&self) -> Json {
        Json::from(self.to_string())
    }
    fn schema_name() -> &'static str {
        "InterfaceAddress"
    }
    fn schema() -> Json {
        json!({"type": "string", "description": "a static address with its prefix length, e.g. 10.0.0.11/24",
               "examples": ["10.0.0.11/24"]})
    }
}

/// A `tls-san` entry: a hostname or IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanName(pub String);

impl Leaf for SanName {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        crate::san::San::parse(t).map_err(|e| format!("{t:?}: {e}"))?;
        Ok(Self(t.to_owned()))
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.clone())
    }
    fn schema_name() -> &'static str {
        "SubjectAltName"
    }
    fn schema() -> Json {
        json!({"type": "string", "description": "a hostname or IP address the serving certificate also covers"})
    }
}

/// A packaged component `disable` may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component(pub String);

impl Leaf for Component {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        if DISABLABLE.contains(&t) {
            Ok(Self(t.to_owned()))
        } else {
            Err(format!(
                "unknown component {t:?}; expected one of {}",
                DISABLABLE.join(", ")
            ))
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.clone())
    }
    fn schema_name() -> &'static str {
        "Component"
    }
    fn schema() -> Json {
        json!({"type": "string", "enum": DISABLABLE, "description": "a packaged component"})
    }
}

/// A DNS domain (`cluster-domain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain(pub String);

impl Leaf for Domain {
    fn parse(t: &str) -> Result<Self, String> {
        let t = t.trim();
        if is_dns_subdomain(t) {
            Ok(Self(t.to_owned()))
        } else {
            Err(format!(
                "{t:?} is not a DNS domain (lowercase labels separated by dots)"
            ))
        }
    }
    fn to_json(&self) -> Json {
        Json::from(self.0.clone())
    }
    fn schema_name() -> &'static str {
        "Domain"
    }
    fn schema() -> Json {
        json!({"type": "string", "description": "a DNS domain, e.g. cluster.local"})
    }
}

/// Implements [`Leaf`] for a type with `FromStr` and `Display`.
macro_rules! leaf_via_str {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl Leaf for $ty {
            fn parse(t: &str) -> Result<Self, String> {
                t.trim().parse::<$ty>().map_err(|e| clean(t, e.to_string()))
            }
            fn to_json(&self) -> Json {
                Json::from(self.to_string())
            }
            fn schema_name() -> &'static str {
                $name
            }
            fn schema() -> Json {
                json!($schema)
            }
        }
    };
}

/// Normalizes error texts of other crates: vrrp's `field: \`v\` is not
/// valid: why` loses its field name (the key path says it), std's terse
/// "invalid IP address syntax" gains the value.
pub(crate) fn clean(text: &str, e: String) -> String {
    if e.contains("invalid IP address syntax") || e.contains("invalid IPv4 address syntax") {
        return format!("{:?} is not an IP address", text.trim());
    }
    match e.split_once(": `") {
        Some((field, rest)) if !field.contains(' ') => format!("`{rest}"),
        _ => e,
    }
}

leaf_via_str!(Cidr, "Cidr", {"type": "string", "description": "a network, ADDRESS/PREFIX, e.g. 10.42.0.0/16"});
leaf_via_str!(NodeName, "NodeName", {"type": "string", "maxLength": 253,
    "description": "a Kubernetes node name: lowercase letters, digits, '-' and '.'"});
leaf_via_str!(Label, "Label", {"type": "string", "description": "a node label, key=value", "examples": ["topology.kubernetes.io/zone=shop-7"]});
leaf_via_str!(Taint, "Taint", {"type": "string", "description": "a node taint, key=value:Effect (NoSchedule, PreferNoSchedule, NoExecute)",
    "examples": ["CriticalAddonsOnly=true:NoExecute"]});
leaf_via_str!(FileMode, "FileMode", {"type": "string", "pattern": "^0?[0-7]{3}$", "description": "a file mode in octal, e.g. 0600"});
leaf_via_str!(Interval, "Duration", {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$", "description": "a duration, e.g. 40s, 500ms or 1m30s"});
leaf_via_str!(IpAddr, "IpAddress", {"type": "string", "description": "an IP address"});
leaf_via_str!(Ipv4Addr, "Ipv4Address", {"type": "string", "description": "an IPv4 address"});
leaf_via_str!(vrrp::VirtualIp, "VirtualIp", {"type": "string",
    "description": "the virtual IPv4 address the servers share; agents register through it"});
leaf_via_str!(vrrp::InterfaceName, "InterfaceName", {"type": "string", "minLength": 1, "maxLength": 15,
    "description": "a network interface name (see `ip link`)"});
leaf_via_str!(vrrp::AdvertInterval, "AdvertInterval", {"type": "string", "examples": ["1s", "100ms"],
    "description": "the VRRP advertisement interval with a unit, 10ms to 40.95s; default 1s"});
leaf_via_str!(vrrp::ChecksumMode, "ChecksumMode", {"type": "string", "enum": ["pseudo-header", "message-only"],
    "description": "VRRP checksum form: pseudo-header (keepalived, default) or message-only (RFC 9568)"});

impl Leaf for vrrp::Vrid {
    fn parse(t: &str) -> Result<Self, String> {
        t.parse::<vrrp::Vrid>().map_err(|e| clean(t, e.to_string()))
    }
    fn to_json(&self) -> Json {
        Json::from(self.get())
    }
    fn schema_name() -> &'static str {
        "Vrid"
    }
    fn schema() -> Json {
        json!({"type": "integer", "minimum": 1, "maximum": 255,
               "description": "the VRRP virtual router id, 1-255, the same on every server sharing the VIP"})
    }
}

impl Leaf for vrrp::Priority {
    fn parse(t: &str) -> Result<Self, String> {
        t.parse::<vrrp::Priority>()
            .map_err(|e| clean(t, e.to_string()))
    }
    fn to_json(&self) -> Json {
        Json::from(self.get())
    }
    fn schema_name() -> &'static str {
        "Priority"
    }
    fn schema() -> Json {
        json!({"type": "integer", "minimum": 1, "maximum": 254,
               "description": "VRRP priority 1-254, higher wins; default 100"})
    }
}

/// The whole file. Keys are kebab-case; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(
    title = "Edgeplane device configuration (edge.yaml)",
    description = "edge.yaml on the boot partition, the image's site config, and edge.* kernel arguments. Keys are edged flag names. Check with `edgectl config validate`."
)]
pub struct EdgeFile {
    /// server (control plane) or agent (worker). Default: server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Text<Role>>,
    /// The cluster token, the same on every device of the cluster. After the
    /// first start edged init moves it to the data partition and replaces this
    /// line with token-sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Text<Token>>,
    /// A file on the device holding the token (instead of token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<Text<AbsPath>>,
    /// Written by edged init: the sha256 of the token it moved to the data partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<Text<Sha256Hex>>,
    /// Agents: where to register, https://VIP:6443. Default: the vip's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Text<ServerUrl>>,
    /// Servers: the shared datastore. Default: embedded SQLite (a single server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_endpoint: Option<Text<DatastoreUrl>>,
    /// CA file for the datastore's TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_cafile: Option<Text<AbsPath>>,
    /// Client certificate for the datastore's TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_certfile: Option<Text<AbsPath>>,
    /// Client key for the datastore's TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_keyfile: Option<Text<AbsPath>>,
    /// How many servers the cluster is meant to have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_size: Option<Text<ClusterSize>>,
    /// The virtual IP the servers elect a holder for (VRRP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<VipSection>,
    /// Extra names and addresses for the serving certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_san: Option<List<Text<SanName>>>,
    /// Address the API server listens on. Default: 0.0.0.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_address: Option<Text<IpAddr>>,
    /// Port of the API server and supervisor. Default: 6443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_listen_port: Option<Text<Port>>,
    /// Address other nodes reach this server on. Default: the node IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<Text<IpAddr>>,
    /// Node name. Default: the hostname, lower-cased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<Text<NodeName>>,
    /// Node IP addresses. Default: the address of the default route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<List<Text<IpAddr>>>,
    /// Node labels, key=value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_label: Option<List<Text<Label>>>,
    /// Node taints, key=value:Effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_taint: Option<List<Text<Taint>>>,
    /// Pod network (identical on every server). Default: 10.42.0.0/16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_cidr: Option<Text<Cidr>>,
    /// Service network (identical on every server). Default: 10.43.0.0/16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<Text<Cidr>>,
    /// Cluster DNS service IP, inside service-cidr. Default: 10.43.0.10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_dns: Option<Text<IpAddr>>,
    /// Cluster domain. Default: cluster.local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_domain: Option<Text<Domain>>,
    /// Packaged components not to deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable: Option<List<Text<Component>>>,
    /// Disable the Helm controller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_helm_controller: Option<bool>,
    /// Disable kube-proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_kube_proxy: Option<bool>,
    /// Disable the network policy controller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_network_policy: Option<bool>,
    /// Encrypt Secret data at rest in the datastore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_encryption: Option<bool>,
    /// How long a node may stay silent before it is marked unreachable.
    /// Default: 40s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_monitor_grace_period: Option<Text<Interval>>,
    /// Mode of the admin kubeconfig, octal. Default: 0600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_kubeconfig_mode: Option<Text<FileMode>>,
    /// The device's hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Text<Hostname>>,
    /// Network interfaces: `dhcp: true`, or a static `address` (and
    /// `gateway`, `dns`). Without it every interface uses DHCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Interfaces>,
}

/// `vip:`: the virtual IP and its VRRP instance. The same keys map onto
/// `edged server --vip --vip-interface --vrrp-id --vrrp-priority
/// --vrrp-advert-interval --vrrp-unicast-peer --vrrp-checksum`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VipSection {
    /// The virtual IPv4 address (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Text<vrrp::VirtualIp>>,
    /// The interface that holds it (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Text<vrrp::InterfaceName>>,
    /// Virtual router id 1-255, the same on every server (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_id: Option<Text<vrrp::Vrid>>,
    /// Priority 1-254; the highest healthy server holds the VIP. Default 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Text<vrrp::Priority>>,
    /// Advertisement interval, e.g. 1s. Default 1s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advert_interval: Option<Text<vrrp::AdvertInterval>>,
    /// The other servers' own addresses, for networks without multicast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_peers: Option<List<Text<Ipv4Addr>>>,
    /// pseudo-header (keepalived, default) or message-only (RFC 9568).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Text<vrrp::ChecksumMode>>,
}

/// One interface of `network:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InterfaceSection {
    /// Get the address by DHCP (exclusive with address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<bool>,
    /// A static address with its prefix, e.g. 10.0.0.11/24.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Text<HostAddress>>,
    /// The default gateway, inside the address's subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Text<IpAddr>>,
    /// DNS servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<List<Text<IpAddr>>>,
}

/// The JSON Schema of the model, for editors (`edgectl config schema`).
pub fn json_schema() -> Json {
    let mut schema = schemars::schema_for!(EdgeFile).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Json::from("https://example.invalid/edgeplane/edge.schema.json"),
        );
    }
    schema
}

/// Keys that only a server uses: where edge.yaml keeps each `edged server`
/// flag that an agent does not take, and `cluster-size`.
pub fn server_keys() -> Vec<String> {
    let mut keys = vec!["cluster-size".to_owned()];
    // Flags an agent takes too (the token, node-*) are no server-only keys.
    let agent = crate::agent::agent_flags();
    for flag in server_flags() {
        let key = match edge_home(&flag) {
            _ if agent.contains(&flag) => continue,
            EdgeHome::Init => continue,
            EdgeHome::Top => flag,
            EdgeHome::Vip(_) => "vip".to_owned(),
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Keys that only an agent uses.
pub const AGENT_KEYS: &[&str] = &["server"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_parse_and_refuse() {
        assert!(HostAddress::parse("10.0.0.11/24").is_ok());
        assert!(
            HostAddress::parse("10.0.0.0/24")
                .expect_err("network")
                .contains("network address")
        );
        assert!(
            HostAddress::parse("10.0.0.255/24")
                .expect_err("broadcast")
                .contains("broadcast")
        );
        assert_eq!(
            HostAddress::parse("10.0.0.11/24")
                .expect("ok")
                .network()
                .to_string(),
            "10.0.0.0/24"
        );
        assert!(ServerUrl::parse("http://10.0.0.1:6443").is_err());
        assert!(ServerUrl::parse("https://10.0.0.1:6443").is_ok());
        let e = <Token as Leaf>::parse("s3c ret").expect_err("space");
        assert!(e.contains("spaces") && !e.contains("s3c"), "{e}");
        assert_eq!(
            vrrp::Vrid::parse("300").expect_err("range"),
            "`300` is not valid: a virtual router id is 1..=255, and the same on every server sharing the VIP"
        );
        assert_eq!(
            IpAddr::parse("10.0.0.300").expect_err("ip"),
            "\"10.0.0.300\" is not an IP address"
        );
    }

    #[test]
    fn secrets_render_redacted() {
        let d = DatastoreUrl::parse("postgres://edge:pw-secret@10.0.0.5:5432/edge").expect("ok");
        assert!(!d.to_json().to_string().contains("pw-secret"));
        assert!(!format!("{d:?}").contains("pw-secret"));
        let t = <Token as Leaf>::parse("site-secret-token").expect("ok");
        assert_eq!(t.to_json(), Json::from("<redacted>"));
        assert!(!format!("{t:?}").contains("site-secret"));
    }

    #[test]
    fn the_schema_names_every_key() {
        let s = json_schema();
        let text = s.to_string();
        for key in [
            "role",
            "token-file",
            "vrrp-id",
            "unicast-peers",
            "dhcp",
            "cluster-cidr",
        ] {
            assert!(text.contains(&format!("\"{key}\"")), "{key} missing");
        }
        assert_eq!(s["additionalProperties"], Json::Bool(false));
    }
}
