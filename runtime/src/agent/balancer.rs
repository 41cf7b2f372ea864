//! The agent's client-side load balancer on `127.0.0.1:6444`: a TCP proxy
//! that carries all of the agent's own API traffic to one server.
//!
//! The model, in three sentences:
//! 1. The balancer knows the servers the cluster lists (saved to disk, so a
//!    restart finds them without the fixed address), and a server is
//!    *healthy* exactly while the agent's tunnel to it is open.
//! 2. Every new connection goes to the *active* server; when the active
//!    server turns unhealthy its connections are closed and the first
//!    healthy server in the list becomes active.
//! 3. When no server is healthy, a connection tries the fixed registration
//!    address (`--server`) and then each known server in turn.
//!
//! (K3s's balancer has seven states per server and its users call it flakey
//! and hard to understand, k3s#11334; here health has one source, the
//! tunnel, and the only other state is which server is active.)
//!
//! Owns the listener, the choice of server, and the list file
//! (`<data-dir>/agent/etc/lb-servers.json`). Must not decide health itself:
//! the tunnels report it ([`Balancer::set_healthy`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a dial may take before the next candidate is tried.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(3);

/// One known server.
#[derive(Debug)]
struct Entry {
    address: String,
    healthy: bool,
    /// Cancelled to close every connection proxied to this server.
    connections: CancellationToken,
}

impl Entry {
    fn new(address: String) -> Self {
        Self {
            address,
            healthy: false,
            connections: CancellationToken::new(),
        }
    }
}

/// The state the three sentences describe.
#[derive(Debug)]
struct State {
    /// The fixed registration address, `host:port`.
    fixed: String,
    servers: Vec<Entry>,
    active: Option<String>,
}

impl State {
    /// Where a new connection should go, in the order to try: the active
    /// server; then (none is active, or it refused the dial) the fixed
    /// address and every known server.
    fn candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = self.active.iter().cloned().collect();
        for a in std::iter::once(&self.fixed).chain(self.servers.iter().map(|s| &s.address)) {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    /// The first healthy server becomes active if none is.
    fn elect(&mut self) -> Option<&str> {
        if self.active.is_none() {
            self.active = self
                .servers
                .iter()
                .find(|s| s.healthy)
                .map(|s| s.address.clone());
            return self.active.as_deref();
        }
        None
    }

    fn token_for(&self, address: &str) -> CancellationToken {
        self.servers
            .iter()
            .find(|s| s.address == address)
            .map(|s| s.connections.clone())
            // The fixed address's connections are never closed by the balancer.
            .unwrap_or_default()
    }
}

/// What is saved so a restarted agent finds the servers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Saved {
    server_url: String,
    servers: Vec<String>,
}

/// The load balancer. Cheap to clone; every clone is the same balancer.
#[derive(Debug, Clone)]
pub struct Balancer {
    state: Arc<Mutex<State>>,
    file: Option<PathBuf>,
    server_url: String,
    port: u16,
}

impl Balancer {
    /// A balancer whose fixed address is `fixed` (`host:port` of
    /// `server_url`), with the servers saved in `file` by an earlier run for
    /// the same `server_url`.
    pub fn new(server_url: &str, fixed: String, file: Option<PathBuf>) -> Self {
        let saved: Vec<String> = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
            .filter(|s| s.server_url == server_url)
            .map(|s| s.servers)
            .unwrap_or_default();
        if !saved.is_empty() {
            tracing::info!(servers = ?saved, "known servers from the last run");
        }
        Self {
            state: Arc::new(Mutex::new(State {
                fixed,
                servers: saved.into_iter().map(Entry::new).collect(),
                active: None,
            })),
            file,
            server_url: server_url.to_owned(),
            port: 0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The servers known now.
    pub fn servers(&self) -> Vec<String> {
        self.state()
            .servers
            .iter()
            .map(|s| s.address.clone())
            .collect()
    }

    /// The active server, if one is.
    pub fn active(&self) -> Option<String> {
        self.state().active.clone()
    }

    /// The port it listens on (after [`Self::listen`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the server list (kept in the cluster's order), keeping what
    /// is known of servers that stay, and saves it.
    pub fn update(&self, servers: Vec<String>) {
        let mut changed = false;
        {
            let mut state = self.state();
            let mut old: Vec<Entry> = std::mem::take(&mut state.servers);
            for address in &servers {
                match old.iter().position(|e| &e.address == address) {
                    Some(i) => state.servers.push(old.remove(i)),
                    None => {
                        changed = true;
                        state.servers.push(Entry::new(address.clone()));
                    }
                }
            }
            for gone in old {
                changed = true;
                gone.connections.cancel();
                if state.active.as_deref() == Some(gone.address.as_str()) {
                    state.active = None;
                }
            }
            if let Some(active) = state.elect() {
                tracing::info!(server = %active, "load balancer: active server");
            }
        }
        if changed {
            tracing::info!(?servers, "load balancer: server list");
            self.save(servers);
        }
    }

    fn save(&self, servers: Vec<String>) {
        let Some(file) = &self.file else { return };
        let saved = Saved {
            server_url: self.server_url.clone(),
            servers,
        };
        let written = serde_json::to_vec_pretty(&saved)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                edge_pki::files::ensure_parent(file)
                    .and_then(|()| edge_pki::files::write_atomic(file, &b, 0o600))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the server list");
        }
    }

    /// What a tunnel reports: `address` is healthy (its tunnel is open) or
    /// not. An active server that turns unhealthy has its connections closed
    /// and the next healthy server becomes active.
    pub fn set_healthy(&self, address: &str, healthy: bool) {
        let mut state = self.state();
        let Some(entry) = state.servers.iter_mut().find(|s| s.address == address) else {
            return;
        };
        if entry.healthy == healthy {
            return;
        }
        entry.healthy = healthy;
        if !healthy {
            entry.connections.cancel();
            entry.connections = CancellationToken::new();
            if state.active.as_deref() == Some(address) {
                state.active = None;
                tracing::warn!(server = %address, "load balancer: active server lost its tunnel");
            }
        }
        if let Some(active) = state.elect() {
            tracing::info!(server = %active, "load balancer: active server");
        }
    }

    /// Listens on `127.0.0.1:port` and proxies until `cancel`.
    pub async fn listen(
        mut self,
        port: u16,
        cancel: CancellationToken,
    ) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        self.port = listener.local_addr()?.port();
        let lb = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((c, _)) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "load balancer: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let lb = lb.clone();
                let cancel = cancel.clone();
                tokio::spawn(async move { lb.proxy(client, cancel).await });
            }
        });
        Ok((self, task))
    }

    async fn proxy(&self, mut client: TcpStream, cancel: CancellationToken) {
        let _ = client.set_nodelay(true);
        let candidates = self.state().candidates();
        for address in candidates {
            let dialled =
                tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(address.as_str())).await;
            let mut server = match dialled {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(server = %address, error = %e, "load balancer: dial failed");
                    continue;
                }
                Err(_) => {
                    tracing::debug!(server = %address, "load balancer: dial timed out");
                    continue;
                }
            };
            let _ = server.set_nodelay(true);
            let closed = self.state().token_for(&address);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                () = closed.cancelled() => {}
                () = cancel.cancelled() => {}
            }
            return;
        }
        tracing::warn!("load balancer: no server could be reached");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb() -> Balancer {
        Balancer::new("https://vip:6443", "vip:6443".into(), None)
    }

    #[test]
    fn without_a_healthy_server_the_fixed_address_comes_first() {
        let lb = lb();
        assert_eq!(lb.state().candidates(), ["vip:6443"]);
        lb.update(vec!["a:6443".into(), "b:6443".into()]);
        assert_eq!(lb.active(), None, "no tunnel is open yet");
        assert_eq!(
            lb.state().candidates(),
            ["vip:6443", "a:6443", "b:6443"],
            "then each known server"
        );
    }

    #[test]
    fn the_active_server_stays_until_its_tunnel_drops() {
        let lb = lb();
        lb.update(vec!["a:6443".into(), "b:6443".into()]);
        lb.set_healthy("b:6443", true);
        assert_eq!(lb.active().as_deref(), Some("b:6443"));
        // A server earlier in the list turning healthy does not take over.
        lb.set_healthy("a:6443", true);
        assert_eq!(lb.active().as_deref(), Some("b:6443"));
        assert_eq!(lb.state().candidates()[0], "b:6443");
        // b's tunnel drops: its connections are closed, a takes over.
        let b_connections = lb.state().token_for("b:6443");
        lb.set_healthy("b:6443", false);
        assert!(b_connections.is_cancelled());
        assert_eq!(lb.active().as_deref(), Some("a:6443"));
        // Both down: back to the fixed address, then every known server.
        lb.set_healthy("a:6443", false);
        assert_eq!(lb.active(), None);
        assert_eq!(lb.state().candidates(), ["vip:6443", "a:6443", "b:6443"]);
    }

    #[test]
    fn a_server_leaving_the_list_loses_its_connections_and_the_list_is_saved() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("etc/lb-servers.json");
        let lb = Balancer::new("https://vip:6443", "vip:6443".into(), Some(file.clone()));
        lb.update(vec!["a:6443".into(), "b:6443".into()]);
        lb.set_healthy("a:6443", true);
        lb.set_healthy("b:6443", true);
        let a_connections = lb.state().token_for("a:6443");
        lb.update(vec!["b:6443".into()]);
        assert!(a_connections.is_cancelled());
        assert_eq!(lb.active().as_deref(), Some("b:6443"));
        // A restart for the same --server finds the list; another does not.
        let again = Balancer::new("https://vip:6443", "vip:6443".into(), Some(file.clone()));
        assert_eq!(again.servers(), ["b:6443"]);
        let other = Balancer::new("https://other:6443", "other:6443".into(), Some(file));
        assert!(other.servers().is_empty());
    }

    #[tokio::test]
    async fn connections_follow_the_active_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Two echo-like servers that answer with their own letter.
        let mut addresses = Vec::new();
        for letter in [b'a', b'b'] {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addresses.push(l.local_addr().expect("addr").to_string());
            tokio::spawn(async move {
                while let Ok((mut s, _)) = l.accept().await {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 1];
                        while s.read_exact(&mut buf).await.is_ok() {
                            if s.write_all(&[letter]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
        let cancel = CancellationToken::new();
        // The fixed address refuses connections (nothing listens there).
        let fixed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").to_string()
        };
        let lb = Balancer::new("https://fixed", fixed, None);
        let (lb, _task) = lb.listen(0, cancel.clone()).await.expect("listen");
        let ask = |port: u16| async move {
            let mut c = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            c.write_all(b"?").await.expect("write");
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.map(|_| (b[0], c))
        };
        // No healthy server: fixed refuses, so the first known server answers.
        lb.update(addresses.clone());
        assert_eq!(ask(lb.port()).await.expect("answer").0, b'a');
        // b healthy: b is active.
        lb.set_healthy(&addresses[1], true);
        let (answer, mut open) = ask(lb.port()).await.expect("answer");
        assert_eq!(answer, b'b');
        // b's tunnel drops: the open connection is closed, new ones go to a.
        lb.set_healthy(&addresses[0], true);
        lb.set_healthy(&addresses[1], false);
        let mut b = [0u8; 1];
        assert_eq!(open.read(&mut b).await.expect("eof"), 0, "closed");
        assert_eq!(ask(lb.port()).await.expect("answer").0, b'a');
        cancel.cancel();
    }
}
