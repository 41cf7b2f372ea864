//! Tests of layering and validation: a table of bad configurations, each with
//! the message it must produce (file, line, key), and the merge order.

use super::*;

const TOKEN: &str = "token: site-secret-token-0123\n";
const PG: &str = "datastore-endpoint: postgres://edge:pw-secret@10.0.0.5:5432/edge\n";

fn edge(yaml: &str) -> Loaded {
    load(&[Input::yaml("edge.yaml", Layer::Device, yaml)])
}

fn messages(l: &Loaded) -> Vec<String> {
    l.errors().map(ToString::to_string).collect()
}

/// A valid HA server, the issue's example.
const GOOD: &str = "\
role: server                      # server | agent
token: site-secret-token-0123
datastore-endpoint: postgres://edge:pw@10.0.0.5:5432/edge
vip:
  address: 10.0.0.100
  interface: eth0
  vrrp-id: 51
  priority: 110                   # optional
tls-san: [10.0.0.100, edge.example.com]
cluster-cidr: 10.42.0.0/16
node-taint: [\"CriticalAddonsOnly=true:NoExecute\"]
hostname: edge-a
network:
  eth0:
    address: 10.0.0.11/24
    gateway: 10.0.0.1
    dns: [10.0.0.1]
";

#[test]
fn the_issue_example_is_valid() {
    let l = edge(GOOD);
    assert!(l.errors().next().is_none(), "{:?}", messages(&l));
    let c = l.into_result().expect("valid");
    assert_eq!(c.role, Role::Server);
    let vip = c.vip.expect("vip");
    assert_eq!(vip.priority.get(), 110);
    assert_eq!(vip.vrid.get(), 51);
    assert_eq!(c.cluster_size, 2);
    assert!(matches!(
        c.token,
        TokenSource::Inline {
            layer: Layer::Device,
            ..
        }
    ));
    let NetworkPlan::Interfaces(ifaces) = c.network else {
        panic!("static network")
    };
    assert_eq!(ifaces[0].dns, ["10.0.0.1".parse::<IpAddr>().expect("ip")]);
}

#[test]
fn an_agent_example_is_valid() {
    let l = edge(
        "role: agent\ntoken: site-secret-token-0123\nserver: https://10.0.0.100:6443\nnode-name: shop-7-a\n",
    );
    let c = l.into_result().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.role, Role::Agent);
    assert_eq!(
        c.file.server.as_ref().map(|s| s.0.0.as_str().to_owned()),
        Some("https://10.0.0.100:6443/".into())
    );
}

/// (what, file, the `file:line:` it must name, the key, a part of the message).
type Case = (
    &'static str,
    String,
    &'static str,
    &'static str,
    &'static str,
);

fn cases() -> Vec<Case> {
    let net = "network:\n  eth0:\n    address: 10.0.0.11/24\n";
    let ha = format!("{TOKEN}{PG}");
    let vip = |body: &str| format!("{ha}{net}vip:\n{body}");
    vec![
        ("typo in a key", "clustr-cidr: 10.42.0.0/16\n".into(), "edge.yaml:1:1", "clustr-cidr", "did you mean \"cluster-cidr\""),
        ("typo in a vip key", format!("{ha}vip:\n  adress: 10.0.0.100\n"), "edge.yaml:4:3", "vip.adress", "did you mean \"address\""),
        ("underscore key", "node_name: a\n".into(), "edge.yaml:1:1", "node_name", "did you mean \"node-name\""),
        ("init-owned key", "data-dir: /x\n".into(), "edge.yaml:1:1", "data-dir", "data partition"),
        ("unknown role", "role: sever\n".into(), "edge.yaml:1:7", "role", "unknown role \"sever\""),
        ("token and token-file", format!("{TOKEN}token-file: /etc/token\n"), "edge.yaml:2:1", "token-file", "exclusive"),
        ("token and token-sha256", format!("{TOKEN}token-sha256: {}\n", "a".repeat(64)), "edge.yaml:2:1", "token-sha256", "replace the token-sha256 line"),
        ("token-sha256 malformed", "token-sha256: abc\n".into(), "edge.yaml:1:15", "token-sha256", "64 hexadecimal"),
        ("token with a space", "token: \"two words\"\n".into(), "edge.yaml:1:8", "token", "spaces"),
        ("relative token-file", "token-file: token.txt\n".into(), "edge.yaml:1:13", "token-file", "absolute path"),
        ("agent over http", format!("role: agent\n{TOKEN}server: http://10.0.0.100:6443\n"), "edge.yaml:3:9", "server", "must use https://"),
        ("agent with a path", format!("role: agent\n{TOKEN}server: https://10.0.0.100:6443/v1\n"), "edge.yaml:3:9", "server", "without a path"),
        ("agent without server", format!("role: agent\n{TOKEN}"), "edge.yaml:1:7", "role", "an agent needs `server"),
        ("agent without token", "role: agent\nserver: https://10.0.0.100:6443\n".into(), "edge.yaml:1:7", "role", "needs the cluster token"),
        ("agent with a datastore", format!("role: agent\n{TOKEN}server: https://10.0.0.100:6443\n{PG}"), "edge.yaml:4:1", "datastore-endpoint", "is a server setting"),
        ("server with server", "server: https://10.0.0.100:6443\n".into(), "edge.yaml:1:1", "server", "where an agent registers"),
        ("vip on sqlite", format!("{TOKEN}{net}vip: {{address: 10.0.0.100, interface: eth0, vrrp-id: 51}}\n"), "edge.yaml:5:1", "vip", "cluster-size: 1"),
        ("cluster-size on sqlite", "cluster-size: 3\n".into(), "edge.yaml:1:15", "cluster-size", "3 servers need a shared datastore-endpoint"),
        ("cluster-size zero", "cluster-size: 0\n".into(), "edge.yaml:1:15", "cluster-size", "expected 1-64"),
        ("vip without vrrp-id", vip("  address: 10.0.0.100\n  interface: eth0\n"), "edge.yaml:6:1", "vip", "needs vrrp-id"),
        ("vip outside the subnet", vip("  address: 10.1.0.100\n  interface: eth0\n  vrrp-id: 51\n"), "edge.yaml:7:12", "vip.address", "outside eth0's subnet 10.0.0.0/24"),
        ("vip is the own address", vip("  address: 10.0.0.11\n  interface: eth0\n  vrrp-id: 51\n"), "edge.yaml:7:12", "vip.address", "is network.eth0.address itself"),
        ("vip on an interface left down", vip("  address: 10.0.0.100\n  interface: eth1\n  vrrp-id: 51\n"), "edge.yaml:8:14", "vip.interface", "eth1 is not in network"),
        ("vrrp-id out of range", vip("  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 300\n"), "edge.yaml:9:12", "vip.vrrp-id", "1..=255"),
        ("priority 255", vip("  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n  priority: 255\n"), "edge.yaml:10:13", "vip.priority", "1..=254"),
        ("advert interval without unit", vip("  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n  advert-interval: 1\n"), "edge.yaml:10:20", "vip.advert-interval", "with a unit"),
        ("unicast peer is the VIP", vip("  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n  unicast-peers: [10.0.0.12, 10.0.0.100]\n"), "edge.yaml:10:18", "vip.unicast-peers", "not the VIP"),
        ("unicast peer is myself", vip("  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n  unicast-peers: [10.0.0.11]\n"), "edge.yaml:10:18", "vip.unicast-peers", "this device's own address"),
        ("vip multicast", vip("  address: 224.0.0.18\n  interface: eth0\n  vrrp-id: 51\n"), "edge.yaml:7:12", "vip.address", "unicast"),
        ("gateway outside the subnet", "network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.1.1\n".into(), "edge.yaml:4:14", "network.eth0.gateway", "outside the interface's subnet 10.0.0.0/24"),
        ("gateway is the address", "network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.0.11\n".into(), "edge.yaml:4:14", "network.eth0.gateway", "own address"),
        ("gateway with dhcp", "network:\n  eth0:\n    dhcp: true\n    gateway: 10.0.0.1\n".into(), "edge.yaml:4:14", "network.eth0.gateway", "comes from the DHCP server"),
        ("dhcp and address", "network:\n  eth0:\n    dhcp: true\n    address: 10.0.0.11/24\n".into(), "edge.yaml:4:14", "network.eth0.address", "exclude each other"),
        ("interface with nothing", "network:\n  eth0:\n    dns: [10.0.0.1]\n".into(), "edge.yaml:2:3", "network.eth0", "dhcp: true"),
        ("two gateways", "network:\n  eth0: {address: 10.0.0.11/24, gateway: 10.0.0.1}\n  eth1: {address: 10.1.0.11/24, gateway: 10.1.0.1}\n".into(), "edge.yaml:3:42", "network.eth1.gateway", "only one default gateway"),
        ("address without prefix", "network:\n  eth0:\n    address: 10.0.0.11\n".into(), "edge.yaml:3:14", "network.eth0.address", "no prefix length"),
        ("address is the network", "network:\n  eth0:\n    address: 10.0.0.0/24\n".into(), "edge.yaml:3:14", "network.eth0.address", "network address"),
        ("address in the pod network", "network:\n  eth0:\n    address: 10.42.0.5/24\n".into(), "edge.yaml:3:14", "network.eth0.address", "lies in cluster-cidr 10.42.0.0/16"),
        ("bad interface name", "network:\n  eth0/1: {dhcp: true}\n".into(), "edge.yaml:2:3", "network.eth0/1", "interface name"),
        ("dhcp not a boolean", "network:\n  eth0:\n    dhcp: maybe\n".into(), "edge.yaml:3:11", "network.eth0.dhcp", "expected true or false"),
        ("dns not an address", "network:\n  eth0:\n    dhcp: true\n    dns: [10.0.0.1, dns.local]\n".into(), "edge.yaml:4:21", "network.eth0.dns[1]", "\"dns.local\" is not an IP address"),
        ("cluster-dns outside", "cluster-dns: 10.99.0.10\n".into(), "edge.yaml:1:14", "cluster-dns", "outside the service network 10.43.0.0/16"),
        ("overlapping networks", "cluster-cidr: 10.0.0.0/8\n".into(), "edge.yaml:1:1", "service-cidr", "overlaps the pod network 10.0.0.0/8"),
        ("cidr with host bits", "cluster-cidr: 10.42.0.1/16\n".into(), "edge.yaml:1:15", "cluster-cidr", "host bits"),
        ("bad taint effect", "node-taint: [\"a=b:Never\"]\n".into(), "edge.yaml:1:14", "node-taint[0]", "must be NoSchedule"),
        ("bad label", "node-label: [site=shop-7, \"bad label\"]\n".into(), "edge.yaml:1:27", "node-label[1]", "expected key=value"),
        ("duplicate label key", "node-label: [site=a, site=b]\n".into(), "edge.yaml:1:1", "node-label", "given twice"),
        ("bad hostname", "hostname: edge_a\n".into(), "edge.yaml:1:11", "hostname", "not a hostname"),
        ("hostname is a list", "hostname: [a, b]\n".into(), "edge.yaml:1:11", "hostname", "found a list"),
        ("upper-case node name", "node-name: Edge-A\n".into(), "edge.yaml:1:12", "node-name", "not a valid node name"),
        ("bad tls-san", "tls-san: [edge.example.com, \"bad name!\"]\n".into(), "edge.yaml:1:29", "tls-san[1]", "bad name!"),
        ("unknown component", "disable: [traefik, trafik]\n".into(), "edge.yaml:1:20", "disable[1]", "unknown component \"trafik\""),
        ("etcd datastore", format!("{TOKEN}datastore-endpoint: https://u:pw-secret@10.0.0.5:2379\n"), "edge.yaml:2:21", "datastore-endpoint", "etcd endpoints are not supported"),
        ("datastore without token", PG.into(), "edge.yaml:1:21", "datastore-endpoint", "need the cluster token"),
        ("tls files without a datastore", "datastore-cafile: /etc/ca.pem\n".into(), "edge.yaml:1:19", "datastore-cafile", "apply to a postgres:// or mysql://"),
        ("port zero", "https-listen-port: 0\n".into(), "edge.yaml:1:20", "https-listen-port", "not a port"),
        ("secrets-encryption not a boolean", "secrets-encryption: maybe\n".into(), "edge.yaml:1:21", "secrets-encryption", "expected true or false"),
        ("syntax error", "role: server\nvip: [10.0.0.100\nhostname: a\n".into(), "edge.yaml:3:", "", ""),
        ("duplicate key", "hostname: a\nhostname: b\n".into(), "edge.yaml:2:1", "", "duplicate"),
        ("not a mapping", "- role: server\n".into(), "edge.yaml:1:1", "", "must be a mapping"),
        ("tab indentation", "vip:\n\taddress: 10.0.0.100\n".into(), "edge.yaml:2:", "", ""),
    ]
}

#[test]
fn bad_configs_name_file_line_and_key() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (what, yaml, at, key, part) in &cases {
        let l = edge(yaml);
        let msgs = messages(&l);
        let found = msgs.iter().any(|m| {
            m.starts_with(at)
                && (key.is_empty() || m.contains(&format!(": {key}: ")))
                && m.contains(part)
        });
        if !found || l.config.is_some() {
            failures.push(format!(
                "{what}: want {at} {key}: …{part}…\n  got {msgs:#?}"
            ));
        }
        for m in &msgs {
            assert!(
                !m.contains("pw-secret") && !m.contains("site-secret-token"),
                "{what}: a secret in {m}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_error_at_once() {
    let l = edge(
        "clustr-cidr: 10.42.0.0/16\nrole: server\nhostname: edge_a\nvip:\n  priority: 300\n  adress: x\nnetwork:\n  eth0: {address: 10.0.0.11/24, gateway: 10.9.9.9}\n",
    );
    let msgs = messages(&l);
    for want in [
        "edge.yaml:1:1: clustr-cidr",
        "edge.yaml:3:11: hostname",
        "edge.yaml:5:13: vip.priority",
        "edge.yaml:6:3: vip.adress",
        "network.eth0.gateway",
    ] {
        assert!(
            msgs.iter().any(|m| m.starts_with(want) || m.contains(want)),
            "{want} in {msgs:#?}"
        );
    }
    // The bad vip keys are not also reported as "missing" by the vip rule.
    assert!(
        !msgs.iter().any(|m| m.contains("needs address")),
        "{msgs:#?}"
    );
}

#[test]
fn kernel_command_line_errors_are_located() {
    let l = load(&[
        Input::yaml("edge.yaml", Layer::Device, format!("{TOKEN}{PG}")),
        Input::cmdline("console=ttyS0 edge.vip.priority=abc edge.rol=agent"),
    ]);
    let msgs = messages(&l);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("kernel command line:1:15: vip.priority:")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("kernel command line:1:37: rol:")
                && m.contains("did you mean \"role\"")),
        "{msgs:#?}"
    );
}

#[test]
fn warnings_do_not_fail() {
    let l = load(&[
        Input::yaml("edge.yaml", Layer::Device, "token: shorty\n"),
        Input::cmdline("edge.hostname=edge-b"),
    ]);
    assert!(l.errors().next().is_none(), "{:?}", messages(&l));
    let w: Vec<String> = l.warnings().map(ToString::to_string).collect();
    assert!(w.iter().any(|m| m.contains("shorter than 16")), "{w:?}");
    assert!(l.into_result().is_ok());
    let l = load(&[Input::cmdline("edge.token=site-secret-token-0123")]);
    let w: Vec<String> = l.warnings().map(ToString::to_string).collect();
    assert!(w.iter().any(|m| m.contains("/proc/cmdline")), "{w:?}");
}

/// image < boot file < kernel command line, key by key.
#[test]
fn merge_order_image_then_boot_file_then_kernel_command_line() {
    let site = "\
token: site-secret-token-0123
datastore-endpoint: postgres://edge:pw@10.0.0.5:5432/edge
hostname: site-default
node-label: [site=shop-7]
vip:
  address: 10.0.0.100
  interface: eth0
  vrrp-id: 51
  priority: 100
network:
  eth0: {dhcp: true}
";
    let boot = "\
hostname: edge-a
vip:
  priority: 110
network:
  eth0:
    address: 10.0.0.11/24
    gateway: 10.0.0.1
";
    let cmdline = "quiet edge.vip.priority=90 edge.node-name=edge-a-node";
    let l = load(&[
        Input::yaml("/usr/lib/edge/site.yaml", Layer::Site, site),
        Input::yaml("/boot/edge.yaml", Layer::Device, boot),
        Input::cmdline(cmdline),
    ]);
    assert!(l.errors().next().is_none(), "{:?}", messages(&l));
    let c = l.into_result().expect("valid");
    // The boot file beats the image.
    assert_eq!(c.hostname(), Some("edge-a"));
    // The kernel command line beats both, one key of a section at a time.
    let vip = c.vip.clone().expect("vip");
    assert_eq!(vip.priority.get(), 90);
    assert_eq!(vip.vrid.get(), 51);
    assert_eq!(vip.vip.to_string(), "10.0.0.100");
    assert_eq!(
        c.file.node_name.as_ref().map(|n| n.0.to_string()),
        Some("edge-a-node".into())
    );
    // What only the image says is kept.
    assert_eq!(c.file.node_label.as_ref().map(|l| l.0.len()), Some(1));
    // A static address in the boot file replaces the image's dhcp.
    let NetworkPlan::Interfaces(ifaces) = &c.network else {
        panic!("interfaces")
    };
    assert!(matches!(ifaces[0].addressing, Addressing::Static { .. }));
    // The token came from the image: nothing to scrub on the boot partition.
    assert!(matches!(
        c.token,
        TokenSource::Inline {
            layer: Layer::Site,
            ..
        }
    ));

    // Reversed (the image over the command line) gives the other answers:
    // the order is the layer order, nothing else.
    let l = load(&[
        Input::cmdline(cmdline),
        Input::yaml("/boot/edge.yaml", Layer::Device, boot),
        Input::yaml("/usr/lib/edge/site.yaml", Layer::Site, site),
    ]);
    let c = l.into_result().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.hostname(), Some("site-default"));
    assert_eq!(c.vip.expect("vip").priority.get(), 100);
}

#[test]
fn higher_layers_replace_token_choices_and_can_unset() {
    let site = format!("{TOKEN}{PG}vip: {{address: 10.0.0.100, interface: eth0, vrrp-id: 51}}\n");
    // token-file in the boot file replaces the image's token without an exclusivity error.
    let l = load(&[
        Input::yaml("site.yaml", Layer::Site, site.clone()),
        Input::yaml("edge.yaml", Layer::Device, "token-file: /etc/edge/token\n"),
    ]);
    let c = l.into_result().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.token, TokenSource::File("/etc/edge/token".into()));
    // `vip: ~` removes the image's vip.
    let l = load(&[
        Input::yaml("site.yaml", Layer::Site, site.clone()),
        Input::yaml("edge.yaml", Layer::Device, "vip: ~\n"),
    ]);
    assert!(l.into_result().expect("valid").vip.is_none());
    // An agent ignores the site's server keys and registers through its vip.
    let l = load(&[
        Input::yaml("site.yaml", Layer::Site, site),
        Input::yaml("edge.yaml", Layer::Device, "role: agent\n"),
    ]);
    let c = l.into_result().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.file.server.map(|s| s.0.0.to_string()),
        Some("https://10.0.0.100:6443/".into())
    );
    assert!(c.vip.is_none() && c.file.datastore_endpoint.is_none());
    // The kernel command line is a device layer: a server key there is an error for an agent.
    let l = load(&[
        Input::yaml(
            "edge.yaml",
            Layer::Device,
            "role: agent\ntoken: site-secret-token-0123\nserver: https://10.0.0.100:6443\n",
        ),
        Input::cmdline("edge.cluster-cidr=10.50.0.0/16"),
    ]);
    let msgs = messages(&l);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("kernel command line:1:1: cluster-cidr:")
                && m.contains("role: agent at edge.yaml:1:1")),
        "{msgs:#?}"
    );
}

#[test]
fn single_server_with_a_vip_is_allowed_when_said() {
    let l = edge("cluster-size: 1\nvip: {address: 10.0.0.100, interface: eth0, vrrp-id: 51}\n");
    let c = l.into_result().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.cluster_size, 1);
    assert!(c.vip.is_some());
}
