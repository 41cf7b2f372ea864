//! The supervisor endpoints (`/cacerts`, `/ping` and everything under
//! `/v1-edge/`) asked with every kind of credential a K3s-style cluster
//! hands out: none, a wrong token, the server token, the agent token, a
//! node's certificate, another user's certificate and the admin's.
//!
//! Owns the (endpoint × credential → status) table of
//! `runtime/src/apiserver/supervisor.rs` and the small HTTPS client it needs
//! (exact status codes, client certificates). Must not start more than one
//! server, and must not weaken a row to make it pass: a rule that looks wrong
//! is reported, not bent here.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

use crate::support::Server;
use edge_runtime::apiserver::auth::identity_from_certificate;

/// The join secret given with `--token`: found in no answer.
const JOIN_SECRET: &str = "join-secret-4711-do-not-echo";
/// The secret of the wrong token: not echoed either.
const WRONG_SECRET: &str = "wrong-secret-0815-do-not-echo";
/// How long one request may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// Who is asking. The order is the order of a [`Row`]'s columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// No certificate, no `Authorization` header.
    None,
    /// `Bearer K10<the right CA hash>::server:<wrong secret>`.
    WrongToken,
    /// `Bearer <the full K10 token>` from `<data-dir>/server/token`.
    ServerToken,
    /// `Basic node:<secret>`: the agent's form of the token.
    AgentToken,
    /// A client certificate `system:node:edge-b` in `system:nodes`.
    NodeCert,
    /// A client certificate of the same CA for a user in no group
    /// (`system:kube-proxy`, as K3s issues one).
    OtherCert,
    /// `client-admin.crt` (`system:admin` in `system:masters`).
    AdminCert,
}

const CREDENTIALS: [Credential; 7] = [
    Credential::None,
    Credential::WrongToken,
    Credential::ServerToken,
    Credential::AgentToken,
    Credential::NodeCert,
    Credential::OtherCert,
    Credential::AdminCert,
];

impl Credential {
    /// The user a 403 names (`<user> may not use /v1-edge/<path>`).
    fn user(self) -> &'static str {
        match self {
            Credential::None | Credential::WrongToken => "<nobody>",
            Credential::ServerToken => "server",
            Credential::AgentToken => "node",
            Credential::NodeCert => "system:node:edge-b",
            Credential::OtherCert => "system:kube-proxy",
            Credential::AdminCert => "system:admin",
        }
    }
}

/// One endpoint and the status each credential gets, in [`CREDENTIALS`] order.
type Row = (&'static str, &'static str, [u16; 7]);

/// The rules of `supervisor.rs` and `http.rs`: `/cacerts` and `/ping` are
/// anonymous and never look at credentials; under `/v1-edge/` a request
/// without a valid credential is 401 before anything else, `readyz`,
/// `status`, `config` and `apiservers` are for members (either token, a
/// node certificate, the admin), `client-admin.crt` is for the server token
/// and the admin, and an unknown path is 404 for anyone authenticated.
#[rustfmt::skip]
const TABLE: &[Row] = &[
    //                                        none wrong server agent node other admin
    ("GET",  "/cacerts",                     [200, 200,  200,  200,  200, 200,  200]),
    ("GET",  "/ping",                        [200, 200,  200,  200,  200, 200,  200]),
    ("GET",  "/v1-edge/readyz",              [401, 401,  200,  200,  200, 403,  200]),
    ("GET",  "/v1-edge/status",              [401, 401,  200,  200,  200, 403,  200]),
    ("GET",  "/v1-edge/config",              [401, 401,  200,  200,  200, 403,  200]),
    ("GET",  "/v1-edge/apiservers",          [401, 401,  200,  200,  200, 403,  200]),
    ("POST", "/v1-edge/client-admin.crt",    [401, 401,  200,  403,  403, 403,  200]),
    // A known path with the wrong method is refused as forbidden, even to
    // the admin (not 405): the rules' catch-all arm. See the report of issue 18.
    ("GET",  "/v1-edge/client-admin.crt",    [401, 401,  403,  403,  403, 403,  403]),
    ("POST", "/v1-edge/readyz",              [401, 401,  403,  403,  403, 403,  403]),
    ("GET",  "/v1-edge/no-such-endpoint",    [401, 401,  404,  404,  404, 404,  404]),
];

/// What the server answered.
struct Answer {
    status: u16,
    body: String,
}

/// TLS settings and `Authorization` header for one credential.
struct Client {
    tls: Arc<rustls::ClientConfig>,
    authorization: Option<String>,
}

fn tls_config(ca_pem: &str, cert: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(ca.expect("server CA parses")).expect("server CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .map(|c| c.expect("client certificate parses"))
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client certificate and key")
        }
    };
    Arc::new(config)
}

/// One HTTP/1.1 request over a fresh TLS connection to `127.0.0.1:port`.
async fn request(port: u16, client: &Client, method: &str, path: &str, body: Vec<u8>) -> Answer {
    let exchange = async {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let tls = tokio_rustls::TlsConnector::from(client.tls.clone())
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("HTTP handshake");
        tokio::spawn(connection);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, format!("127.0.0.1:{port}"));
        if let Some(auth) = &client.authorization {
            req = req.header(http::header::AUTHORIZATION, auth);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
            .expect("response");
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within {DEADLINE:?}"))
}

/// Every line of key material under the server's TLS dir: the base64 body
/// lines of each `*.key` file (the PEM armour alone is checked separately).
fn key_lines(tls_dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(tls_dir).expect("tls dir") {
        let path = entry.expect("tls dir entry").path();
        if path.extension().is_some_and(|e| e == "key") {
            let text = std::fs::read_to_string(&path).expect("key file");
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                    .map(str::to_owned),
            );
        }
    }
    assert!(!lines.is_empty(), "no key files in {}", tls_dir.display());
    lines
}

/// A PEM PKCS#10 request for a fresh key, as `edgectl kubeconfig` sends.
fn csr_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key pair");
    rcgen::CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .and_then(|r| r.pem())
        .expect("certificate request")
}

/// The body a 2xx answer of `path` must have.
fn check_success(server: &Server, server_ca: &str, method: &str, path: &str, body: &str) {
    let what = format!("{method} {path}");
    match path {
        "/cacerts" => assert_eq!(body, server_ca, "{what}"),
        "/ping" => assert_eq!(body, "pong", "{what}"),
        "/v1-edge/readyz" => assert_eq!(body, "ok", "{what}"),
        "/v1-edge/status" => {
            let status: Value = serde_json::from_str(body).expect("status is JSON");
            assert_eq!(status["node-name"], server.node.as_str(), "{what}: {body}");
            assert_eq!(status["ready"], true, "{what}: {body}");
        }
        "/v1-edge/config" => {
            let config: Value = serde_json::from_str(body).expect("config is JSON");
            assert_eq!(config["cluster-cidr"], "10.42.0.0/16", "{what}: {body}");
            assert_eq!(config["service-cidr"], "10.43.0.0/16", "{what}: {body}");
        }
        "/v1-edge/apiservers" => {
            let list: Vec<String> = serde_json::from_str(body).expect("a JSON list");
            assert_eq!(list, [format!("127.0.0.1:{}", server.port)], "{what}");
        }
        "/v1-edge/client-admin.crt" => {
            let der = CertificateDer::from_pem_slice(body.as_bytes())
                .unwrap_or_else(|e| panic!("{what}: not a PEM certificate ({e}): {body}"));
            let id = identity_from_certificate(&der).expect("certificate subject");
            assert_eq!(id.user, "edge-operator", "{what}");
            assert_eq!(id.groups, ["system:masters"], "{what}");
        }
        other => panic!("{what}: no success expected for {other}"),
    }
}

/// The `metav1.Status` of a refusal: its code is the HTTP status, with the
/// matching reason, and a 403 names the user and the path.
fn check_refusal(credential: Credential, path: &str, status: u16, body: &str) {
    let what = format!("{path} as {credential:?}");
    let parsed: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert_eq!(parsed["kind"], "Status", "{what}: {body}");
    assert_eq!(parsed["status"], "Failure", "{what}: {body}");
    assert_eq!(parsed["code"], status, "{what}: {body}");
    let (reason, message) = match status {
        401 => ("Unauthorized", "Unauthorized".to_owned()),
        403 => (
            "Forbidden",
            format!("{} may not use {path}", credential.user()),
        ),
        404 => (
            "NotFound",
            "the server could not find the requested resource".to_owned(),
        ),
        other => panic!("{what}: no refusal {other} in the table"),
    };
    assert_eq!(parsed["reason"], reason, "{what}: {body}");
    assert_eq!(parsed["message"], message.as_str(), "{what}: {body}");
}

/// Every supervisor endpoint × every credential: the exact status, the
/// expected body, and no secret (join secret, wrong secret, any private key)
/// in any answer. SQLite has no datastore password; the external datastores'
/// passwords are checked where those run (the HA suites).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_endpoints_answer_each_credential_by_the_rules() {
    let server = tokio::task::spawn_blocking(|| Server::start(&["--token", JOIN_SECRET]))
        .await
        .expect("start");
    let tls_dir = edge_pki::cluster::tls_dir(&server.data_dir());
    let read = |name: &str| std::fs::read_to_string(tls_dir.join(name)).expect(name);
    let server_ca = read("server-ca.crt");
    let token = server.token();
    assert!(
        token.ends_with(&format!("::server:{JOIN_SECRET}")),
        "{token}"
    );
    let ca_hash = token
        .strip_prefix("K10")
        .and_then(|t| t.split_once("::"))
        .map(|(hash, _)| hash.to_owned())
        .expect("K10<hash>::server:<secret>");

    let pki = edge_pki::cluster::ClusterPki::load(&tls_dir).expect("cluster PKI");
    let node = pki
        .client_ca
        .issue_client("system:node:edge-b", &["system:nodes"])
        .expect("node certificate");
    let other = pki
        .client_ca
        .issue_client("system:kube-proxy", &[])
        .expect("kube-proxy certificate");
    let admin_cert = read("client-admin.crt");
    let admin_key = read("client-admin.key");
    let b64 = base64::engine::general_purpose::STANDARD;
    let client = |credential: Credential| {
        let (cert, authorization) = match credential {
            Credential::None => (None, None),
            Credential::WrongToken => (
                None,
                Some(format!("Bearer K10{ca_hash}::server:{WRONG_SECRET}")),
            ),
            Credential::ServerToken => (None, Some(format!("Bearer {token}"))),
            Credential::AgentToken => (
                None,
                Some(format!(
                    "Basic {}",
                    b64.encode(format!("node:{JOIN_SECRET}"))
                )),
            ),
            Credential::NodeCert => (
                Some((node.cert_pem.as_str(), node.key_pem.expose().as_str())),
                None,
            ),
            Credential::OtherCert => (
                Some((other.cert_pem.as_str(), other.key_pem.expose().as_str())),
                None,
            ),
            Credential::AdminCert => (Some((admin_cert.as_str(), admin_key.as_str())), None),
        };
        Client {
            tls: tls_config(&server_ca, cert),
            authorization,
        }
    };
    let clients: Vec<Client> = CREDENTIALS.iter().map(|c| client(*c)).collect();

    // The server's own lease is written after it reports ready: wait for it.
    let admin = &clients[6];
    let until = Instant::now() + DEADLINE;
    loop {
        let answer = request(server.port, admin, "GET", "/v1-edge/apiservers", vec![]).await;
        if answer.status == 200 && answer.body.contains(&format!(":{}\"", server.port)) {
            break;
        }
        assert!(
            Instant::now() < until,
            "this server is not in /v1-edge/apiservers within {DEADLINE:?}: {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut secrets = key_lines(&tls_dir);
    secrets.extend([
        JOIN_SECRET.to_owned(),
        WRONG_SECRET.to_owned(),
        "PRIVATE KEY".to_owned(),
    ]);
    let mut failures = Vec::new();
    for (method, path, expected) in TABLE {
        for ((credential, client), want) in CREDENTIALS.iter().zip(&clients).zip(expected) {
            let body = if *method == "POST" {
                csr_pem().into_bytes()
            } else {
                vec![]
            };
            let answer = request(server.port, client, method, path, body).await;
            if answer.status != *want {
                failures.push(format!(
                    "{method} {path} as {credential:?}: {} (want {want}): {}",
                    answer.status, answer.body
                ));
                continue;
            }
            if let Some(secret) = secrets.iter().find(|s| answer.body.contains(s.as_str())) {
                panic!("{method} {path} as {credential:?} answered with a secret ({secret:?})");
            }
            if answer.status < 300 {
                check_success(&server, &server_ca, method, path, &answer.body);
            } else {
                check_refusal(*credential, path, answer.status, &answer.body);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "statuses differ from the table:\n{}",
        failures.join("\n")
    );
}
