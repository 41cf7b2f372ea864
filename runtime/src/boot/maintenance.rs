//! Maintenance mode's read-only status endpoint: HTTPS on 6443 with a
//! self-signed certificate made at each boot (there is no cluster CA to trust
//! yet: clients use `curl -k` or `kubectl --insecure-skip-tls-verify`), serving
//! `GET /v1-edge/status` (the boot report with every error's file, line,
//! column and key) and `GET /ping`. Nothing can be changed through it.
//!
//! Owns the listener. Must not serve secrets: the report has none.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_util::sync::CancellationToken;

use super::BootError;

/// The report the endpoint serves, updated by init.
pub type Shared = Arc<RwLock<serde_json::Value>>;

fn tls(names: Vec<String>) -> Result<Arc<rustls::ServerConfig>, BootError> {
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| BootError::Other(format!("maintenance certificate: {e}")))?;
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BootError::Other(format!("maintenance TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| BootError::Other(format!("maintenance TLS: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn router(report: Shared) -> Router {
    let status = move || {
        let report = report.clone();
        async move {
            let body = report
                .read()
                .map(|r| r.clone())
                .unwrap_or(serde_json::Value::Null);
            (StatusCode::OK, axum::Json(body))
        }
    };
    Router::new()
        .route("/v1-edge/status", get(status))
        .route("/ping", get(|| async { "pong" }))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "maintenance mode: only GET /v1-edge/status is served; fix edge.yaml on the boot partition and reboot\n",
            )
                .into_response()
        })
}

/// Binds `address` and serves until `shutdown`.
pub async fn serve(
    address: SocketAddr,
    names: Vec<String>,
    report: Shared,
    shutdown: CancellationToken,
) -> Result<(), BootError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| BootError::Other(format!("maintenance status on {address}: {e}")))?;
    let tls = tls(names)?;
    tracing::info!(%address, "maintenance mode: serving GET /v1-edge/status (HTTPS, self-signed)");
    crate::https::serve(listener, tls, router(report), |_| (), shutdown).await;
    Ok(())
}
