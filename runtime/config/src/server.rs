//! `edged server` configuration: the flags (named as K3s names them), the
//! same keys in a YAML config file, and `EDGE_*` environment variables,
//! resolved into one validated [`ServerConfig`]. Precedence: flag > env > file
//! > default.
//!
//! Owns the server's flag set and its defaults. [`ServerArgs`] is the one
//! declaration of a flag: its help, `EDGE_*` variable and value parser; the
//! config file's keys are its long names and its values go through the same
//! parsers (as K3s derives its config file from its flags); [`edge_home`]
//! says where `edge.yaml` keeps each. Must not start anything; the only IO is
//! reading the config and token files.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::ConfigError;
use crate::endpoint::{Endpoint, TlsFiles};
use crate::secret::Secret;
use crate::token::Token;
use crate::types::{Cidr, FileMode, Interval, Label, NodeName, Taint};
use vrrp::{AdvertInterval, ChecksumMode, InterfaceName, Priority, VirtualIp, Vrid};

/// The default config file, read when it exists and `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/edge/config.yaml";

/// Flags of `edged server`. Every flag may also come from the config file
/// (same name, without dashes in front) or from `EDGE_<NAME>`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Config file (YAML; keys are the long flag names)
    #[arg(long, short = 'c', env = "EDGE_CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where state lives [default: /var/lib/edge, or ~/.edge when not root]
    #[arg(long, short = 'd', env = "EDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Shared secret servers join with (a bare secret or a full K10 token)
    #[arg(
        long,
        short = 't',
        env = "EDGE_TOKEN",
        hide_env_values = true,
        value_parser = TokenArg
    )]
    pub token: Option<Token>,

    /// File holding the token
    #[arg(long, env = "EDGE_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Datastore: sqlite:///path, postgres://user:pass@host:5432/db or
    /// mysql://user:pass@tcp(host:3306)/db [default: sqlite in the data dir]
    #[arg(long, env = "EDGE_DATASTORE_ENDPOINT", hide_env_values = true)]
    pub datastore_endpoint: Option<String>,

    /// CA file for the datastore's TLS
    #[arg(long, env = "EDGE_DATASTORE_CAFILE", value_name = "FILE")]
    pub datastore_cafile: Option<PathBuf>,

    /// Client certificate for the datastore's TLS
    #[arg(long, env = "EDGE_DATASTORE_CERTFILE", value_name = "FILE")]
    pub datastore_certfile: Option<PathBuf>,

    /// Client key for the datastore's TLS
    #[arg(long, env = "EDGE_DATASTORE_KEYFILE", value_name = "FILE")]
    pub datastore_keyfile: Option<PathBuf>,

    /// Address the API server listens on [default: 0.0.0.0]
    #[arg(long, env = "EDGE_BIND_ADDRESS")]
    pub bind_address: Option<IpAddr>,

    /// Port of the API server and supervisor [default: 6443]
    #[arg(long, env = "EDGE_HTTPS_LISTEN_PORT")]
    pub https_listen_port: Option<u16>,

    /// Address other nodes reach this server on [default: the node IP]
    #[arg(long, env = "EDGE_ADVERTISE_ADDRESS")]
    pub advertise_address: Option<IpAddr>,

    /// Extra hostname or IP in the serving certificate (repeatable)
    #[arg(long, env = "EDGE_TLS_SAN", value_delimiter = ',')]
    pub tls_san: Vec<String>,

    /// Node name [default: the hostname]
    #[arg(long, env = "EDGE_NODE_NAME")]
    pub node_name: Option<NodeName>,

    /// Node IP address (repeatable) [default: the address of the default route]
    #[arg(long, env = "EDGE_NODE_IP", value_delimiter = ',')]
    pub node_ip: Vec<IpAddr>,

    /// Node label key=value (repeatable)
    #[arg(long, env = "EDGE_NODE_LABEL", value_delimiter = ',')]
    pub node_label: Vec<Label>,

    /// Node taint key=value:Effect (repeatable)
    #[arg(long, env = "EDGE_NODE_TAINT", value_delimiter = ',')]
    pub node_taint: Vec<Taint>,

    /// Pod network [default: 10.42.0.0/16]
    #[arg(long, env = "EDGE_CLUSTER_CIDR")]
    pub cluster_cidr: Option<Cidr>,

    /// Service network [default: 10.43.0.0/16]
    #[arg(long, env = "EDGE_SERVICE_CIDR")]
    pub service_cidr: Option<Cidr>,

    /// Cluster DNS service IP [default: 10.43.0.10]
    #[arg(long, env = "EDGE_CLUSTER_DNS")]
    pub cluster_dns: Option<IpAddr>,

    /// Cluster domain [default: cluster.local]
    #[arg(long, env = "EDGE_CLUSTER_DOMAIN")]
    pub cluster_domain: Option<String>,

    /// Packaged component not to deploy (repeatable): coredns, servicelb,
    /// traefik, local-storage, metrics-server, runtimes
    #[arg(long, env = "EDGE_DISABLE", value_delimiter = ',')]
    pub disable: Vec<String>,

    /// Disable the Helm controller
    #[arg(long, env = "EDGE_DISABLE_HELM_CONTROLLER", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_helm_controller: Option<bool>,

    /// Disable kube-proxy
    #[arg(long, env = "EDGE_DISABLE_KUBE_PROXY", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_kube_proxy: Option<bool>,

    /// Disable the network policy controller
    #[arg(long, env = "EDGE_DISABLE_NETWORK_POLICY", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_network_policy: Option<bool>,

    /// Encrypt Secret data at rest in the datastore
    #[arg(long, env = "EDGE_SECRETS_ENCRYPTION", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub secrets_encryption: Option<bool>,

    /// How long a node may go without renewing its Lease before the leader
    /// marks it Ready=Unknown and taints it unreachable [default: 40s]
    #[arg(long, env = "EDGE_NODE_MONITOR_GRACE_PERIOD", value_name = "DURATION")]
    pub node_monitor_grace_period: Option<Interval>,

    /// Write the admin kubeconfig here [default: /etc/edge/edge.yaml as root,
    /// else <data-dir>/edge.yaml]
    #[arg(long, short = 'o', env = "EDGE_KUBECONFIG_OUTPUT", value_name = "FILE")]
    pub write_kubeconfig: Option<PathBuf>,

    /// Mode of the kubeconfig file, octal [default: 0600]
    #[arg(long, env = "EDGE_KUBECONFIG_MODE")]
    pub write_kubeconfig_mode: Option<FileMode>,

    /// Virtual IPv4 address the servers elect a holder for with VRRP (the
    /// fixed registration address). Added to the serving certificate; needs
    /// CAP_NET_RAW and CAP_NET_ADMIN
    #[arg(
        long,
        env = "EDGE_VIP",
        value_name = "ADDR",
        help_heading = "Virtual IP"
    )]
    pub vip: Option<VirtualIp>,

    /// Interface that carries the VIP [default: the one whose IPv4 subnet
    /// holds --vip]
    #[arg(
        long,
        env = "EDGE_VIP_INTERFACE",
        value_name = "IFACE",
        help_heading = "Virtual IP"
    )]
    pub vip_interface: Option<InterfaceName>,

    /// VRRP virtual router id, 1-255: the same on every server, and unused by
    /// any other VRRP router on the network (required with --vip)
    #[arg(
        long,
        env = "EDGE_VRRP_ID",
        value_name = "N",
        help_heading = "Virtual IP"
    )]
    pub vrrp_id: Option<Vrid>,

    /// VRRP priority, 1-254: the highest ready server holds the VIP. While
    /// this server's API is not ready it advertises 1, so any ready server
    /// wins [default: 100]
    #[arg(
        long,
        env = "EDGE_VRRP_PRIORITY",
        value_name = "N",
        help_heading = "Virtual IP"
    )]
    pub vrrp_priority: Option<Priority>,

    /// VRRP advertisement interval, 10ms-40950ms in steps of 10ms; a crashed
    /// holder is replaced after about 3.5 intervals [default: 1s]
    #[arg(
        long,
        env = "EDGE_VRRP_ADVERT_INTERVAL",
        value_name = "DURATION",
        help_heading = "Virtual IP"
    )]
    pub vrrp_advert_interval: Option<AdvertInterval>,

    /// Send VRRP adverts to this server address instead of multicast
    /// 224.0.0.18, for networks without multicast (repeatable; list every
    /// server, this server's own address is skipped)
    #[arg(
        long = "vrrp-unicast-peer",
        env = "EDGE_VRRP_UNICAST_PEER",
        value_delimiter = ',',
        value_name = "ADDR",
        help_heading = "Virtual IP"
    )]
    pub vrrp_unicast_peer: Vec<Ipv4Addr>,

    /// VRRP checksum to send: pseudo-header (what keepalived expects) or
    /// message-only (RFC 9568); both are accepted [default: pseudo-header]
    #[arg(
        long,
        env = "EDGE_VRRP_CHECKSUM",
        value_name = "MODE",
        help_heading = "Virtual IP"
    )]
    pub vrrp_checksum: Option<ChecksumMode>,
}

/// clap's parser for `--token`/`EDGE_TOKEN`: [`Token::parse`], with an error
/// that, unlike clap's own "invalid value '…'", never repeats the value.
#[derive(Clone, Copy, Debug)]
pub struct TokenArg;

impl clap::builder::TypedValueParser for TokenArg {
    type Value = Token;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Token, clap::Error> {
        let name = arg.map_or_else(|| "--token".to_owned(), |a| format!("--{}", a.get_id()));
        let invalid = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for {name}: {message}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| invalid("the token is not UTF-8".into()))?;
        Token::parse(text).map_err(|e| invalid(e.to_string()))
    }
}

/// The config file to read: `--config`, else [`DEFAULT_CONFIG_FILE`] if it exists.
pub(crate) fn config_file_path(flag: &Option<PathBuf>) -> Option<PathBuf> {
    match flag {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
    }
}

/// `--token`, else the token in `--token-file`, for either role.
pub(crate) fn resolve_token(
    token: Option<Token>,
    token_file: Option<PathBuf>,
) -> Result<Option<Token>, ConfigError> {
    match (token, token_file) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(path)) => {
            let text = Secret::new(std::fs::read_to_string(&path).map_err(|source| {
                ConfigError::Read {
                    path: path.clone(),
                    source,
                }
            })?);
            Token::parse_trimmed(text.expose())
                .map(Some)
                .map_err(|e| ConfigError::Invalid {
                    key: "token-file".into(),
                    message: format!("{}: {e}", path.display()),
                })
        }
        (None, None) => Ok(None),
    }
}

/// A repeatable flag's value: the flags' if any were given, else the file's.
pub(crate) fn first<T>(flags: Vec<T>, file: Vec<T>) -> Vec<T> {
    if flags.is_empty() { file } else { flags }
}

/// `edged server`'s flags as a clap command: [`ServerArgs`] is the one
/// declaration of each flag, and every other surface (the config file's keys
/// and value parsing, where edge.yaml keeps it, what `edged init` renders) is
/// read from this command.
pub fn server_command() -> clap::Command {
    use clap::Args as _;
    ServerArgs::augment_args(clap::Command::new("edged server"))
}

/// Long names of `edged server`'s flags, in declaration order.
pub fn server_flags() -> Vec<String> {
    server_command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

/// Where a flag's value lives in `edge.yaml`, the device model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeHome {
    /// A top-level key of the same name.
    Top,
    /// A key of the `vip:` section.
    Vip(&'static str),
    /// Set by `edged init` itself (paths on the device), not from edge.yaml.
    Init,
}

/// Where `edge.yaml` keeps the flag `--name`: a key of the same name unless
/// listed here.
pub fn edge_home(name: &str) -> EdgeHome {
    match name {
        "config" | "data-dir" | "write-kubeconfig" => EdgeHome::Init,
        "vip" => EdgeHome::Vip("address"),
        "vip-interface" => EdgeHome::Vip("interface"),
        "vrrp-id" => EdgeHome::Vip("vrrp-id"),
        "vrrp-priority" => EdgeHome::Vip("priority"),
        "vrrp-advert-interval" => EdgeHome::Vip("advert-interval"),
        "vrrp-unicast-peer" => EdgeHome::Vip("unicast-peers"),
        "vrrp-checksum" => EdgeHome::Vip("checksum"),
        _ => EdgeHome::Top,
    }
}

/// Reads `edged server`'s runtime config file (`--config`): see
/// [`read_flags_file`].
pub fn read_config_file(path: &Path) -> Result<ServerArgs, ConfigError> {
    read_flags_file(path, server_command())
}

/// Reads a runtime config file (`--config`) for the flags of `command` (a
/// role's clap command, built from `A`): each key a long flag name, each
/// value what the flag takes on the command line (a list for a repeatable
/// flag), parsed by that flag's own value parser, so the file accepts
/// exactly what the flag accepts. Errors carry the file, line and column.
pub fn read_flags_file<A>(path: &Path, command: clap::Command) -> Result<A, ConfigError>
where
    A: Default + clap::FromArgMatches,
{
    use crate::tree::{self, Layer, Scalar, Source, Value};

    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let source = Source::new(path.display().to_string(), Layer::Device);
    let failed = |e: tree::TreeError| ConfigError::Parse {
        path: path.to_owned(),
        message: e
            .to_string()
            .trim_start_matches(&format!("{}:", path.display()))
            .to_owned(),
    };
    let at = |loc: &tree::Loc, message: String| ConfigError::Parse {
        path: path.to_owned(),
        message: format!("line {} column {}: {message}", loc.line, loc.column),
    };
    let text = tree::decode(&bytes, &source).map_err(failed)?;
    let root = tree::parse_yaml(&text, &source).map_err(failed)?;
    let Value::Map(entries) = &root.value else {
        return Err(at(
            &root.loc,
            "expected keys (flag names without the dashes) and their values".into(),
        ));
    };
    // The file is its own layer, below the environment: EDGE_* must not
    // fill in a flag here.
    let command = command.no_binary_name(true).mut_args(|a| a.env(None));
    let flags: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    let keys: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .filter(|k| *k != "config")
        .collect();
    let mut args = A::default();
    for entry in entries {
        let key = entry.key.as_str();
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key) && key != "config")
            .ok_or_else(|| {
                let message = if key == "config" {
                    "a config file cannot name another config file; remove `config`".into()
                } else {
                    tree::unknown_key_message(key, &keys)
                };
                at(&entry.key_loc, message)
            })?;
        let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
        let scalar = |node: &tree::Node| match &node.value {
            Value::Scalar { text, .. } => Ok(text.clone()),
            Value::Seq(_) => Err(at(
                &node.loc,
                format!("{key}: expected a value, found a list"),
            )),
            Value::Map(_) => Err(at(
                &node.loc,
                format!("{key}: expected a value, found a mapping (nested keys)"),
            )),
        };
        let values = match &entry.value.value {
            Value::Scalar {
                kind: Scalar::Null, ..
            } => continue,
            Value::Seq(items) if repeatable => {
                items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?
            }
            Value::Seq(_) => {
                return Err(at(
                    &entry.value.loc,
                    format!("{key} takes one value, not a list"),
                ));
            }
            _ => vec![scalar(&entry.value)?],
        };
        let parse = |values: &[String]| {
            let argv = values.iter().map(|v| format!("--{key}={v}"));
            command.clone().try_get_matches_from(argv)
        };
        let matches = parse(&values).map_err(|e| {
            // Point at the item of a list that is wrong, not at the list.
            let items = match &entry.value.value {
                Value::Seq(items) => items.as_slice(),
                _ => std::slice::from_ref(&entry.value),
            };
            let wrong = items
                .iter()
                .zip(&values)
                .find_map(|(item, v)| parse(std::slice::from_ref(v)).err().map(|e| (item, e)));
            match wrong {
                Some((item, e)) => at(&item.loc, clap_message(&e)),
                None => at(&entry.value.loc, clap_message(&e)),
            }
        })?;
        args.update_from_arg_matches(&matches)
            .map_err(|e| at(&entry.value.loc, clap_message(&e)))?;
    }
    Ok(args)
}

/// clap's message for a value in the config file, without clap's usage and
/// tip: which flag, the value, and why (the value parser's cause, or the
/// values clap would take). [`TokenArg`]'s errors never hold the value.
fn clap_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let flag = e
        .get(ContextKind::InvalidArg)
        .map(|a| a.to_string())
        .and_then(|a| a.split(['=', ' ', '[']).next().map(str::to_owned));
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => Some(v.clone()),
        _ => None,
    };
    let why = std::error::Error::source(e)
        .map(ToString::to_string)
        .or_else(|| match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => Some(format!("expected {}", valid.join(" or "))),
            _ => None,
        });
    match (flag, value, why) {
        (Some(flag), Some(value), Some(why)) => {
            format!("invalid {}: {value:?}: {why}", flag.trim_start_matches('-'))
        }
        _ => e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned(),
    }
}

/// Components `--disable` accepts (K3s's packaged add-ons).
pub const DISABLABLE: &[&str] = &[
    "coredns",
    "servicelb",
    "traefik",
    "local-storage",
    "metrics-server",
    "runtimes",
];

/// K3s's `--cluster-cidr` default.
pub fn default_cluster_cidr() -> Cidr {
    Cidr::of_address(IpAddr::V4(Ipv4Addr::new(10, 42, 0, 0)), 16)
}

/// K3s's `--service-cidr` default.
pub fn default_service_cidr() -> Cidr {
    Cidr::of_address(IpAddr::V4(Ipv4Addr::new(10, 43, 0, 0)), 16)
}

/// K3s's `--cluster-dns` default.
pub const DEFAULT_CLUSTER_DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 10));

/// The rules the three network flags must keep together, for `edged server`
/// and `edgectl config validate` alike: each broken one as (flag, message).
pub fn network_errors(cluster: Cidr, service: Cidr, dns: IpAddr) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if !service.contains(dns) {
        errors.push((
            "cluster-dns",
            format!("{dns} is outside the service network {service} (service-cidr)"),
        ));
    }
    if cluster.contains(service.addr()) || service.contains(cluster.addr()) {
        errors.push((
            "service-cidr",
            format!(
                "the service network {service} overlaps the pod network {cluster} (cluster-cidr)"
            ),
        ));
    }
    errors
}

/// Flags every server of a cluster must agree on (K3s's list). The first
/// server records them in the datastore; the others must match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CriticalConfig {
    pub cluster_cidr: Cidr,
    pub service_cidr: Cidr,
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
    pub disable: Vec<String>,
    pub disable_helm_controller: bool,
    pub disable_kube_proxy: bool,
    pub disable_network_policy: bool,
    pub secrets_encryption: bool,
}

/// The virtual IP this server competes for: `--vip` and the `--vrrp-*`
/// flags, each value already validated by the `vrrp` crate's types. Checks
/// that need the system (the interface and its subnets, capabilities) happen
/// when the server starts (`edge_runtime::vip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    pub vip: VirtualIp,
    /// `None`: the interface whose IPv4 subnet holds the VIP, found at start.
    pub interface: Option<InterfaceName>,
    pub vrid: Vrid,
    pub priority: Priority,
    pub advert_interval: AdvertInterval,
    /// Empty: multicast to 224.0.0.18.
    pub unicast_peers: Vec<Ipv4Addr>,
    pub checksum: ChecksumMode,
}

/// The `--vrrp-*` values before they are checked against `--vip`.
struct VipInputs {
    vip: Option<VirtualIp>,
    interface: Option<InterfaceName>,
    vrid: Option<Vrid>,
    priority: Option<Priority>,
    advert_interval: Option<AdvertInterval>,
    unicast_peers: Vec<Ipv4Addr>,
    checksum: Option<ChecksumMode>,
}

impl VipInputs {
    fn resolve(self) -> Result<Option<VipConfig>, ConfigError> {
        let Some(vip) = self.vip else {
            let set = [
                ("vip-interface", self.interface.is_some()),
                ("vrrp-id", self.vrid.is_some()),
                ("vrrp-priority", self.priority.is_some()),
                ("vrrp-advert-interval", self.advert_interval.is_some()),
                ("vrrp-unicast-peer", !self.unicast_peers.is_empty()),
                ("vrrp-checksum", self.checksum.is_some()),
            ];
            return match set.iter().find(|(_, given)| *given) {
                Some((key, _)) => Err(ConfigError::Invalid {
                    key: (*key).into(),
                    message: format!(
                        "--{key} only applies with --vip; set --vip to the virtual IP, or drop --{key}"
                    ),
                }),
                None => Ok(None),
            };
        };
        let vrid = self.vrid.ok_or_else(|| ConfigError::Invalid {
            key: "vrrp-id".into(),
            message: format!(
                "--vip {vip} needs --vrrp-id: a virtual router id 1..=255, the same on every \
                 server and unused by other VRRP routers on the network"
            ),
        })?;
        let mut unicast_peers = self.unicast_peers;
        unicast_peers.sort();
        unicast_peers.dedup();
        Ok(Some(VipConfig {
            vip,
            interface: self.interface,
            vrid,
            priority: self.priority.unwrap_or_default(),
            advert_interval: self.advert_interval.unwrap_or_default(),
            unicast_peers,
            checksum: self.checksum.unwrap_or_default(),
        }))
    }
}

/// A resolved, validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub token: Option<Token>,
    pub datastore: Endpoint,
    /// Whether the datastore was given (false: the embedded SQLite default).
    pub external_datastore: bool,
    pub bind_address: IpAddr,
    pub https_listen_port: u16,
    pub advertise_address: Option<IpAddr>,
    pub tls_san: Vec<String>,
    pub node_name: Option<NodeName>,
    pub node_ip: Vec<IpAddr>,
    pub node_label: Vec<Label>,
    pub node_taint: Vec<Taint>,
    pub critical: CriticalConfig,
    pub write_kubeconfig: PathBuf,
    pub write_kubeconfig_mode: FileMode,
    /// `--vip`: the virtual IP this server competes for, if any.
    pub vip: Option<VipConfig>,
    /// `--node-monitor-grace-period`.
    pub node_monitor_grace_period: std::time::Duration,
}

/// `--node-monitor-grace-period`'s default (kube-controller-manager's).
pub const DEFAULT_NODE_MONITOR_GRACE_PERIOD: std::time::Duration =
    std::time::Duration::from_secs(40);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The data dir when none is configured: `/var/lib/edge` as root, else `~/.edge`.
pub fn default_data_dir() -> PathBuf {
    if is_root() {
        PathBuf::from("/var/lib/edge")
    } else {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".edge")
    }
}

impl ServerArgs {
    /// Merges flags and environment (already in `self`, by clap) over the
    /// config file over the defaults, and validates the result.
    pub fn resolve(self) -> Result<ServerConfig, ConfigError> {
        let file_path = config_file_path(&self.config);
        let file = match &file_path {
            Some(p) => read_config_file(p)?,
            None => ServerArgs::default(),
        };

        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let token_file = self.token_file.or(file.token_file);
        let token = resolve_token(self.token.or(file.token), token_file)?;
        let tls = TlsFiles {
            ca_file: self.datastore_cafile.or(file.datastore_cafile),
            cert_file: self.datastore_certfile.or(file.datastore_certfile),
            key_file: self.datastore_keyfile.or(file.datastore_keyfile),
        };
        let endpoint = self.datastore_endpoint.or(file.datastore_endpoint);
        let external_datastore = endpoint.is_some();
        let datastore = match endpoint {
            Some(e) => Endpoint::parse_with_tls(&e, tls).map_err(|e| ConfigError::Invalid {
                key: "datastore-endpoint".into(),
                message: e.to_string(),
            })?,
            None => Endpoint::default_sqlite(&data_dir),
        };

        let mut disable = first(self.disable, file.disable);
        for d in &disable {
            if !DISABLABLE.contains(&d.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "disable".into(),
                    message: format!(
                        "unknown component {d:?}; expected one of {}",
                        DISABLABLE.join(", ")
                    ),
                });
            }
        }
        disable.sort();
        disable.dedup();
        let cluster_domain = self
            .cluster_domain
            .or(file.cluster_domain)
            .unwrap_or_else(|| "cluster.local".into());
        if !crate::types::is_dns_subdomain(&cluster_domain) {
            return Err(ConfigError::Invalid {
                key: "cluster-domain".into(),
                message: format!("{cluster_domain:?} is not a DNS domain"),
            });
        }
        let critical = CriticalConfig {
            cluster_cidr: self
                .cluster_cidr
                .or(file.cluster_cidr)
                .unwrap_or_else(default_cluster_cidr),
            service_cidr: self
                .service_cidr
                .or(file.service_cidr)
                .unwrap_or_else(default_service_cidr),
            cluster_dns: self
                .cluster_dns
                .or(file.cluster_dns)
                .unwrap_or(DEFAULT_CLUSTER_DNS),
            cluster_domain,
            disable,
            disable_helm_controller: self
                .disable_helm_controller
                .or(file.disable_helm_controller)
                .unwrap_or(false),
            disable_kube_proxy: self
                .disable_kube_proxy
                .or(file.disable_kube_proxy)
                .unwrap_or(false),
            disable_network_policy: self
                .disable_network_policy
                .or(file.disable_network_policy)
                .unwrap_or(false),
            secrets_encryption: self
                .secrets_encryption
                .or(file.secrets_encryption)
                .unwrap_or(false),
        };
        if let Some((key, message)) = network_errors(
            critical.cluster_cidr,
            critical.service_cidr,
            critical.cluster_dns,
        )
        .into_iter()
        .next()
        {
            return Err(ConfigError::Invalid {
                key: key.into(),
                message,
            });
        }
        let vip = VipInputs {
            vip: self.vip.or(file.vip),
            interface: self.vip_interface.or(file.vip_interface),
            vrid: self.vrrp_id.or(file.vrrp_id),
            priority: self.vrrp_priority.or(file.vrrp_priority),
            advert_interval: self.vrrp_advert_interval.or(file.vrrp_advert_interval),
            unicast_peers: first(self.vrrp_unicast_peer, file.vrrp_unicast_peer),
            checksum: self.vrrp_checksum.or(file.vrrp_checksum),
        }
        .resolve()?;
        let write_kubeconfig = self
            .write_kubeconfig
            .or(file.write_kubeconfig)
            .unwrap_or_else(|| {
                if is_root() {
                    PathBuf::from("/etc/edge/edge.yaml")
                } else {
                    data_dir.join("edge.yaml")
                }
            });
        Ok(ServerConfig {
            token,
            datastore,
            external_datastore,
            bind_address: self
                .bind_address
                .or(file.bind_address)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            https_listen_port: self
                .https_listen_port
                .or(file.https_listen_port)
                .unwrap_or(6443),
            advertise_address: self.advertise_address.or(file.advertise_address),
            tls_san: first(self.tls_san, file.tls_san),
            node_name: self.node_name.or(file.node_name),
            node_ip: first(self.node_ip, file.node_ip),
            node_label: first(self.node_label, file.node_label),
            node_taint: first(self.node_taint, file.node_taint),
            critical,
            write_kubeconfig,
            write_kubeconfig_mode: self
                .write_kubeconfig_mode
                .or(file.write_kubeconfig_mode)
                .unwrap_or(FileMode(0o600)),
            vip,
            node_monitor_grace_period: self
                .node_monitor_grace_period
                .or(file.node_monitor_grace_period)
                .map_or(DEFAULT_NODE_MONITOR_GRACE_PERIOD, |i| i.0),
            data_dir,
        })
    }
}

/// `edged server ARGV…` resolved as the binary would resolve it (flags,
/// environment, config file), with clap's or the resolver's message on error.
pub fn parse_argv(argv: &[&str]) -> Result<ServerConfig, String> {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    let cli = Cli::try_parse_from(std::iter::once("edged").chain(argv.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.args.resolve().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<ServerConfig, String> {
        parse_argv(argv)
    }

    #[test]
    fn defaults_are_k3s_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = parse(&["--data-dir", &dir.path().display().to_string()]).expect("valid");
        assert_eq!(c.critical.cluster_cidr.to_string(), "10.42.0.0/16");
        assert_eq!(c.critical.service_cidr.to_string(), "10.43.0.0/16");
        assert_eq!(c.critical.cluster_dns.to_string(), "10.43.0.10");
        assert_eq!(c.critical.cluster_domain, "cluster.local");
        assert_eq!(c.https_listen_port, 6443);
        assert!(!c.external_datastore);
        assert_eq!(
            c.datastore.sqlite_path(),
            Some(dir.path().join("server/db/state.db").as_path())
        );
        assert_eq!(c.write_kubeconfig_mode, FileMode(0o600));
    }

    #[test]
    fn flags_beat_the_file_and_lists_come_from_either() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            "cluster-cidr: 10.50.0.0/16\ntls-san: edge.example.com\nnode-label: [a=b, c=d]\n\
             secrets-encryption: true\nhttps-listen-port: 7443\n",
        )
        .expect("write");
        let c = parse(&[
            "--config",
            &file.display().to_string(),
            "--https-listen-port",
            "8443",
            "--tls-san",
            "10.0.0.100,vip.local",
        ])
        .expect("valid");
        assert_eq!(c.critical.cluster_cidr.to_string(), "10.50.0.0/16");
        assert_eq!(c.https_listen_port, 8443);
        assert_eq!(c.tls_san, ["10.0.0.100", "vip.local"]);
        assert_eq!(c.node_label.len(), 2);
        assert!(c.critical.secrets_encryption);
    }

    #[test]
    fn datastore_tls_files_reach_the_endpoint_from_flags_or_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            "datastore-endpoint: postgres://edge:pw@db:5432/k\n\
             datastore-cafile: /file/ca.pem\ndatastore-keyfile: /file/key.pem\n",
        )
        .expect("write");
        let c = parse(&[
            "--config",
            &file.display().to_string(),
            "--datastore-certfile",
            "/flag/cert.pem",
            "--datastore-cafile",
            "/flag/ca.pem",
        ])
        .expect("valid");
        let tls = c.datastore.tls_files();
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/flag/ca.pem")));
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("/flag/cert.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("/file/key.pem")));
    }

    /// Flag, config file and token file parse the token with the one
    /// [`Token`] parser: the same refusals, none of which repeats the value.
    #[test]
    fn every_token_source_is_one_word_and_never_echoed() {
        let dir = tempfile::tempdir().expect("tmp");
        let config = dir.path().join("config.yaml");
        let token_file = dir.path().join("token");
        std::fs::write(&config, "token: \"hunter2 x\"\n").expect("write");
        std::fs::write(&token_file, "hunter2 x\n").expect("write");
        let (config, token_file) = (
            config.display().to_string(),
            token_file.display().to_string(),
        );
        for (argv, key) in [
            (vec!["--token", "hunter2 x"], "--token"),
            (vec!["--config", &config], "line 1 column 8"),
            (vec!["--token-file", &token_file], "invalid token-file"),
        ] {
            let e = parse(&argv).expect_err("refused");
            assert!(
                e.contains(key) && e.contains("the token contains spaces"),
                "{argv:?}: {e}"
            );
            assert!(!e.contains("hunter2"), "{argv:?}: the token leaked: {e}");
        }
        // A token file's final newline is not part of the token.
        std::fs::write(dir.path().join("token"), "K10::server:hunter2\n").expect("write");
        let c = parse(&["--token-file", &token_file]).expect("valid");
        assert_eq!(c.token.expect("token").secret().expose(), "hunter2");
    }

    #[test]
    fn bad_input_names_the_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "token: hunter2-token\nclustr-dns: 10.43.0.10\n").expect("write");
        let e = parse(&["--config", &file.display().to_string()]).expect_err("typo refused");
        assert!(e.contains("line 2 column 1"), "{e}");
        assert!(
            !e.contains("hunter2"),
            "the token leaked into the error: {e}"
        );
        assert!(e.contains("clustr-dns") && e.contains("config.yaml"), "{e}");

        let e = parse(&["--cluster-cidr", "10.42.0.1/16"]).expect_err("host bits");
        assert!(
            e.contains("--cluster-cidr") && e.contains("host bits"),
            "{e}"
        );
        let e = parse(&["--cluster-dns", "10.99.0.10"]).expect_err("dns outside");
        assert!(
            e.contains("cluster-dns") && e.contains("outside the service network"),
            "{e}"
        );
        let e = parse(&["--disable", "trafik"]).expect_err("bad component");
        assert!(e.contains("unknown component \"trafik\""), "{e}");
        let e = parse(&["--node-taint", "a=b:Never"]).expect_err("bad taint");
        assert!(
            e.contains("--node-taint") && e.contains("NoSchedule"),
            "{e}"
        );
        let e = parse(&["--datastore-endpoint", "postgres://u:secretpw@h:99999/db"])
            .expect_err("bad endpoint");
        assert!(
            e.contains("datastore-endpoint") && !e.contains("secretpw"),
            "{e}"
        );
    }

    #[test]
    fn vip_flags_with_defaults_and_overrides() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path().display().to_string();
        let c = parse(&["--data-dir", &d]).expect("valid");
        assert_eq!(c.vip, None, "no VIP unless asked");

        let c =
            parse(&["--data-dir", &d, "--vip", "10.0.0.100", "--vrrp-id", "51"]).expect("valid");
        let v = c.vip.expect("vip");
        assert_eq!(v.vip.to_string(), "10.0.0.100");
        assert_eq!(v.vrid.get(), 51);
        assert_eq!(v.interface, None, "inferred at start");
        assert_eq!(v.priority, Priority::DEFAULT);
        assert_eq!(
            v.advert_interval.duration(),
            std::time::Duration::from_secs(1)
        );
        assert_eq!(v.checksum, ChecksumMode::PseudoHeader);
        assert!(v.unicast_peers.is_empty());

        let c = parse(&[
            "--data-dir",
            &d,
            "--vip",
            "10.0.0.100",
            "--vip-interface",
            "eth0",
            "--vrrp-id",
            "7",
            "--vrrp-priority",
            "150",
            "--vrrp-advert-interval",
            "100ms",
            "--vrrp-unicast-peer",
            "10.0.0.3,10.0.0.2",
            "--vrrp-unicast-peer",
            "10.0.0.2",
            "--vrrp-checksum",
            "message-only",
        ])
        .expect("valid");
        let v = c.vip.expect("vip");
        assert_eq!(
            v.interface.as_ref().map(InterfaceName::as_str),
            Some("eth0")
        );
        assert_eq!(v.priority.get(), 150);
        assert_eq!(v.advert_interval.centiseconds(), 10);
        assert_eq!(
            v.unicast_peers,
            [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert_eq!(v.checksum, ChecksumMode::MessageOnly);
    }

    #[test]
    fn vip_keys_in_the_config_file_and_flags_beat_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            "vip: 10.0.0.100\nvip-interface: eth1\nvrrp-id: 9\nvrrp-priority: 120\n\
             vrrp-advert-interval: 250ms\nvrrp-unicast-peer: [10.0.0.2, 10.0.0.3]\n\
             vrrp-checksum: message-only\n",
        )
        .expect("write");
        let cfg = file.display().to_string();
        let v = parse(&["--config", &cfg]).expect("valid").vip.expect("vip");
        assert_eq!(v.vrid.get(), 9);
        assert_eq!(v.priority.get(), 120);
        assert_eq!(v.advert_interval.centiseconds(), 25);
        assert_eq!(v.unicast_peers.len(), 2);
        assert_eq!(v.checksum, ChecksumMode::MessageOnly);
        let v = parse(&[
            "--config",
            &cfg,
            "--vrrp-priority",
            "200",
            "--vrrp-id",
            "10",
        ])
        .expect("valid")
        .vip
        .expect("vip");
        assert_eq!((v.vrid.get(), v.priority.get()), (10, 200));
        assert_eq!(
            v.interface.as_ref().map(InterfaceName::as_str),
            Some("eth1")
        );

        std::fs::write(&file, "vip: 10.0.0.100\nvrrp-id: 256\n").expect("write");
        let e = parse(&["--config", &cfg]).expect_err("vrid 256");
        assert!(e.contains("config.yaml") && e.contains("256"), "{e}");
        assert!(e.contains("vrid") && e.contains("1..=255"), "{e}");
    }

    #[test]
    fn bad_vip_flags_name_the_flag() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["--vip", "10.0.0.100", "--vrrp-id", "0"],
                &["--vrrp-id", "1..=255"],
            ),
            (
                &["--vip", "10.0.0.100", "--vrrp-id", "256"],
                &["--vrrp-id", "1..=255"],
            ),
            (
                &[
                    "--vip",
                    "10.0.0.100",
                    "--vrrp-id",
                    "1",
                    "--vrrp-priority",
                    "255",
                ],
                &["--vrrp-priority", "1..=254"],
            ),
            (
                &[
                    "--vip",
                    "10.0.0.100",
                    "--vrrp-id",
                    "1",
                    "--vrrp-advert-interval",
                    "105ms",
                ],
                &["--vrrp-advert-interval", "multiple of 10ms"],
            ),
            (
                &[
                    "--vip",
                    "10.0.0.100",
                    "--vrrp-id",
                    "1",
                    "--vrrp-advert-interval",
                    "1",
                ],
                &["--vrrp-advert-interval", "unit"],
            ),
            (
                &[
                    "--vip",
                    "10.0.0.100",
                    "--vrrp-id",
                    "1",
                    "--vrrp-checksum",
                    "v2",
                ],
                &["--vrrp-checksum", "pseudo-header"],
            ),
            (
                &["--vip", "127.0.0.1", "--vrrp-id", "1"],
                &["--vip", "unicast"],
            ),
            (
                &["--vip", "10.0.0.0/24", "--vrrp-id", "1"],
                &["--vip", "IPv4 address"],
            ),
            (
                &[
                    "--vip",
                    "10.0.0.100",
                    "--vrrp-id",
                    "1",
                    "--vip-interface",
                    "a/b",
                ],
                &["--vip-interface"],
            ),
            (&["--vip", "10.0.0.100"], &["--vrrp-id", "needs"]),
            (&["--vrrp-id", "5"], &["--vrrp-id only applies with --vip"]),
            (
                &["--vrrp-unicast-peer", "10.0.0.2"],
                &["--vrrp-unicast-peer only applies with --vip"],
            ),
        ];
        for (argv, wants) in cases {
            let e = parse(argv).expect_err(&argv.join(" "));
            for want in *wants {
                assert!(e.contains(want), "{argv:?}: {want:?} not in: {e}");
            }
        }
    }
}
#[cfg(test)]
mod file_tests {
    use super::*;

    fn read(text: &str) -> Result<ServerArgs, String> {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, text).expect("write");
        read_config_file(&file).map_err(|e| e.to_string())
    }

    /// The file's values go through the flag's own parser: the same text,
    /// the same refusals, each located at the value (the list item) at fault.
    #[test]
    fn the_file_takes_what_the_flag_takes() {
        let a = read(
            "write-kubeconfig-mode: 0644\ndisable-kube-proxy: true\n\
                      node-ip: 10.0.0.1\ntls-san: [a.example, b.example]\nvrrp-id: ~\n",
        )
        .expect("valid");
        assert_eq!(a.write_kubeconfig_mode, Some(FileMode(0o644)));
        assert_eq!(a.disable_kube_proxy, Some(true));
        assert_eq!(a.node_ip.len(), 1);
        assert_eq!(a.tls_san, ["a.example", "b.example"]);
        assert_eq!(a.vrrp_id, None);
        for (text, expected) in [
            (
                "https-listen-port: [1, 2]\n",
                "line 1 column 20: https-listen-port takes one value, not a list",
            ),
            (
                "clustr-cidr: x\n",
                "line 1 column 1: unknown key \"clustr-cidr\"; did you mean \"cluster-cidr\"?",
            ),
            (
                "config: /x\n",
                "line 1 column 1: a config file cannot name another config file",
            ),
            (
                "- a\n",
                "line 1 column 1: expected keys (flag names without the dashes)",
            ),
            (
                "node-label: {a: b}\n",
                "line 1 column 13: node-label: expected a value, found a mapping",
            ),
            (
                "disable-kube-proxy: yes\n",
                "line 1 column 21: invalid disable-kube-proxy: \"yes\": expected true or false",
            ),
            (
                "https-listen-port: 99999\n",
                "line 1 column 20: invalid https-listen-port: \"99999\": 99999 is not in 0..=65535",
            ),
            (
                "node-ip: [10.0.0.1, 10.0.0.300]\n",
                "line 1 column 21: invalid node-ip: \"10.0.0.300\"",
            ),
            (
                "cluster-cidr: 10.42.0.1/16\n",
                "line 1 column 15: invalid cluster-cidr: \"10.42.0.1/16\": ",
            ),
        ] {
            let e = read(text).expect_err(text);
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }
}
