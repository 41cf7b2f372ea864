//! The server role: `edged server` from a resolved configuration to a
//! serving control plane, and back down on shutdown.
//!
//! Owns the start-up order: the virtual IP (checked first; a lone booting
//! server holds it), data dir, datastore (retried while unreachable),
//! cluster PKI and token, certificates and the admin kubeconfig, the HTTPS
//! listener, the bootstrap objects, this server's Node, and the control loops;
//! and the shutdown order: resign the VIP (priority 0) while the API still
//! serves, then close the listener, then stop the loops and the datastore.
//! Must not hold Kubernetes semantics or protocol details itself: it composes
//! the modules that do.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::apiserver::auth::Tokens;
use crate::apiserver::handlers::Api;
use crate::apiserver::http::{self, Shared};
use crate::apiserver::storage::ObjectStore;
use crate::apiserver::supervisor::Supervisor;
use crate::controllers::{self, node::NodeSettings};
use crate::vip::{Vip, VipError};
use edge_config::san::San;
use edge_config::server::ServerConfig;
use edge_config::token::Token;
use edge_config::types::NodeName;
use edge_datastore::{DatastoreError, Store, StoreOptions};
use edge_pki::cluster::{self, ClusterPki};
use edge_pki::encryption::AesGcmProvider;
use edge_pki::{PkiError, kubeconfig, token};

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    #[error("certificates and token: {0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    Cluster(#[from] crate::join::JoinError),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {address}: {source} (is another server running? choose another --https-listen-port)"
    )]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Vip(#[from] VipError),
}

/// What a running server knows about itself, for callers that embed it (tests, `edged init`).
#[derive(Debug, Clone)]
pub struct Running {
    pub node_name: NodeName,
    pub advertise: IpAddr,
    pub port: u16,
    pub kubeconfig: PathBuf,
}

pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The address the default route leaves from. Connecting a UDP socket sends
/// nothing; it only asks the kernel's routing table.
pub(crate) fn default_route_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    socket
        .local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

/// The URL the local admin kubeconfig uses: loopback when listening on every
/// address, else the address listened on.
fn local_url(bind: IpAddr, port: u16) -> String {
    match bind {
        IpAddr::V4(a) if a.is_unspecified() => format!("https://127.0.0.1:{port}"),
        IpAddr::V6(a) if a.is_unspecified() => format!("https://[::1]:{port}"),
        ip => format!("https://{}", SocketAddr::new(ip, port)),
    }
}

fn private_dir(path: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| ServerError::Io {
            what: "cannot create",
            path: path.to_owned(),
            source,
        })
}

/// The listener while the server waits for its datastore: `/readyz` says
/// not ready, and why. It presents the server's own certificate when one is
/// on disk (a restart, so clients verify it as usual), else a temporary
/// self-signed one (a first start has no CA yet).
/// Dropping it (an early return) stops the listener too; [`Starting::stop`]
/// also waits until the port is free.
struct Starting {
    stop: tokio_util::sync::DropGuard,
    task: tokio::task::JoinHandle<()>,
}

impl Starting {
    async fn serve(
        config: &ServerConfig,
        address: SocketAddr,
        node: &NodeName,
    ) -> Result<Self, ServerError> {
        let dir = cluster::tls_dir(&config.data_dir);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let existing = match (
            read(cluster::SERVING_CERT),
            read(cluster::SERVING_KEY),
            read(cluster::CLIENT_CA_CERT),
        ) {
            (Some(cert), Some(key), Some(ca)) => http::tls_config(&cert, &key, &ca).ok(),
            _ => None,
        };
        let tls = match existing {
            Some(tls) => tls,
            None => {
                let names = vec![
                    "localhost".to_owned(),
                    node.as_str().to_owned(),
                    address.ip().to_string(),
                ];
                let cert = rcgen::generate_simple_self_signed(names).map_err(|e| {
                    ServerError::Invalid(format!("cannot make a temporary certificate: {e}"))
                })?;
                http::tls_config(
                    &cert.cert.pem(),
                    &cert.signing_key.serialize_pem(),
                    &cert.cert.pem(),
                )
                .map_err(ServerError::Invalid)?
            }
        };
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ServerError::Bind { address, source })?;
        let stop = CancellationToken::new();
        let reason = format!("waiting for the datastore {}", config.datastore);
        let task = tokio::spawn(http::serve(
            listener,
            tls,
            http::starting_router(reason),
            stop.clone(),
        ));
        Ok(Self {
            stop: stop.drop_guard(),
            task,
        })
    }

    /// Stops serving and releases the port.
    async fn stop(self) {
        drop(self.stop);
        let _ = self.task.await;
    }
}

/// Opens the datastore, retrying with backoff while it is unreachable; a
/// refusal (bad credentials) or a bad endpoint ends the start, a shutdown
/// while waiting gives `None`.
async fn open_datastore(
    config: &ServerConfig,
    cancel: &CancellationToken,
) -> Result<Option<Store>, ServerError> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match Store::open(&config.datastore, StoreOptions::default()).await {
            Ok(store) => return Ok(Some(store)),
            Err(e) if e.is_unavailable() => {
                if attempt == 1 || attempt.is_multiple_of(10) {
                    tracing::warn!(endpoint = %config.datastore, error = %e, attempt, "datastore unreachable; retrying");
                }
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The address other servers and clients are told to reach this API at:
/// `--advertise-address`; else a given `--node-ip` (K3s); else a specific
/// `--bind-address` (kube-apiserver's rule: never advertise an address the
/// listener does not answer on); else the detected node IP.
fn advertise_address(config: &ServerConfig, node_ips: &[IpAddr]) -> IpAddr {
    config
        .advertise_address
        .or_else(|| config.node_ip.first().copied())
        .or_else(|| (!config.bind_address.is_unspecified()).then_some(config.bind_address))
        .unwrap_or(node_ips[0])
}

/// The serving certificate's names: everything a client may dial.
fn serving_sans(
    config: &ServerConfig,
    hostname: &str,
    node: &NodeName,
    ips: &[IpAddr],
) -> Result<Vec<San>, ServerError> {
    let domain = &config.critical.cluster_domain;
    let mut names = vec![
        "localhost".to_owned(),
        hostname.to_owned(),
        node.as_str().to_owned(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        format!("kubernetes.default.svc.{domain}"),
        "127.0.0.1".into(),
        "::1".into(),
    ];
    if let Some(ip) = config.critical.service_cidr.nth(1) {
        names.push(ip.to_string());
    }
    names.extend(ips.iter().map(IpAddr::to_string));
    if let Some(a) = config.advertise_address {
        names.push(a.to_string());
    }
    // The written kubeconfig points at the bind address when one is given.
    if !config.bind_address.is_unspecified() {
        names.push(config.bind_address.to_string());
    }
    // Clients dial the VIP (the fixed registration address) whoever holds it.
    if let Some(v) = &config.vip {
        names.push(v.vip.to_string());
    }
    names.extend(config.tls_san.iter().cloned());
    let mut sans = Vec::new();
    for n in names {
        sans.push(
            San::parse(&n).map_err(|e| ServerError::Invalid(format!("--tls-san {n:?}: {e}")))?,
        );
    }
    sans.sort();
    sans.dedup();
    Ok(sans)
}

/// Runs the server until `shutdown` fires. `on_ready` is called once the
/// server serves and its start-up work is done.
pub async fn run(
    config: ServerConfig,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Running),
) -> Result<(), ServerError> {
    // The VIP first: its flags are checked against the interfaces before
    // anything else, and a lone server holds it while it boots (at priority
    // 1 until its API is ready, so a ready server keeps it).
    let mut vip = match &config.vip {
        Some(v) => Some(Vip::start(v).await?),
        None => None,
    };
    let result = serve(config, shutdown, on_ready, vip.as_mut()).await;
    // On every way out (serve resigns first on an orderly shutdown).
    if let Some(v) = vip.as_mut() {
        v.resign().await;
    }
    result
}

/// Who this server is on the network: its hostname, node name, node
/// addresses and the address it advertises.
struct NodeIdentity {
    hostname: String,
    node_name: NodeName,
    node_ips: Vec<IpAddr>,
    advertise: IpAddr,
}

impl NodeIdentity {
    fn of(config: &ServerConfig) -> Result<Self, ServerError> {
        let hostname = hostname();
        let node_name = match &config.node_name {
            Some(n) => n.clone(),
            None => NodeName::from_hostname(&hostname).map_err(|e| {
                ServerError::Invalid(format!(
                    "the hostname cannot be a node name ({e}); set --node-name"
                ))
            })?,
        };
        let node_ips = if config.node_ip.is_empty() {
            vec![default_route_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))]
        } else {
            config.node_ip.clone()
        };
        let advertise = advertise_address(config, &node_ips);
        Ok(Self {
            hostname,
            node_name,
            node_ips,
            advertise,
        })
    }
}

/// The cluster's certificate authorities and this server's token: from the
/// datastore when it is shared (the HA topology, [`crate::join`]), from the
/// data dir for a single server.
async fn credentials(
    config: &ServerConfig,
    store: &Store,
) -> Result<(ClusterPki, Token), ServerError> {
    if config.external_datastore {
        let joined = crate::join::join(store, &config.data_dir, config.token.as_ref()).await?;
        crate::join::check_critical(store, &config.critical).await?;
        return Ok(joined);
    }
    let tls_dir = cluster::tls_dir(&config.data_dir);
    let pki = if ClusterPki::is_present(&tls_dir) {
        ClusterPki::load(&tls_dir)?
    } else {
        let pki = ClusterPki::generate()?;
        pki.save(&tls_dir)?;
        tracing::info!(dir = %tls_dir.display(), "generated the cluster certificate authorities");
        pki
    };
    let ca_hash = edge_pki::identity::ca_hash(pki.server_ca.cert_pem().as_bytes())?;
    token::check_pin(config.token.as_ref(), &ca_hash)?;
    let existing = token::read_server_token(&config.data_dir)?;
    let secret = token::server_secret(config.token.as_ref(), existing.as_ref())
        .unwrap_or_else(token::generate_secret);
    let token = token::server_token(secret, &ca_hash);
    token::write_server_token(&config.data_dir, &token)?;
    Ok((pki, token))
}

/// The built-in objects and this server's Node, retried through datastore
/// outages. False when `shutdown` came first.
async fn write_startup_objects(
    api: &Api,
    settings: &NodeSettings,
    port: u16,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        let attempt = async {
            controllers::builtin::run(api, port).await?;
            controllers::node::register(api, settings).await
        };
        match attempt.await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(error = %e.message, "start-up objects not written yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return false,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Starts this server's loops (heartbeat, endpoint announcement and
/// reconciliation) and the leader-elected singletons (node liveness,
/// namespaces, compaction), all stopped by `stop`.
fn spawn_controllers(
    tasks: &TaskTracker,
    shared: &Arc<Shared>,
    settings: &NodeSettings,
    store: &Store,
    advertise: IpAddr,
    config: &ServerConfig,
    stop: &CancellationToken,
) {
    let port = config.https_listen_port;
    let node_name = &settings.name;
    let (leader_tx, leader_rx) = watch::channel(false);
    let spawn = |fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        tasks.spawn(fut);
    };
    let s = shared.clone();
    let c = stop.clone();
    let n = settings.clone();
    spawn(Box::pin(async move {
        controllers::node::heartbeat(&s.api, &n, c).await
    }));
    let announced = Arc::new(tokio::sync::Notify::new());
    let s = shared.clone();
    let c = stop.clone();
    let a = announced.clone();
    spawn(Box::pin(async move {
        controllers::endpoints::announce(&s.api, advertise, port, a, c).await
    }));
    let s = shared.clone();
    let c = stop.clone();
    spawn(Box::pin(async move {
        controllers::endpoints::reconcile(&s.api, announced, c).await
    }));
    let s = shared.clone();
    let c = stop.clone();
    let id = node_name.as_str().to_owned();
    spawn(Box::pin(async move {
        controllers::leader::run(&s.api, &id, leader_tx, c).await
    }));
    let s = shared.clone();
    let c = stop.clone();
    let l = leader_rx.clone();
    let grace = config.node_monitor_grace_period;
    spawn(Box::pin(async move {
        controllers::node::lifecycle(&s.api, l, grace, c).await
    }));
    let s = shared.clone();
    let c = stop.clone();
    let l = leader_rx.clone();
    spawn(Box::pin(async move {
        let ca = s.supervisor.server_ca_pem.clone();
        controllers::namespace::run(&s.api, &ca, l, c).await
    }));
    let c = stop.clone();
    let st = store.clone();
    spawn(Box::pin(async move {
        controllers::compaction::run(&st, controllers::compaction::INTERVAL, leader_rx, c).await
    }));
}

async fn serve(
    config: ServerConfig,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Running),
    vip: Option<&mut Vip>,
) -> Result<(), ServerError> {
    private_dir(&config.data_dir.join("server"))?;
    let NodeIdentity {
        hostname,
        node_name,
        node_ips,
        advertise,
    } = NodeIdentity::of(&config)?;
    tracing::info!(node = %node_name, %advertise, datastore = %config.datastore, "starting server");

    // Until the datastore answers, the port says so: alive, not ready.
    let address = SocketAddr::new(config.bind_address, config.https_listen_port);
    let starting = Starting::serve(&config, address, &node_name).await?;
    let Some(store) = open_datastore(&config, &shutdown).await? else {
        return Ok(());
    };

    let (pki, token) = credentials(&config, &store).await?;
    let tls_dir = cluster::tls_dir(&config.data_dir);
    let sans = serving_sans(&config, &hostname, &node_name, &node_ips)?;
    let serving = cluster::ensure_serving_cert(&tls_dir, &pki.server_ca, &sans)?;
    let admin = cluster::ensure_admin_cert(&tls_dir, &pki.client_ca)?;
    let port = config.https_listen_port;
    kubeconfig::write(
        &config.write_kubeconfig,
        &kubeconfig::Kubeconfig {
            server_url: &local_url(config.bind_address, port),
            ca_pem: pki.server_ca.cert_pem(),
            client_cert_pem: &admin.pair.cert_pem,
            client_key_pem: &admin.pair.key_pem,
        },
        config.write_kubeconfig_mode.0,
    )?;

    // The API.
    let mut objects = ObjectStore::new(store.clone());
    if config.critical.secrets_encryption {
        let provider = AesGcmProvider::single("aesgcmkey", &pki.secrets_encryption_key)?;
        objects = objects.with_encryption(&["secrets"], Arc::new(provider));
    }
    let api = Api::new(
        objects,
        config.critical.service_cidr,
        config.critical.cluster_cidr,
    );
    let started = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        api,
        supervisor: Supervisor {
            server_ca_pem: pki.server_ca.cert_pem().to_owned(),
            client_ca: edge_pki::ca::CertificateAuthority::from_pem(
                pki.client_ca.cert_pem(),
                pki.client_ca.key_pem(),
            )?,
            server_ca: edge_pki::ca::CertificateAuthority::from_pem(
                pki.server_ca.cert_pem(),
                pki.server_ca.key_pem(),
            )?,
            passwords: Default::default(),
            tunnels: Default::default(),
            critical: config.critical.clone(),
            started: started.clone(),
            datastore: store.clone(),
            node_name: node_name.as_str().to_owned(),
            vrrp: vip.as_ref().map(|v| v.handle()),
        },
        tokens: Tokens {
            server: token.secret().clone(),
            agent: token.secret().clone(),
        },
        advertise: SocketAddr::new(advertise, port).to_string(),
    });
    let tls = http::tls_config(
        &serving.pair.cert_pem,
        serving.pair.key_pem.expose(),
        pki.client_ca.cert_pem(),
    )
    .map_err(ServerError::Invalid)?;
    starting.stop().await;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })?;
    let tasks = TaskTracker::new();
    // Not a child of `shutdown`: the listener closes only after the VIP moved.
    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let router = http::router(shared.clone());
    tasks.spawn(http::serve(
        listener,
        tls.clone(),
        router.clone(),
        stop.clone(),
    ));
    tracing::info!(%address, "serving the Kubernetes API and supervisor");
    if let Some(v) = &config.vip {
        let vip_ip = IpAddr::V4(v.vip.addr());
        if !config.bind_address.is_unspecified() && config.bind_address != vip_ip {
            let address = SocketAddr::new(vip_ip, port);
            let listener = crate::vip::listen_nonlocal(address)?;
            tasks.spawn(http::serve(listener, tls, router, stop.clone()));
            tracing::info!(%address, "also serving on the virtual IP while this server holds it");
        }
    }
    if let Some(v) = &vip {
        let s = shared.clone();
        v.watch_readiness(Arc::new(move || {
            let s = s.clone();
            Box::pin(async move { s.supervisor.readiness().await })
        }));
    }

    // Bootstrap objects and this node, retried through datastore outages.
    let settings = NodeSettings {
        name: node_name.clone(),
        hostname: hostname.clone(),
        addresses: node_ips.clone(),
        external_addresses: Vec::new(),
        labels: config.node_label.clone(),
        taints: config.node_taint.clone(),
        server: true,
    };
    if !write_startup_objects(&shared.api, &settings, port, &shutdown).await {
        return Ok(());
    }
    spawn_controllers(
        &tasks, &shared, &settings, &store, advertise, &config, &stop,
    );
    // Ready once this server is listed as an endpoint of the `kubernetes` service.
    let me = SocketAddr::new(advertise, port).to_string();
    for _ in 0..100 {
        if crate::apiserver::supervisor::apiservers(&shared)
            .await
            .is_ok_and(|list| list.contains(&me))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.store(true, Ordering::Release);
    tracing::info!(node = %node_name, kubeconfig = %config.write_kubeconfig.display(), "server ready");
    on_ready(Running {
        node_name: node_name.clone(),
        advertise,
        port,
        kubeconfig: config.write_kubeconfig.clone(),
    });

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    // The VIP moves first: a backup takes over after its skew time while this
    // server still answers; then the listener closes.
    if let Some(v) = vip {
        v.resign().await;
    }
    tracing::info!("closing the API listener");
    stop.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(15), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some tasks did not stop within 15 s");
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_config::server::parse_argv;

    fn config(argv: &[&str]) -> ServerConfig {
        parse_argv(argv).expect("valid config")
    }

    fn has(sans: &[San], name: &str) -> bool {
        sans.contains(&San::parse(name).expect("valid SAN"))
    }

    #[test]
    fn serving_sans_cover_every_address_a_client_dials() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = config(&[
            "--data-dir",
            &dir.path().display().to_string(),
            "--bind-address",
            "127.0.0.9",
            "--advertise-address",
            "10.0.0.5",
            "--tls-san",
            "edge.example.com,10.0.0.100",
            "--cluster-domain",
            "edge.local",
        ]);
        let node: NodeName = "node-a".parse().expect("node name");
        let ip: IpAddr = "192.0.2.2".parse().expect("ip");
        let sans = serving_sans(&c, "host-a", &node, &[ip]).expect("sans");
        for want in [
            "127.0.0.9",
            "10.0.0.5",
            "edge.example.com",
            "10.0.0.100",
            "192.0.2.2",
            "host-a",
            "node-a",
            "localhost",
            "127.0.0.1",
            "kubernetes.default.svc.edge.local",
            "10.43.0.1",
        ] {
            assert!(has(&sans, want), "{want} missing from {sans:?}");
        }

        let c = config(&["--data-dir", &dir.path().display().to_string()]);
        let sans = serving_sans(&c, "host-a", &node, &[ip]).expect("sans");
        assert!(
            !has(&sans, "0.0.0.0"),
            "the wildcard bind address is no name"
        );
    }

    #[test]
    fn advertised_address_is_one_the_listener_answers_on() {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().display().to_string();
        let detected: IpAddr = "192.0.2.2".parse().expect("ip");
        let advertised = |extra: &[&str]| {
            let mut argv = vec!["--data-dir", &data];
            argv.extend_from_slice(extra);
            advertise_address(&config(&argv), &[detected]).to_string()
        };
        assert_eq!(advertised(&[]), "192.0.2.2");
        assert_eq!(advertised(&["--bind-address", "127.0.0.9"]), "127.0.0.9");
        assert_eq!(
            advertised(&["--bind-address", "127.0.0.9", "--node-ip", "10.0.0.7"]),
            "10.0.0.7"
        );
        assert_eq!(
            advertised(&[
                "--bind-address",
                "127.0.0.9",
                "--advertise-address",
                "10.0.0.5"
            ]),
            "10.0.0.5"
        );
    }
}
