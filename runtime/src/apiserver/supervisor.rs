//! The supervisor endpoints under `/v1-edge/`, beside the Kubernetes API on
//! the same port (like K3s's `/v1-k3s/`): readiness, this server's status
//! (with its VRRP state), the live server list, the cluster's critical
//! configuration, certificate signing for holders of the token (operators'
//! admin certificates; nodes' kubelet certificates, guarded by their node
//! password), and the agents' tunnel (`connect`).
//!
//! Owns who may call each endpoint: the join token proves a server (`server`
//! user) or an agent (`node` user); the admin certificate may do everything.
//! Must not return key material it did not just sign for the caller, and never
//! the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::{MASTERS, Peer, TOKEN_AGENT, TOKEN_SERVER};
use super::handlers::{error_response, json_response};
use super::http::{Shared, authenticate, read_body};
use super::request::path_not_found;
use edge_apimachinery::status::ApiError;
use edge_config::server::CriticalConfig;
use edge_pki::ca::CertificateAuthority;

/// Headers of a kubelet certificate request (K3s's `k3s-Node-*`): the node
/// name, its password, and the node's addresses for a serving certificate.
pub const NODE_NAME_HEADER: &str = "edge-node-name";
pub const NODE_PASSWORD_HEADER: &str = "edge-node-password";
pub const NODE_IP_HEADER: &str = "edge-node-ip";

/// User and group of certificates signed for operators by `/v1-edge/client-admin.crt`.
pub const OPERATOR_USER: &str = "edge-operator";

/// How long `/v1-edge/status` waits for the readiness check.
pub const STATUS_READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// State of the supervisor endpoints.
#[derive(Debug)]
pub struct Supervisor {
    /// The server CA bundle, served at `/cacerts`.
    pub server_ca_pem: String,
    /// Signs client certificates.
    pub client_ca: CertificateAuthority,
    /// Signs serving certificates (kubelets').
    pub server_ca: CertificateAuthority,
    /// Checks node passwords on kubelet certificate requests.
    pub passwords: super::nodepassword::NodePasswords,
    /// The agents' tunnels to this server.
    pub tunnels: Arc<crate::tunnel::Tunnels>,
    /// The flags every server must share.
    pub critical: CriticalConfig,
    /// Set once the server's own start-up work is done.
    pub started: Arc<AtomicBool>,
    pub datastore: edge_datastore::Store,
    /// This server's node name, for `/v1-edge/status`.
    pub node_name: String,
    /// The VRRP instance when `--vip` is set.
    pub vrrp: Option<vrrp::Handle>,
}

/// `GET /v1-edge/status`: what this server says about itself. `edgectl
/// status` reads it; keys are kebab-case like the other supervisor bodies.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServerStatus {
    pub node_name: String,
    /// [`Supervisor::readiness`], the same answer as `/v1-edge/readyz`.
    pub ready: bool,
    /// Why not ready; `null` when ready.
    pub not_ready_reason: Option<String>,
    /// The VRRP state of this server's VIP (state, master, configured and
    /// effective priority, health, counters); `null` without `--vip`.
    pub vrrp: Option<vrrp::Snapshot>,
}

impl Supervisor {
    /// Ready when start-up finished and the datastore answers: the first
    /// failing check of [`Self::readiness_checks`], named.
    pub async fn readiness(&self) -> Result<(), String> {
        for (name, result) in self.readiness_checks().await {
            result.map_err(|why| format!("{name}: {why}"))?;
        }
        Ok(())
    }

    /// Each readiness check by name, as `/readyz?verbose` lists them. The
    /// datastore is not asked before start-up finished.
    pub async fn readiness_checks(&self) -> Vec<(&'static str, Result<(), String>)> {
        if !self.started.load(Ordering::Acquire) {
            return vec![
                ("ping", Ok(())),
                ("startup", Err("start-up not finished".into())),
            ];
        }
        let datastore = self.datastore.ping().await.map_err(|e| e.to_string());
        vec![
            ("ping", Ok(())),
            ("startup", Ok(())),
            ("datastore", datastore),
        ]
    }

    /// This server's status, for `/v1-edge/status`. Answers within about
    /// [`STATUS_READINESS_TIMEOUT`] even when the datastore hangs.
    pub async fn status(&self) -> ServerStatus {
        let ready = tokio::time::timeout(STATUS_READINESS_TIMEOUT, self.readiness())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "readiness: no answer within {STATUS_READINESS_TIMEOUT:?}"
                ))
            });
        ServerStatus {
            node_name: self.node_name.clone(),
            ready: ready.is_ok(),
            not_ready_reason: ready.err(),
            vrrp: self.vrrp.as_ref().map(vrrp::Handle::snapshot),
        }
    }
}

fn text(code: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Routes `/v1-edge/<path>`.
pub async fn route(
    State(shared): State<Arc<Shared>>,
    peer: Option<axum::Extension<Peer>>,
    req: Request,
) -> Response {
    let peer = peer.map(|p| p.0).unwrap_or_default();
    let by_certificate = peer.certificate.is_some();
    let who = match authenticate(&shared, &peer, req.headers()) {
        Ok(Some(who)) => who,
        Ok(None) => return error_response(&ApiError::unauthorized("Unauthorized")),
        Err(e) => return error_response(&e),
    };
    let admin = who.in_group(MASTERS);
    let server = admin || who.in_group(TOKEN_SERVER);
    let member = server || who.in_group(TOKEN_AGENT) || who.node_name().is_some();
    let path = req.uri().path().trim_start_matches("/v1-edge/").to_owned();
    let forbidden = || {
        error_response(&ApiError {
            code: 403,
            reason: edge_apimachinery::status::Reason::Forbidden,
            message: format!("{} may not use /v1-edge/{path}", who.user),
            details: None,
        })
    };
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "readyz") if member => match shared.supervisor.readiness().await {
            Ok(()) => text(StatusCode::OK, "ok".into(), "text/plain"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, why, "text/plain"),
        },
        (Method::GET, "status") if member => json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.supervisor.status().await).unwrap_or(Value::Null),
            &[],
        ),
        (Method::GET, "config") if member => json_response(
            StatusCode::OK,
            &serde_json::to_value(&shared.supervisor.critical).unwrap_or(Value::Null),
            &[],
        ),
        (Method::GET, "apiservers") if member => match apiservers(&shared).await {
            Ok(list) => json_response(StatusCode::OK, &json!(list), &[]),
            Err(e) => error_response(&e),
        },
        (Method::POST, "client-admin.crt") if server => {
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(e) => return error_response(&e),
            };
            let Ok(csr) = std::str::from_utf8(&body) else {
                return error_response(&ApiError::bad_request(
                    "the body must be a PEM certificate request",
                ));
            };
            match shared
                .supervisor
                .client_ca
                .sign_client_csr(csr, OPERATOR_USER, &[MASTERS])
            {
                Ok(cert) => {
                    tracing::info!(by = %who.user, "signed an administrator certificate");
                    text(StatusCode::OK, cert, "application/x-pem-file")
                }
                Err(e) => error_response(&ApiError::bad_request(format!(
                    "cannot sign the request: {e}"
                ))),
            }
        }
        (Method::POST, "client-kubelet.crt" | "serving-kubelet.crt") if member => {
            let serving = path == "serving-kubelet.crt";
            match kubelet_certificate(&shared, &who, serving, req).await {
                Ok(cert) => text(StatusCode::OK, cert, "application/x-pem-file"),
                Err(e) => error_response(&e),
            }
        }
        (Method::GET, "connect") if by_certificate && who.node_name().is_some() => {
            let node = who.node_name().unwrap_or_default().to_owned();
            shared
                .supervisor
                .tunnels
                .accept(node, req)
                .unwrap_or_else(|e| error_response(&e))
        }
        (
            _,
            "readyz"
            | "status"
            | "config"
            | "apiservers"
            | "client-admin.crt"
            | "client-kubelet.crt"
            | "serving-kubelet.crt"
            | "connect",
        ) => forbidden(),
        _ => error_response(&path_not_found()),
    }
}

/// `POST /v1-edge/client-kubelet.crt` and `serving-kubelet.crt`: signs the
/// node's CSR (the body; the key stays on the node). The caller is a token
/// holder, whose node password is checked, or the node's own certificate
/// (a renewal). The client certificate is `system:node:NAME` in
/// `system:nodes`; the serving one covers the node name and addresses.
async fn kubelet_certificate(
    shared: &Shared,
    who: &super::auth::Identity,
    serving: bool,
    req: Request,
) -> Result<String, ApiError> {
    use edge_config::types::NodeName;
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let node: NodeName = header(NODE_NAME_HEADER)
        .ok_or_else(|| ApiError::bad_request(format!("the {NODE_NAME_HEADER} header is missing")))?
        .parse()
        .map_err(ApiError::bad_request)?;
    let password = header(NODE_PASSWORD_HEADER).map(edge_config::secret::Secret::new);
    let ips: Vec<std::net::IpAddr> = header(NODE_IP_HEADER)
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse().map_err(|_| {
                ApiError::bad_request(format!("{NODE_IP_HEADER}: {s:?} is not an IP address"))
            })
        })
        .collect::<Result<_, _>>()?;
    match who.node_name() {
        Some(own) if own == node.as_str() => {}
        Some(own) => {
            return Err(ApiError::forbidden(
                edge_apimachinery::status::GroupResource::new("", "nodes"),
                node.as_str(),
                &format!("node \"{own}\" may only request its own certificates"),
            ));
        }
        None => {
            let password = password.ok_or_else(|| {
                ApiError::bad_request(format!("the {NODE_PASSWORD_HEADER} header is missing"))
            })?;
            shared
                .supervisor
                .passwords
                .check(&shared.api, node.as_str(), &password)
                .await?;
        }
    }
    let body = read_body(body).await?;
    let csr = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body must be a PEM certificate request"))?;
    let signed = if serving {
        let mut sans = vec![
            edge_config::san::San::parse(node.as_str())
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ];
        sans.extend(ips.into_iter().map(edge_config::san::San::Ip));
        shared
            .supervisor
            .server_ca
            .sign_serving_csr(csr, node.as_str(), &sans)
    } else {
        let user = format!("system:node:{node}");
        shared
            .supervisor
            .client_ca
            .sign_client_csr(csr, &user, &[super::auth::NODES])
    };
    let cert =
        signed.map_err(|e| ApiError::bad_request(format!("cannot sign the request: {e}")))?;
    tracing::info!(%node, serving, by = %who.user, "signed a kubelet certificate");
    Ok(cert)
}

/// `host:port` of every live server: the keys each server keeps alive on a
/// datastore lease (see [`super::masterleases`]). Unlike the
/// `kubernetes` Endpoints, which carry one port for all, these keep each
/// server's own port.
pub async fn apiservers(shared: &Shared) -> Result<Vec<String>, ApiError> {
    super::masterleases::live_addresses(&shared.api).await
}
