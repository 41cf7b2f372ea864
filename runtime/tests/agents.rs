//! The seed's second half: `edged agent` processes join through the fixed
//! registration address, keep a tunnel to every server behind their load
//! balancer, heartbeat, and survive losing the server they talk to. Servers
//! are real `edged server` processes (on the shared PostgreSQL for the HA
//! cases, SQLite otherwise); the fixed address is a loopback address that
//! is no server's own, forwarded to the servers.

mod support;

use std::time::{Duration, Instant};

use edge_testkit::{Engine, unique_db_name};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::{Agent, Forwarder, Server, get_node, ready_status, wait_until};

const TOKEN: &str = "agents-suite-token";
const MINUTE: Duration = Duration::from_secs(60);

fn pg_servers(extra: &[&str]) -> (Server, Server) {
    let endpoint = Engine::Postgres.shared().url(&unique_db_name("agents"));
    let mut args = vec!["--datastore-endpoint", endpoint.as_str(), "--token", TOKEN];
    args.extend_from_slice(extra);
    let a = Server::start_at("127.0.0.2", tempfile::tempdir().expect("tmp"), &args);
    let b = Server::start_at("127.0.0.3", tempfile::tempdir().expect("tmp"), &args);
    (a, b)
}

fn address(s: &Server) -> String {
    format!("{}:{}", s.ip, s.port)
}

fn is_ready(s: &Server, node: &str) -> bool {
    get_node(s, node).is_some_and(|n| ready_status(&n) == "True")
}

fn ready_condition(node: &Value) -> Value {
    node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn lease_renewed(s: &Server, node: &str) -> Option<jiff::Timestamp> {
    let out = s.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-node-lease",
        node,
        "-o",
        "jsonpath={.spec.renewTime}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn proxied_health(s: &Server, node: &str) -> Option<String> {
    let out = s.kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{node}/proxy/healthz"),
    ]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The server the agent's load balancer sends its traffic to, from its log.
fn active_server(agent: &Agent) -> String {
    let marker = "load balancer: active server server=";
    agent.wait_log("an active server", |l| l.contains(marker));
    let log = agent.log_text();
    let line = log
        .lines()
        .rfind(|l| l.contains(marker))
        .unwrap_or_default();
    line.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

/// The acceptance path: an agent joins through an address that is no
/// server's own; it is Ready through every server, which all reach it
/// through its tunnels; its password Secret is owned by its Node; SIGKILL
/// of the server it talks to moves its lease renewals to the other server
/// and it never goes NotReady.
#[test]
fn an_agent_joins_through_the_fixed_address_and_outlives_its_server() {
    let (mut a, mut b) = pg_servers(&["--node-monitor-grace-period", "6s"]);
    let fixed = Forwarder::start("127.0.0.9", vec![address(&a), address(&b)]);
    let agent = Agent::start(
        &fixed.url(),
        &a.token(),
        "agent-1",
        "127.0.0.11",
        &["--node-status-update-frequency", "1s"],
    );
    agent.wait_log("readiness", |l| l.contains("agent ready"));
    for s in [&a, &b] {
        wait_until("the agent Ready through every server", MINUTE, || {
            is_ready(s, "agent-1")
        });
        wait_until("the node proxy through every server", MINUTE, || {
            proxied_health(s, "agent-1").as_deref() == Some("ok")
        });
    }
    let node = get_node(&a, "agent-1").expect("node");
    assert!(
        node["spec"]["podCIDR"]
            .as_str()
            .is_some_and(|c| c.starts_with("10.42.")),
        "a pod CIDR from --cluster-cidr: {node}"
    );
    assert!(
        agent.log_text().contains("verified=true"),
        "the full token's CA hash was checked:\n{}",
        agent.log_tail()
    );
    wait_until("the password Secret owned by the Node", MINUTE, || {
        let out = a.kubectl(&[
            "get",
            "secret",
            "-n",
            "kube-system",
            "agent-1.node-password.edge",
            "-o",
            "jsonpath={.type} {.immutable} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].uid}",
        ]);
        String::from_utf8_lossy(&out.stdout)
            == format!(
                "edge.io/node-password true Node/{}",
                node["metadata"]["uid"].as_str().unwrap_or("?")
            )
    });

    // SIGKILL of the server the agent talks to.
    let transition =
        ready_condition(&get_node(&a, "agent-1").expect("node"))["lastTransitionTime"].clone();
    let active = active_server(&agent);
    let (dead, survivor) = if active == address(&a) {
        (&mut a, &b)
    } else {
        assert_eq!(active, address(&b), "the active server is one of the two");
        (&mut b, &a)
    };
    let killed_at = jiff::Timestamp::now();
    let killed = Instant::now();
    dead.kill();
    wait_until("a lease renewal through the other server", MINUTE, || {
        lease_renewed(survivor, "agent-1").is_some_and(|t| t > killed_at)
    });
    eprintln!(
        "lease renewals resumed {:?} after the SIGKILL of {active}",
        killed.elapsed()
    );
    // Had the agent looked dead, the leader would have marked it within a
    // grace period (6 s) and a pass (5 s) of leading: wait for a renewal
    // later than that (events, not a sleep), then look.
    wait_until("the survivor to lead", MINUTE, || {
        let log = std::fs::read_to_string(&survivor.log).unwrap_or_default();
        log.lines()
            .rfind(|l| l.contains("leadership changed"))
            .is_some_and(|l| l.contains("leading=true"))
    });
    let window_end = jiff::Timestamp::now().max(killed_at) + jiff::SignedDuration::from_secs(12);
    wait_until("renewals past the window", MINUTE, || {
        lease_renewed(survivor, "agent-1").is_some_and(|t| t > window_end)
    });
    let node = get_node(survivor, "agent-1").expect("node");
    assert_eq!(ready_status(&node), "True", "never NotReady: {node}");
    assert_eq!(
        ready_condition(&node)["lastTransitionTime"],
        transition,
        "Ready never changed: {node}"
    );
    assert!(
        node["spec"]["taints"].is_null(),
        "no unreachable taint: {node}"
    );
    assert_eq!(
        proxied_health(survivor, "agent-1").as_deref(),
        Some("ok"),
        "still reachable through its other tunnel"
    );
}

/// A server whose CA is not the one the token pins is refused before any
/// secret goes to it, and the agent says so and exits 1.
#[test]
fn an_impostor_server_is_refused() {
    let real = Server::start(&[]);
    let impostor = Server::start_at("127.0.0.4", tempfile::tempdir().expect("tmp"), &[]);
    let agent = Agent::prepare(&impostor.url(), &real.token(), "agent-x", "127.0.0.12", &[]);
    let (code, stderr) = agent.run_to_exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is not this cluster's") && stderr.contains("does not match"),
        "{stderr}"
    );
    assert!(
        !impostor.log_tail().contains("agent-x"),
        "nothing about the node reached the impostor"
    );
}

/// A wrong token ends the agent with a message that says so; an
/// unreachable address is retried with a log line that says so.
#[test]
fn a_wrong_token_exits_and_an_unreachable_address_is_retried() {
    let server = Server::start(&[]);
    let agent = Agent::prepare(&server.url(), "not-the-token", "agent-w", "127.0.0.13", &[]);
    let (code, stderr) = agent.run_to_exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("refused the token") && stderr.contains("--token"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-token"), "the token is not echoed");

    let port = edge_testkit::free_port();
    let agent = Agent::start(
        &format!("https://127.0.0.1:{port}"),
        &server.token(),
        "agent-u",
        "127.0.0.13",
        &[],
    );
    agent.wait_log("a retry line", |l| {
        l.contains("cannot join yet; retrying") && l.contains("cannot reach")
    });
    let mut agent = agent;
    assert!(
        agent
            .child
            .as_mut()
            .and_then(|c| c.child_mut())
            .is_some_and(|c| matches!(c.try_wait(), Ok(None))),
        "still running, retrying"
    );
}

/// A second device using a node name already taken gets the 403 that
/// suggests --with-node-id; the first keeps its node across restarts.
#[test]
fn a_node_name_belongs_to_one_device() {
    let server = Server::start(&[]);
    let mut first = Agent::start(&server.url(), &server.token(), "shop-7", "127.0.0.14", &[]);
    first.wait_log("readiness", |l| l.contains("agent ready"));
    let uid = get_node(&server, "shop-7").expect("node")["metadata"]["uid"].clone();

    let second = Agent::prepare(&server.url(), &server.token(), "shop-7", "127.0.0.15", &[]);
    let (code, stderr) = second.run_to_exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Node password rejected") && stderr.contains("--with-node-id"),
        "{stderr}"
    );

    // The same device restarted keeps its identity.
    let password = std::fs::read(first.data_dir().join("agent/node-password")).expect("password");
    first.kill();
    first.spawn();
    let ready_lines = |a: &Agent| a.log_text().matches("agent ready").count();
    wait_until("the restarted agent ready", MINUTE, || {
        ready_lines(&first) == 2
    });
    assert_eq!(
        get_node(&server, "shop-7").expect("node")["metadata"]["uid"],
        uid,
        "the same Node"
    );
    assert_eq!(
        std::fs::read(first.data_dir().join("agent/node-password")).expect("password"),
        password
    );
    // With --with-node-id the second device joins under a name of its own,
    // here with the agent form of the token (K10…::node:…), as K3s takes it.
    let mut second = second;
    second.token = server.token().replace("::server:", "::node:");
    second.args.push("--with-node-id".into());
    second.spawn();
    second.wait_log("readiness", |l| l.contains("agent ready node=shop-7-"));
}

/// Heartbeat loss: a stopped agent turns Ready=Unknown with the
/// unreachable taints after the grace period; continued, it is Ready and
/// the taints are gone.
#[test]
fn a_silent_agent_is_tainted_unreachable_until_it_returns() {
    let server = Server::start(&["--node-monitor-grace-period", "3s"]);
    let agent = Agent::start(
        &server.url(),
        &server.token(),
        "agent-s",
        "127.0.0.16",
        &["--node-status-update-frequency", "1s"],
    );
    agent.wait_log("readiness", |l| l.contains("agent ready"));
    wait_until("Ready", MINUTE, || is_ready(&server, "agent-s"));
    let taints = |n: &Value| -> Vec<String> {
        n["spec"]["taints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["key"] == "node.kubernetes.io/unreachable")
            .map(|t| t["effect"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    agent.signal(Signal::SIGSTOP);
    wait_until("Unknown and tainted", MINUTE, || {
        get_node(&server, "agent-s").is_some_and(|n| {
            ready_status(&n) == "Unknown" && taints(&n) == ["NoSchedule", "NoExecute"]
        })
    });
    agent.signal(Signal::SIGCONT);
    wait_until("Ready and untainted", MINUTE, || {
        get_node(&server, "agent-s")
            .is_some_and(|n| ready_status(&n) == "True" && taints(&n).is_empty())
    });
}

/// `kubectl delete node` of a live agent: it registers again. Of a dead
/// one: its password Secret goes with it.
#[test]
fn deleting_a_node() {
    let server = Server::start(&[]);
    let mut agent = Agent::start(
        &server.url(),
        &server.token(),
        "agent-d",
        "127.0.0.17",
        &["--node-status-update-frequency", "1s"],
    );
    agent.wait_log("readiness", |l| l.contains("agent ready"));
    let uid = get_node(&server, "agent-d").expect("node")["metadata"]["uid"].clone();
    server.kubectl_ok(&["delete", "node", "agent-d"]);
    wait_until("the live agent registered again", MINUTE, || {
        get_node(&server, "agent-d")
            .is_some_and(|n| n["metadata"]["uid"] != uid && ready_status(&n) == "True")
    });
    let secret = |s: &Server| {
        s.kubectl(&[
            "get",
            "secret",
            "-n",
            "kube-system",
            "agent-d.node-password.edge",
        ])
        .status
        .success()
    };
    wait_until("the Secret owned by the new Node", MINUTE, || {
        let out = server.kubectl(&[
            "get",
            "secret",
            "-n",
            "kube-system",
            "agent-d.node-password.edge",
            "-o",
            "jsonpath={.metadata.ownerReferences[0].uid}",
        ]);
        get_node(&server, "agent-d").is_some_and(|n| {
            n["metadata"]["uid"].as_str() == Some(&*String::from_utf8_lossy(&out.stdout))
        })
    });
    agent.kill();
    server.kubectl_ok(&["delete", "node", "agent-d"]);
    wait_until("the dead node's password Secret gone", MINUTE, || {
        !secret(&server)
    });
}

/// Fifty agents (real processes) started at once all join and are Ready.
#[test]
fn fifty_agents_join_at_once() {
    let server = Server::start(&[]);
    let token = server.token();
    let agents: Vec<Agent> = (0..50)
        .map(|i| {
            Agent::start(
                &server.url(),
                &token,
                &format!("crowd-{i:02}"),
                &format!("127.0.1.{}", i + 1),
                &[],
            )
        })
        .collect();
    wait_until("fifty agents Ready", Duration::from_secs(180), || {
        let out = server.kubectl(&["get", "nodes", "-o", "json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| {
                n["metadata"]["name"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("crowd-"))
                    && ready_status(n) == "True"
            })
            .count()
            == 50
    });
    for a in &agents {
        assert!(
            !a.log_text().contains("ERROR"),
            "{}: {}",
            a.name,
            a.log_tail()
        );
    }
}

/// The server list is kept on disk: an agent restarted while the fixed
/// address is down still finds the servers, joins and heartbeats.
#[test]
fn a_restarted_agent_finds_the_servers_without_the_fixed_address() {
    let (a, b) = pg_servers(&[]);
    let fixed = Forwarder::start("127.0.0.9", vec![address(&a), address(&b)]);
    let mut agent = Agent::start(&fixed.url(), &a.token(), "agent-r", "127.0.0.18", &[]);
    agent.wait_log("readiness", |l| l.contains("agent ready"));
    let saved = agent.data_dir().join("agent/etc/lb-servers.json");
    wait_until("the server list saved with both servers", MINUTE, || {
        std::fs::read_to_string(&saved)
            .is_ok_and(|t| t.contains(&address(&a)) && t.contains(&address(&b)))
    });
    agent.kill();
    drop(fixed);
    agent.spawn();
    wait_until("the restarted agent ready", MINUTE, || {
        agent.log_text().matches("agent ready").count() == 2
    });
    assert!(
        agent.log_text().contains("known servers from the last run"),
        "{}",
        agent.log_tail()
    );
    wait_until("Ready", MINUTE, || is_ready(&a, "agent-r"));
}
