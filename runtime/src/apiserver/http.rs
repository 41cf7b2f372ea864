//! The HTTPS listener and the routes on port 6443: health and version,
//! `/cacerts` and `/ping`, discovery and OpenAPI, the supervisor endpoints
//! under `/v1-edge/`, and the Kubernetes API under `/api` and `/apis`.
//!
//! Owns TLS (rustls, TLS 1.3 and 1.2; client certificates optional and, when
//! given, verified against the client CA), per-connection identity, request
//! body limits, and turning every failure into a `metav1.Status`. Must not hold
//! Kubernetes semantics: it routes to [`super::handlers`] and [`super::supervisor`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::auth::{Identity, Peer, Tokens, identity_from_certificate};
use super::handlers::{Api, Call, error_response, json_response};
use super::request::{self, Target, path_not_found, query_map};
use super::supervisor::Supervisor;
use edge_apimachinery::document::JsonDocument;
use edge_apimachinery::status::ApiError;
use edge_apimachinery::{discovery, openapi};

/// Largest request body accepted (kube-apiserver's limit for JSON bodies).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything the routes share.
#[derive(Debug)]
pub struct Shared {
    pub api: Api,
    pub supervisor: Supervisor,
    pub tokens: Tokens,
    /// `host:port` clients reach this server at (for `/api`'s address list).
    pub advertise: String,
}

/// Builds the rustls configuration: the serving chain, and client
/// certificates verified against `client_ca` but not required (anonymous and
/// token requests are allowed on the same port).
pub fn tls_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_ca_pem: &str,
) -> Result<Arc<ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("serving certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("serving key: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| format!("client CA: {e}"))?)
            .map_err(|e| format!("client CA: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client verifier: {e}"))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("serving certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/cacerts", get(cacerts))
        .route("/ping", get(|| async { "pong" }))
        .route("/healthz", get(health))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(health))
        .route("/version", get(version))
        .route(
            "/openapi/v2",
            any(|| async { error_response(&path_not_found()) }),
        )
        .route("/openapi/v3", get(openapi_index))
        .route("/openapi/v3/{*path}", get(openapi_document))
        .route("/v1-edge/{*path}", any(super::supervisor::route))
        .fallback(kubernetes)
        .with_state(shared)
}

/// The routes while the server starts, before the datastore answers: it is
/// alive (`/livez`, `/ping`) but not ready (`/readyz`, `/healthz` say why),
/// and every other request is a 503 that says the same.
pub fn starting_router(reason: String) -> Router {
    let reason = Arc::new(reason);
    let check = {
        let reason = reason.clone();
        move |req: Request| {
            let reason = reason.clone();
            async move { not_ready(req.uri().path(), &reason) }
        }
    };
    Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(check.clone()))
        .route("/healthz", get(check))
        .fallback(move || {
            let reason = reason.clone();
            async move {
                error_response(&ApiError::service_unavailable(format!(
                    "the server is starting: {reason}"
                )))
            }
        })
}

/// The identity a request carries: its certificate, else its token.
pub fn authenticate(
    shared: &Shared,
    peer: &Peer,
    headers: &http::HeaderMap,
) -> Result<Option<Identity>, ApiError> {
    if let Some(id) = &peer.certificate {
        return Ok(Some(id.clone()));
    }
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => shared.tokens.authenticate(h).map(Some),
        None => Ok(None),
    }
}

async fn cacerts(State(shared): State<Arc<Shared>>) -> Response {
    let mut r = Response::new(Body::from(shared.supervisor.server_ca_pem.clone()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// `/readyz` and `/healthz`: `ok`, or 503 with the failing check; with
/// `?verbose`, every check on a line of its own as kube-apiserver lists them.
async fn health(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path();
    let endpoint = path.trim_start_matches('/');
    if super::request::query_map(req.uri().query()).contains_key("verbose") {
        let checks = shared.supervisor.readiness_checks().await;
        let ok = checks.iter().all(|(_, r)| r.is_ok());
        let mut body = String::new();
        for (name, result) in &checks {
            match result {
                Ok(()) => body.push_str(&format!("[+]{name} ok\n")),
                Err(why) => body.push_str(&format!("[-]{name} failed: {why}\n")),
            }
        }
        let verdict = if ok { "passed" } else { "failed" };
        body.push_str(&format!("{endpoint} check {verdict}\n"));
        let code = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return (code, body).into_response();
    }
    match shared.supervisor.readiness().await {
        Ok(()) => "ok".into_response(),
        Err(why) => not_ready(path, &why),
    }
}

/// The 503 of `/readyz` or `/healthz` (`path`) that failed because of `why`.
fn not_ready(path: &str, why: &str) -> Response {
    let endpoint = path.trim_start_matches('/');
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("[-]{why}\n{endpoint} check failed\n"),
    )
        .into_response()
}

async fn version(req: Request) -> Response {
    document_response(discovery::version_info(), discovery::JSON, req.headers())
}

fn document_response(
    doc: &JsonDocument,
    content_type: &str,
    headers: &http::HeaderMap,
) -> Response {
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|h| doc.matches_if_none_match(h)) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return r;
    }
    let mut r = Response::new(Body::from(doc.bytes().to_vec()));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&doc.etag()) {
        h.insert(header::ETAG, v);
    }
    r
}

async fn openapi_index(
    State(shared): State<Arc<Shared>>,
    peer: axum::Extension<Peer>,
    req: Request,
) -> Response {
    if let Err(e) = require_identity(&shared, &peer, req.headers()) {
        return error_response(&e);
    }
    document_response(openapi::v3_index(), "application/json", req.headers())
}

async fn openapi_document(
    State(shared): State<Arc<Shared>>,
    peer: axum::Extension<Peer>,
    req: Request,
) -> Response {
    if let Err(e) = require_identity(&shared, &peer, req.headers()) {
        return error_response(&e);
    }
    match openapi::v3_document(req.uri().path()) {
        Some(doc) => {
            let mut r = document_response(doc, openapi::CONTENT_TYPE, req.headers());
            // Documents are addressed by content hash: cache them for good.
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            r
        }
        None => error_response(&path_not_found()),
    }
}

fn require_identity(
    shared: &Shared,
    peer: &Peer,
    headers: &http::HeaderMap,
) -> Result<Identity, ApiError> {
    authenticate(shared, peer, headers)?.ok_or_else(|| ApiError::unauthorized("Unauthorized"))
}

/// Reads a body up to [`MAX_BODY`]; larger ones are a 413. The rest of an
/// oversized body (up to [`DRAIN_LIMIT`]) is read and discarded, so the
/// answer reaches the client and the connection stays usable.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut buffer = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= MAX_BODY {
            buffer.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::request_entity_too_large(&format!(
            "limit is {MAX_BODY} bytes"
        )));
    }
    Ok(buffer.freeze())
}

/// How much of an oversized body is drained before giving up on the connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// `/api…` and `/apis…`: discovery and resources.
async fn kubernetes(
    State(shared): State<Arc<Shared>>,
    peer: Option<axum::Extension<Peer>>,
    req: Request,
) -> Response {
    let peer = peer.map(|p| p.0).unwrap_or_default();
    let path = req.uri().path().to_owned();
    if !(path == "/api"
        || path.starts_with("/api/")
        || path == "/apis"
        || path.starts_with("/apis/"))
    {
        return error_response(&path_not_found());
    }
    let who = match require_identity(&shared, &peer, req.headers()) {
        Ok(who) => who,
        Err(e) => return error_response(&e),
    };
    if let Some((node, rest)) = node_proxy_path(&path) {
        return match proxy_to_node(&shared, &who, node, rest, req).await {
            Ok(response) => response,
            Err(e) => error_response(&e),
        };
    }
    let query: HashMap<String, String> = query_map(req.uri().query());
    let method = req.method().clone();
    let target = match request::parse(&method, &path, &query) {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    match target {
        Target::Discovery { group, version } => discovery_response(&shared, &req, group, version),
        Target::Resource(info) => {
            let (parts, body) = req.into_parts();
            let body = match read_body(body).await {
                Ok(b) => b,
                Err(e) => return error_response(&e),
            };
            let call = Call {
                who: &who,
                info,
                query,
                headers: &parts.headers,
                method: &method,
                body,
            };
            let mut response = shared.api.handle(call).await;
            if method == Method::HEAD {
                *response.body_mut() = Body::empty();
            }
            response
        }
    }
}

/// `/api/v1/nodes/NAME/proxy[/REST]` as (NAME, `/REST`).
fn node_proxy_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/api/v1/nodes/")?;
    let (node, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("proxy")?;
    if !(rest.is_empty() || rest.starts_with('/')) || node.is_empty() {
        return None;
    }
    Some((node, if rest.is_empty() { "/" } else { rest }))
}

/// `nodes/proxy`: the request, less the prefix, sent to the node over its
/// tunnel to this server, and the node's answer streamed back. Only for
/// identities that may use `nodes/proxy` (administrators).
async fn proxy_to_node(
    shared: &Shared,
    who: &Identity,
    node: &str,
    rest: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let verb = match *req.method() {
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "proxy",
    };
    let nodes = edge_apimachinery::resources::find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    super::auth::authorize(
        who,
        &super::auth::Attributes::of(verb, nodes, Some("proxy"), None, Some(node)),
    )?;
    let (parts, body) = req.into_parts();
    let target = match parts.uri.query() {
        Some(q) => format!("http://{node}{rest}?{q}"),
        None => format!("http://{node}{rest}"),
    };
    let mut forward = http::Request::builder().method(parts.method).uri(target);
    for (name, value) in &parts.headers {
        // Credentials for this server are not the node's business.
        if name != header::AUTHORIZATION && name != header::HOST {
            forward = forward.header(name, value);
        }
    }
    let forward = forward
        .body(body)
        .map_err(|e| ApiError::bad_request(format!("cannot forward the request: {e}")))?;
    let response = shared.supervisor.tunnels.proxy(node, forward).await?;
    Ok(response.map(Body::new))
}

fn discovery_response(
    shared: &Shared,
    req: &Request,
    group: Option<String>,
    version: Option<String>,
) -> Response {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    match (group.as_deref(), version.as_deref()) {
        (None, _) => {
            let legacy = req.uri().path() == "/api";
            match discovery::negotiate(accept) {
                discovery::Representation::Aggregated => {
                    let doc = discovery::aggregated(legacy);
                    document_response(
                        doc,
                        discovery::Representation::Aggregated
                            .content_type()
                            .unwrap_or(discovery::AGGREGATED_V2),
                        req.headers(),
                    )
                }
                discovery::Representation::Legacy => {
                    if legacy {
                        json_response(
                            StatusCode::OK,
                            &discovery::api_versions(&shared.advertise),
                            &[],
                        )
                    } else {
                        document_response(
                            discovery::group_list(),
                            "application/json",
                            req.headers(),
                        )
                    }
                }
                discovery::Representation::NotAcceptable => {
                    error_response(&ApiError::not_acceptable(&["application/json"]))
                }
            }
        }
        (Some(g), Some(v)) => match discovery::resource_list(g, v) {
            Some(doc) => document_response(doc, "application/json", req.headers()),
            None => error_response(&path_not_found()),
        },
        (Some(g), None) => {
            let groups = discovery::group_list().value()["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            match groups.into_iter().find(|grp| grp["name"] == g) {
                Some(mut doc) => {
                    doc["kind"] = serde_json::json!("APIGroup");
                    doc["apiVersion"] = serde_json::json!("v1");
                    json_response(StatusCode::OK, &doc, &[])
                }
                None => error_response(&path_not_found()),
            }
        }
    }
}

/// Accepts connections until `shutdown`, serving each with the routes and
/// the identity its client certificate carries (verified by `tls`).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: CancellationToken,
) {
    let peer = |certificate: Option<&CertificateDer<'_>>| Peer {
        certificate: certificate.and_then(|cert| identity_from_certificate(cert)),
    };
    crate::https::serve(listener, tls, app, peer, shutdown).await;
}
