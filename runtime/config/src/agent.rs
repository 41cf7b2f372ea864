//! `edged agent` configuration: K3s's agent flag names, the same keys in a
//! YAML config file, and `EDGE_*` variables (`EDGE_URL`, `EDGE_TOKEN`, …),
//! resolved into one validated [`AgentConfig`]. Precedence: flag > env >
//! file > default, as for the server.
//!
//! Owns the agent's flag set and its defaults. [`AgentArgs`] is the one
//! declaration of each flag; the config file is read through the same
//! parsers ([`crate::server::read_flags_file`]). Must not start anything; the
//! only IO is reading the config and token files.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::ConfigError;
use crate::server::{
    TokenArg, config_file_path, default_data_dir, first, read_flags_file, resolve_token,
};
use crate::token::Token;
use crate::types::{Interval, Label, NodeName, ServerUrl, Taint};

/// The agent's local load balancer port (K3s's `--lb-server-port` default).
pub const DEFAULT_LB_SERVER_PORT: u16 = 6444;
/// How often the agent renews its Lease (the kubelet's
/// `--node-status-update-frequency` default).
pub const DEFAULT_STATUS_UPDATE: Duration = Duration::from_secs(10);

/// Flags of `edged agent`. Every flag may also come from the config file
/// (same name, without dashes in front) or from `EDGE_<NAME>`.
#[derive(Debug, Clone, Default, Args)]
pub struct AgentArgs {
    /// Config file (YAML; keys are the long flag names)
    #[arg(long, short = 'c', env = "EDGE_CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where state lives [default: /var/lib/edge, or ~/.edge when not root]
    #[arg(long, short = 'd', env = "EDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The fixed registration address to join through: https://ADDRESS:6443,
    /// usually the servers' virtual IP
    #[arg(long, short = 's', env = "EDGE_URL", value_name = "URL")]
    pub server: Option<ServerUrl>,

    /// The cluster's token: the full K10 token (its CA hash verifies the
    /// server before anything secret is sent) or the bare secret
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

    /// Node name [default: the hostname]
    #[arg(long, env = "EDGE_NODE_NAME")]
    pub node_name: Option<NodeName>,

    /// Append a random id to the node name (kept in <data-dir>/agent/node-id),
    /// so devices with the same hostname get different node names
    #[arg(long, env = "EDGE_WITH_NODE_ID", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub with_node_id: Option<bool>,

    /// Node IP address (repeatable) [default: the address of the default route]
    #[arg(long, env = "EDGE_NODE_IP", value_delimiter = ',')]
    pub node_ip: Vec<IpAddr>,

    /// Node external IP address (repeatable)
    #[arg(long, env = "EDGE_NODE_EXTERNAL_IP", value_delimiter = ',')]
    pub node_external_ip: Vec<IpAddr>,

    /// Node label key=value (repeatable)
    #[arg(long, env = "EDGE_NODE_LABEL", value_delimiter = ',')]
    pub node_label: Vec<Label>,

    /// Node taint key=value:Effect (repeatable)
    #[arg(long, env = "EDGE_NODE_TAINT", value_delimiter = ',')]
    pub node_taint: Vec<Taint>,

    /// Port of the local load balancer that carries the agent's API traffic
    /// [default: 6444]
    #[arg(long, env = "EDGE_LB_SERVER_PORT")]
    pub lb_server_port: Option<u16>,

    /// How often the node renews its Lease and checks its status [default: 10s]
    #[arg(
        long,
        env = "EDGE_NODE_STATUS_UPDATE_FREQUENCY",
        value_name = "DURATION"
    )]
    pub node_status_update_frequency: Option<Interval>,
}

/// `edged agent`'s flags as a clap command: the one declaration of each.
pub fn agent_command() -> clap::Command {
    AgentArgs::augment_args(clap::Command::new("edged agent"))
}

/// Long names of `edged agent`'s flags, in declaration order.
pub fn agent_flags() -> Vec<String> {
    agent_command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

/// A resolved, validated agent configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub data_dir: PathBuf,
    /// The fixed registration address.
    pub server: url::Url,
    pub token: Token,
    pub node_name: Option<NodeName>,
    pub with_node_id: bool,
    pub node_ip: Vec<IpAddr>,
    pub node_external_ip: Vec<IpAddr>,
    pub node_label: Vec<Label>,
    pub node_taint: Vec<Taint>,
    pub lb_server_port: u16,
    pub node_status_update_frequency: Duration,
}

impl AgentArgs {
    /// Merges flags and environment (already in `self`, by clap) over the
    /// config file over the defaults, and validates the result.
    pub fn resolve(self) -> Result<AgentConfig, ConfigError> {
        let file_path = config_file_path(&self.config);
        let file: AgentArgs = match &file_path {
            Some(p) => read_flags_file(p, agent_command())?,
            None => AgentArgs::default(),
        };
        let server = self
            .server
            .or(file.server)
            .ok_or_else(|| ConfigError::Invalid {
                key: "server".into(),
                message: "an agent needs --server https://ADDRESS:6443 (or EDGE_URL): the \
                          fixed registration address, usually the servers' virtual IP"
                    .into(),
            })?;
        let token = resolve_token(
            self.token.or(file.token),
            self.token_file.or(file.token_file),
        )?
        .ok_or_else(|| ConfigError::Invalid {
            key: "token".into(),
            message: "an agent needs the cluster's token to join: --token, --token-file or \
                      EDGE_TOKEN (the token is in <data-dir>/server/token on a server)"
                .into(),
        })?;
        let lb_server_port = self
            .lb_server_port
            .or(file.lb_server_port)
            .unwrap_or(DEFAULT_LB_SERVER_PORT);
        if lb_server_port == 0 {
            return Err(ConfigError::Invalid {
                key: "lb-server-port".into(),
                message: "0 is not a port; the default is 6444".into(),
            });
        }
        Ok(AgentConfig {
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(default_data_dir),
            server: server.0,
            token,
            node_name: self.node_name.or(file.node_name),
            with_node_id: self.with_node_id.or(file.with_node_id).unwrap_or(false),
            node_ip: first(self.node_ip, file.node_ip),
            node_external_ip: first(self.node_external_ip, file.node_external_ip),
            node_label: first(self.node_label, file.node_label),
            node_taint: first(self.node_taint, file.node_taint),
            lb_server_port,
            node_status_update_frequency: self
                .node_status_update_frequency
                .or(file.node_status_update_frequency)
                .map_or(DEFAULT_STATUS_UPDATE, |i| i.0),
        })
    }
}

/// Parses `edged agent` flags (without the program name), for tests.
pub fn parse_agent_argv(argv: &[&str]) -> Result<AgentConfig, String> {
    use clap::FromArgMatches as _;
    let matches = agent_command()
        .no_binary_name(true)
        .try_get_matches_from(argv)
        .map_err(|e| e.to_string())?;
    AgentArgs::from_arg_matches(&matches)
        .map_err(|e| e.to_string())?
        .resolve()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_command_parses() {
        let c = parse_agent_argv(&[
            "--server",
            "https://10.0.0.100:6443",
            "--token",
            "SECRET",
            "--config",
            "/nonexistent-edge-agent-config.yaml",
        ]);
        // A named config file must exist.
        assert!(c.expect_err("missing file").contains("cannot read"));
        let c = parse_agent_argv(&["--server", "https://10.0.0.100:6443", "--token", "SECRET"])
            .expect("valid");
        assert_eq!(c.server.as_str(), "https://10.0.0.100:6443/");
        assert_eq!(c.lb_server_port, 6444);
        assert_eq!(c.node_status_update_frequency, Duration::from_secs(10));
        assert!(!c.with_node_id);
    }

    #[test]
    fn server_must_be_https_and_token_is_required() {
        let e = parse_agent_argv(&["--server", "http://10.0.0.100:6443", "--token", "S"])
            .expect_err("http");
        assert!(e.contains("must use https://"), "{e}");
        let e = parse_agent_argv(&["--server", "10.0.0.100:6443", "--token", "S"])
            .expect_err("no scheme");
        assert!(e.contains("--server"), "{e}");
        let e = parse_agent_argv(&["--server", "https://10.0.0.100:6443"]).expect_err("token");
        assert!(e.contains("needs the cluster's token"), "{e}");
        let e = parse_agent_argv(&["--token", "S"]).expect_err("server");
        assert!(e.contains("needs --server"), "{e}");
    }

    #[test]
    fn the_config_file_takes_the_flag_names() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("agent.yaml");
        std::fs::write(
            &file,
            "server: https://10.0.0.100:6443\ntoken: SECRET\nnode-label: [a=b, c=d]\n\
             with-node-id: true\nnode-status-update-frequency: 2s\n",
        )
        .expect("write");
        let path = file.display().to_string();
        let c = parse_agent_argv(&["--config", &path, "--node-label", "x=y"]).expect("valid");
        assert_eq!(c.node_label.len(), 1, "flags replace the file's list");
        assert!(c.with_node_id);
        assert_eq!(c.node_status_update_frequency, Duration::from_secs(2));
        std::fs::write(&file, "server: https://10.0.0.100:6443\ntokn: SECRET\n").expect("write");
        let e = parse_agent_argv(&["--config", &path]).expect_err("typo");
        assert!(e.contains("line 2") && e.contains("tokn"), "{e}");
    }
}
