//! The TLS listener every HTTPS endpoint of `edged` shares: the API port
//! and the maintenance status page of `edged init`.
//!
//! Owns accepting connections, the TLS handshake (with a deadline), serving
//! an axum router over HTTP/1.1 or HTTP/2 (with upgrades), and graceful
//! shutdown: no new connection once `shutdown` fires, open ones get a few
//! seconds to finish. Each request carries what the caller derives from the
//! client's certificate.
//!
//! Must not: decide routes, authentication or TLS policy; the caller passes
//! the router, the rustls configuration and the certificate-to-extension
//! function.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Time a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown`, serving each with `app`. `peer`
/// turns the client's (verified) leaf certificate, if it sent one, into an
/// extension every request of that connection carries.
pub async fn serve<P, F>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    peer: F,
    shutdown: CancellationToken,
) where
    P: Clone + Send + Sync + 'static,
    F: Fn(Option<&CertificateDer<'_>>) -> P + Send + Sync + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    let peer = Arc::new(peer);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (tcp, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let shutdown = shutdown.clone();
        let peer = Arc::clone(&peer);
        connections.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let peer = peer(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first()),
            );
            let service = TowerToHyperService::new(app.layer(axum::Extension(peer)));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(%remote, error = %e, "connection ended");
                    }
                }
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
    // New connections are refused from here on; open ones finish.
    drop(listener);
    connections.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), connections.wait()).await;
}
