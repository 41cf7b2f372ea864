//! The agent tunnel: how a server reaches a node that it cannot dial.
//!
//! The agent opens a WebSocket to `/v1-edge/connect` on each server,
//! authenticated with its node certificate. Over the WebSocket's bytes
//! ([`stream::WsStream`]) runs HTTP/2 with the roles reversed: the agent
//! serves, the server is the client. HTTP/2 gives the tunnel what K3s's
//! remotedialer builds by hand: many concurrent streams, flow control, and
//! keep-alive pings that find a dead peer. A server proxies
//! `/api/v1/nodes/NAME/proxy/…` (and later logs and exec) as plain HTTP/2
//! requests on the node's tunnel.
//!
//! Owns the tunnel's wire (WebSocket handshake both ways, HTTP/2 over it),
//! the server's registry of connected nodes ([`Tunnels`]) and the agent's
//! dial loop ([`dial`]). Must not authorize: the caller checks who may open
//! a tunnel (a node certificate) and who may proxy (an administrator).

pub mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use edge_apimachinery::status::ApiError;
use stream::WsStream;

/// The supervisor path agents open their tunnel on.
pub const CONNECT_PATH: &str = "/v1-edge/connect";
/// HTTP/2 keep-alive: a ping this often, and the tunnel is dead when one
/// is not answered within [`KEEPALIVE_TIMEOUT`]. Both ends ping, so each
/// notices a silent (stopped, cut off) peer within about 15 s.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a proxied request waits for the node's response headers.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(30);

/// The WebSocket's buffers: small, since a server holds a tunnel per agent
/// (tungstenite's defaults, 128 KiB each way, would be 256 KiB per agent).
/// HTTP/2 frames (16 KiB) pass through whole.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(1024 * 1024))
}

/// The tunnels connected to this server, by node name.
#[derive(Debug, Default)]
pub struct Tunnels {
    nodes: Mutex<HashMap<String, Connected>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Connected {
    id: u64,
    send: SendRequest<Body>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn header_is(headers: &http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

impl Tunnels {
    /// Answers node `node`'s WebSocket upgrade on [`CONNECT_PATH`] and, once
    /// the connection is upgraded, keeps its tunnel until it ends. A node
    /// that connects again replaces its older tunnel. A request that is no
    /// WebSocket upgrade is a 400.
    pub fn accept(
        self: &Arc<Self>,
        node: String,
        mut req: axum::extract::Request,
    ) -> Result<Response, ApiError> {
        let headers = req.headers();
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .map(|k| k.as_bytes().to_vec());
        let upgrade = req.method() == http::Method::GET
            && header_is(headers, header::CONNECTION, "upgrade")
            && header_is(headers, header::UPGRADE, "websocket")
            && headers
                .get(header::SEC_WEBSOCKET_VERSION)
                .is_some_and(|v| v == "13");
        let (Some(key), true) = (key, upgrade) else {
            return Err(ApiError::bad_request(
                "the tunnel is a WebSocket: send GET with Connection: Upgrade, \
                 Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key",
            ));
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
        let on_upgrade = hyper::upgrade::on(&mut req);
        let tunnels = Arc::clone(self);
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(%node, error = %e, "tunnel upgrade failed");
                    return;
                }
            };
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(ws_config()),
            )
            .await;
            tunnels.run(node, WsStream::new(ws)).await;
        });
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        Ok(r)
    }

    /// Speaks HTTP/2 (as the client) over an accepted tunnel until it ends.
    async fn run<S>(&self, node: String, io: WsStream<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(io))
            .await;
        let (send, conn) = match handshake {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(%node, error = %e, "tunnel HTTP/2 handshake failed");
                return;
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.nodes).insert(node.clone(), Connected { id, send });
        tracing::info!(%node, "node tunnel connected");
        if let Err(e) = conn.await {
            tracing::debug!(%node, error = %e, "node tunnel ended");
        }
        let mut nodes = lock(&self.nodes);
        if nodes.get(&node).is_some_and(|c| c.id == id) {
            nodes.remove(&node);
            tracing::info!(%node, "node tunnel disconnected");
        }
    }

    /// The nodes with a tunnel to this server, sorted.
    pub fn connected(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.nodes).keys().cloned().collect();
        names.sort();
        names
    }

    /// Sends `req` (a path on the node's own API, e.g. `/healthz`) to node
    /// `node` over its tunnel, and returns the node's response as it streams.
    pub async fn proxy(
        &self,
        node: &str,
        req: http::Request<Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, ApiError> {
        let unavailable = |why: String| ApiError::service_unavailable(why);
        let send = lock(&self.nodes).get(node).map(|c| c.send.clone());
        let Some(mut send) = send else {
            return Err(unavailable(format!(
                "node \"{node}\" has no tunnel to this server (is edged agent running \
                 there, and can it reach this server?)"
            )));
        };
        send.ready()
            .await
            .map_err(|e| unavailable(format!("the tunnel to node \"{node}\" failed: {e}")))?;
        match tokio::time::timeout(PROXY_TIMEOUT, send.send_request(req)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(unavailable(format!(
                "the tunnel to node \"{node}\" failed: {e}"
            ))),
            Err(_) => Err(ApiError::service_unavailable(format!(
                "node \"{node}\" did not answer within {PROXY_TIMEOUT:?}"
            ))),
        }
    }
}

/// How one attempt of the agent's tunnel ended.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("{address} refused the tunnel: {reason}")]
    Handshake { address: String, reason: String },
}

/// Opens the agent's tunnel to the server at `address` (`host:port`) and
/// serves `app` over it until the tunnel ends. `connected` is called once the
/// WebSocket is open. Returns why it ended; the caller reconnects.
pub async fn dial(
    address: &str,
    tls: Arc<rustls::ClientConfig>,
    app: axum::Router,
    connected: impl FnOnce(),
) -> Result<(), DialError> {
    use hyper_util::service::TowerToHyperService;
    let fail = |reason: String| DialError::Connect {
        address: address.to_owned(),
        reason,
    };
    let (host, _) = address
        .rsplit_once(':')
        .ok_or_else(|| fail("expected host:port".into()))?;
    let host = host.trim_matches(['[', ']']).to_owned();
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| fail("no answer within 5 s".into()))?
    .map_err(|e| fail(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| fail(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| fail(format!("TLS: {e}")))?;
    let url = format!("wss://{address}{CONNECT_PATH}");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(ws_config()))
        .await
        .map_err(|e| DialError::Handshake {
            address: address.to_owned(),
            reason: match e {
                tokio_tungstenite::tungstenite::Error::Http(r) => format!(
                    "{} {}",
                    r.status(),
                    String::from_utf8_lossy(r.body().as_deref().unwrap_or_default())
                ),
                other => other.to_string(),
            },
        })?;
    connected();
    let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .serve_connection(
            TokioIo::new(WsStream::new(ws)),
            TowerToHyperService::new(app),
        )
        .await;
    served.map_err(|e| fail(format!("tunnel ended: {e}")))
}
