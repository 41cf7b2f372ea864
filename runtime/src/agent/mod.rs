//! The agent role: `edged agent` from a resolved configuration to a
//! registered, heartbeating node that servers can reach through its tunnels.
//!
//! Start-up order: the node's identity (name, password), the load balancer
//! on `127.0.0.1:--lb-server-port` (its fixed address is `--server`), the
//! join through it ([`join`]: CA check, then certificates), the live
//! servers (`/v1-edge/apiservers`) and a tunnel to each, the Node, then the
//! heartbeat and the server-list follower. A wrong token, a CA that is not
//! the token's, or a node name owned by another device ends the agent
//! (exit 1, with the reason); an unreachable cluster is retried with backoff.
//!
//! Owns composing those parts and the tunnel set. Must not hold protocol
//! details: the balancer, the tunnel wire and the Node's content live in
//! their own modules.

pub mod balancer;
pub mod client;
pub mod join;
pub mod kubelet;
pub mod node;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::controllers::node::NodeSettings;
use balancer::Balancer;
use client::ApiClient;
use edge_config::agent::AgentConfig;
use edge_config::types::NodeName;
use join::{AgentFiles, JoinError};

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Join(#[from] JoinError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "cannot listen on 127.0.0.1:{port} for the load balancer: {source} (is another agent \
         running? choose another --lb-server-port)"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Files(#[from] edge_pki::PkiError),
    #[error("cannot register the node: {0}")]
    Register(client::CallError),
}

/// What a running agent knows about itself, for callers that embed it.
#[derive(Debug, Clone)]
pub struct Running {
    pub node_name: NodeName,
    /// The load balancer's port.
    pub lb_port: u16,
}

/// The node's name: `--node-name` or the hostname, with `-<id>` appended
/// under `--with-node-id`.
fn node_name(config: &AgentConfig, files: &AgentFiles) -> Result<NodeName, AgentError> {
    let base = match &config.node_name {
        Some(n) => n.clone(),
        None => NodeName::from_hostname(&crate::server::hostname()).map_err(|e| {
            AgentError::Invalid(format!(
                "the hostname cannot be a node name ({e}); set --node-name"
            ))
        })?,
    };
    if !config.with_node_id {
        return Ok(base);
    }
    let id = join::node_id(files)?;
    format!("{base}-{id}")
        .parse()
        .map_err(|e: String| AgentError::Invalid(format!("--with-node-id: {e}")))
}

/// `host:port` of a `https://` URL (port 6443 when not given).
fn host_port(url: &url::Url) -> Result<String, AgentError> {
    let host = url
        .host_str()
        .ok_or_else(|| AgentError::Invalid(format!("--server {url} has no host")))?;
    let port = url.port().unwrap_or(6443);
    Ok(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// The agent's tunnels, one per known server, each reporting its state to
/// the balancer.
struct TunnelSet {
    lb: Balancer,
    tls: Arc<rustls::ClientConfig>,
    running: Mutex<HashMap<String, CancellationToken>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl TunnelSet {
    /// Opens tunnels to servers new in `servers`, closes those gone.
    fn sync(&self, servers: &[String]) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.retain(|address, cancel| {
            let keep = servers.contains(address);
            if !keep {
                cancel.cancel();
            }
            keep
        });
        for address in servers {
            if running.contains_key(address) {
                continue;
            }
            let cancel = self.stop.child_token();
            running.insert(address.clone(), cancel.clone());
            let (lb, tls, address) = (self.lb.clone(), self.tls.clone(), address.clone());
            self.tasks.spawn(async move {
                let mut failing = false;
                loop {
                    let up = {
                        let (lb, address) = (lb.clone(), address.clone());
                        move || {
                            tracing::info!(server = %address, "tunnel connected");
                            lb.set_healthy(&address, true);
                        }
                    };
                    let ended = tokio::select! {
                        () = cancel.cancelled() => None,
                        r = crate::tunnel::dial(&address, tls.clone(), kubelet::router(), up) => Some(r),
                    };
                    lb.set_healthy(&address, false);
                    let Some(result) = ended else { return };
                    match result {
                        Err(e) if !failing => {
                            tracing::warn!(server = %address, error = %e, "tunnel down; reconnecting");
                        }
                        Err(e) => tracing::debug!(server = %address, error = %e, "tunnel still down"),
                        Ok(()) => tracing::info!(server = %address, "tunnel closed; reconnecting"),
                    }
                    failing = true;
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            });
        }
    }
}

/// Fetches the live servers and applies them to the balancer and tunnels.
async fn refresh_servers(api: &ApiClient, lb: &Balancer, tunnels: &TunnelSet) -> bool {
    match api
        .call(http::Method::GET, "/v1-edge/apiservers", None)
        .await
    {
        Ok(list) => {
            let servers: Vec<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            if servers.is_empty() {
                return false;
            }
            lb.update(servers.clone());
            tunnels.sync(&servers);
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "cannot list the servers");
            false
        }
    }
}

/// Follows the `kubernetes` endpoints (the live servers): every change, and
/// every new watch, refreshes the server list.
async fn follow_servers(
    api: ApiClient,
    lb: Balancer,
    tunnels: Arc<TunnelSet>,
    cancel: CancellationToken,
) {
    const WATCH: &str = "/api/v1/namespaces/default/endpoints?watch=true&\
                         fieldSelector=metadata.name%3Dkubernetes&timeoutSeconds=300";
    loop {
        refresh_servers(&api, &lb, &tunnels).await;
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<()>();
        let watch = api.watch(WATCH, move |_| {
            let _ = events_tx.send(());
        });
        tokio::pin!(watch);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                ended = &mut watch => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "endpoints watch failed");
                    }
                    break;
                }
                Some(()) = events.recv() => {
                    refresh_servers(&api, &lb, &tunnels).await;
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// What a caller that embeds agents (the load generator) may observe.
#[derive(Clone, Default)]
pub struct Observer {
    /// Each heartbeat: how long it took, and whether it succeeded.
    pub on_beat: Option<Arc<dyn Fn(Duration, bool) + Send + Sync>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("on_beat", &self.on_beat.is_some())
            .finish()
    }
}

/// Runs the agent until `shutdown`. `on_ready` is called once the node is
/// registered and heartbeating.
pub async fn run(
    config: AgentConfig,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Running),
) -> Result<(), AgentError> {
    run_observed(config, shutdown, on_ready, Observer::default()).await
}

/// [`run`], reporting to `observer`.
pub async fn run_observed(
    config: AgentConfig,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Running),
    observer: Observer,
) -> Result<(), AgentError> {
    let files = AgentFiles::new(&config.data_dir);
    edge_pki::files::ensure_dir(&files.dir, edge_pki::files::PRIVATE_DIR)?;
    let name = node_name(&config, &files)?;
    let password = join::node_password(&files)?;
    let ips = if config.node_ip.is_empty() {
        vec![crate::server::default_route_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))]
    } else {
        config.node_ip.clone()
    };
    let fixed = host_port(&config.server)?;
    tracing::info!(node = %name, server = %config.server, "starting agent");

    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let lb = Balancer::new(config.server.as_str(), fixed, Some(files.servers()));
    let (lb, lb_task) = lb
        .listen(config.lb_server_port, stop.clone())
        .await
        .map_err(|source| AgentError::Bind {
            port: config.lb_server_port,
            source,
        })?;
    let local = url::Url::parse(&format!("https://127.0.0.1:{}", lb.port()))
        .map_err(|e| AgentError::Invalid(e.to_string()))?;

    // Join, retrying while the cluster cannot be reached.
    let mut delay = Duration::from_secs(1);
    let joined = loop {
        match join::join(
            &local,
            &config.server,
            &config.token,
            name.as_str(),
            &ips,
            &password,
            &files,
        )
        .await
        {
            Ok(j) => break j,
            Err(e) if e.is_transient() => {
                tracing::warn!(server = %config.server, error = %e, retry_in = ?delay, "cannot join yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(node = %name, verified = joined.verified, "joined: node certificates issued");
    let tls = joined.tls.client_config().map_err(AgentError::Invalid)?;
    let api = ApiClient::new(local.as_str(), tls.clone());

    let tasks = TaskTracker::new();
    let tunnels = Arc::new(TunnelSet {
        lb: lb.clone(),
        tls,
        running: Mutex::new(HashMap::new()),
        tasks: tasks.clone(),
        stop: stop.clone(),
    });
    // Tunnels to the servers known from the last run right away; then the
    // cluster's list.
    tunnels.sync(&lb.servers());
    let mut delay = Duration::from_millis(500);
    while !refresh_servers(&api, &lb, &tunnels).await {
        tracing::info!("waiting for the cluster's server list");
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }

    let settings = NodeSettings {
        name: name.clone(),
        hostname: crate::server::hostname(),
        addresses: ips,
        external_addresses: config.node_external_ip.clone(),
        labels: config.node_label.clone(),
        taints: config.node_taint.clone(),
        server: false,
    };
    let mut delay = Duration::from_millis(500);
    loop {
        match node::register(&api, &settings).await {
            Ok(_) => break,
            Err(e) if e.code().is_some_and(|c| c < 500 && c != 409 && c != 429) => {
                return Err(AgentError::Register(e));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register the node yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::info!(node = %name, "node registered");

    let (a, s, c) = (api.clone(), settings.clone(), stop.clone());
    let period = config.node_status_update_frequency;
    let on_beat = observer.on_beat.clone();
    tasks.spawn(async move {
        node::heartbeat(&a, &s, period, c, |took, ok| {
            if let Some(f) = &on_beat {
                f(took, ok);
            }
        })
        .await
    });
    tasks.spawn(follow_servers(
        api.clone(),
        lb.clone(),
        tunnels.clone(),
        stop.clone(),
    ));
    tracing::info!(node = %name, lb = %local, "agent ready");
    on_ready(Running {
        node_name: name,
        lb_port: lb.port(),
    });

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tasks.wait()).await;
    let _ = lb_task.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_address_is_host_and_port() {
        let u = |s: &str| url::Url::parse(s).expect("url");
        assert_eq!(
            host_port(&u("https://10.0.0.100:6443")).expect("ok"),
            "10.0.0.100:6443"
        );
        assert_eq!(
            host_port(&u("https://vip.example")).expect("ok"),
            "vip.example:6443"
        );
        assert_eq!(
            host_port(&u("https://[fd00::1]:7443")).expect("ok"),
            "[fd00::1]:7443"
        );
    }

    #[test]
    fn with_node_id_appends_a_kept_id() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = AgentFiles::new(dir.path());
        let mut config = edge_config::agent::parse_agent_argv(&[
            "--server",
            "https://10.0.0.100:6443",
            "--token",
            "S",
            "--node-name",
            "shop",
        ])
        .expect("config");
        assert_eq!(node_name(&config, &files).expect("name").as_str(), "shop");
        config.with_node_id = true;
        let first = node_name(&config, &files).expect("name");
        assert!(first.as_str().starts_with("shop-") && first.as_str().len() == 13);
        assert_eq!(node_name(&config, &files).expect("name"), first, "kept");
    }
}
