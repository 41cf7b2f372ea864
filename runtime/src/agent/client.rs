//! The agent's Kubernetes API client: JSON over HTTPS through the local
//! load balancer, as the node (`system:node:NAME`, its client certificate),
//! verifying the cluster's server CA.
//!
//! Owns the node's TLS configuration (also used by its tunnels) and the few
//! verbs the agent needs. Must not retry: callers decide what a failure
//! means (a heartbeat tries again sooner; registration backs off).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use edge_config::secret::Secret;

/// How long one API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{method} {path}: {reason}")]
    Transport {
        method: Method,
        path: String,
        reason: String,
    },
    #[error("{method} {path}: {code} {message}")]
    Status {
        method: Method,
        path: String,
        code: u16,
        message: String,
    },
}

impl CallError {
    /// The HTTP status, for an answer that was not a success.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Status { code, .. } => Some(*code),
            Self::Transport { .. } => None,
        }
    }
}

/// The node's credentials, PEM.
#[derive(Debug, Clone)]
pub struct NodeTls {
    /// The cluster's server CA bundle, which every server's certificate chains to.
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: Secret<String>,
}

impl NodeTls {
    /// A rustls client configuration presenting the node certificate and
    /// trusting only the cluster's server CA. No ALPN: HTTP/1.1.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(cert.map_err(|e| format!("server CA: {e}"))?)
                .map_err(|e| format!("server CA: {e}"))?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("node certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.expose().as_bytes())
            .map_err(|e| format!("node key: {e}"))?;
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("node certificate and key: {e}"))?;
        Ok(Arc::new(config))
    }
}

/// The client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
}

impl ApiClient {
    /// A client for the API at `base` (`https://127.0.0.1:6444`).
    pub fn new(base: &str, tls: Arc<ClientConfig>) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_only()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<http::Response<hyper::body::Incoming>, CallError> {
        let transport = |reason: String| CallError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            reason,
        };
        let bytes = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v).map_err(|e| transport(e.to_string()))?),
            None => Bytes::new(),
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| transport(e.to_string()))?;
        tokio::time::timeout(CALL_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| transport(format!("no answer within {CALL_TIMEOUT:?}")))?
            .map_err(|e| transport(format!("{e}: {}", source_chain(&e))))
    }

    /// Sends a request and returns the JSON of a 2xx answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let response = self.send(method.clone(), path, body).await?;
        let status = response.status();
        let bytes = tokio::time::timeout(CALL_TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| CallError::Transport {
                method: method.clone(),
                path: path.to_owned(),
                reason: "the body did not arrive in time".into(),
            })?
            .map_err(|e| CallError::Transport {
                method: method.clone(),
                path: path.to_owned(),
                reason: e.to_string(),
            })?
            .to_bytes();
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(CallError::Status {
                method,
                path: path.to_owned(),
                code: status.as_u16(),
                message,
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| CallError::Transport {
            method,
            path: path.to_owned(),
            reason: format!("the answer is not JSON: {e}"),
        })
    }

    /// GET; a 404 is `None`.
    pub async fn get(&self, path: &str) -> Result<Option<Value>, CallError> {
        match self.call(Method::GET, path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A watch: each line of the streamed answer, as JSON, to `on_event`,
    /// until the stream ends (a server closing it, a timeout, an error).
    pub async fn watch(
        &self,
        path: &str,
        mut on_event: impl FnMut(Value),
    ) -> Result<(), CallError> {
        let response = self.send(Method::GET, path, None).await?;
        if response.status() != StatusCode::OK {
            return Err(CallError::Status {
                method: Method::GET,
                path: path.to_owned(),
                code: response.status().as_u16(),
                message: "the watch was refused".into(),
            });
        }
        let mut body = response.into_body();
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| CallError::Transport {
                method: Method::GET,
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buffer.extend_from_slice(&data);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                if let Ok(event) = serde_json::from_slice::<Value>(&line) {
                    on_event(event);
                }
            }
        }
        Ok(())
    }
}

/// The causes under a client error (hyper's own message is often just
/// "client error (Connect)").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out.join(": ")
}
