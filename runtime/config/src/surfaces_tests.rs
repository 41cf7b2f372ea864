//! Every `edged server` flag reaches every surface an operator may set it
//! from: `--help`, an `EDGE_*` variable, the config file, `edge.yaml` (its
//! JSON Schema, what `edgectl config schema` prints), and the runtime config
//! `edged init` renders from `edge.yaml`.
//!
//! The one source is `ServerArgs` (through [`server_command`]): the config
//! file's keys and value parsers, where edge.yaml keeps a flag
//! ([`edge_home`]), the server-only keys and the rendering are all read from
//! it. What a flag still needs by hand is its field in the device model
//! (`EdgeFile`, typed for located errors and the schema) and its resolution
//! into `ServerConfig`: these tests walk the flags and name the surface a new
//! one is missing from.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use crate::edge::{json_schema, server_keys};
use crate::render::{RuntimePaths, runtime_config};
use crate::server::{EdgeHome, edge_home, server_command, server_flags};
use crate::tree::Layer;
use crate::validate::{Input, load};

fn flags() -> Vec<clap::Arg> {
    server_command()
        .get_arguments()
        .filter(|a| a.get_long().is_some_and(|l| l != "help"))
        .cloned()
        .collect()
}

fn long(a: &clap::Arg) -> String {
    a.get_long().unwrap_or_default().to_owned()
}

#[test]
fn every_flag_is_in_help_and_has_its_own_edge_variable() {
    let help = server_command().render_long_help().to_string();
    let mut envs = BTreeSet::new();
    for a in flags() {
        let name = long(&a);
        assert!(
            help.contains(&format!("--{name}")),
            "--{name} is not in --help"
        );
        let env = a
            .get_env()
            .and_then(|e| e.to_str())
            .unwrap_or_else(|| panic!("--{name} has no EDGE_* variable"));
        assert!(env.starts_with("EDGE_"), "--{name}: {env}");
        assert!(envs.insert(env.to_owned()), "{env} is used twice");
    }
}

#[test]
fn every_flag_is_a_config_file_key() {
    for a in flags().iter().filter(|a| long(a) != "config") {
        let name = long(a);
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, format!("{name}: ~\n")).expect("write");
        if let Err(e) = crate::server::read_config_file(&file) {
            assert!(
                !e.to_string().contains("unknown field"),
                "{name} is not a config-file key: {e}"
            );
        }
    }
}

#[test]
fn every_flag_has_a_home_in_edge_yaml() {
    let schema = json_schema();
    let keys = |v: &Json| -> BTreeSet<String> {
        v["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let top = keys(&schema);
    let vip_ref = schema["properties"]["vip"].to_string();
    let vip = schema["$defs"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(name, _)| vip_ref.contains(name.as_str()))
        .map(|(_, def)| keys(def))
        .expect("the vip section's schema");
    for a in flags() {
        let name = long(&a);
        match edge_home(&name) {
            EdgeHome::Init => {}
            EdgeHome::Vip(key) => {
                assert!(vip.contains(key), "--{name}: vip.{key} missing: {vip:?}");
            }
            EdgeHome::Top => assert!(top.contains(&name), "--{name} has no edge.yaml key"),
        }
    }
}

/// An edge.yaml that sets every flag edge.yaml can carry renders a runtime
/// config that sets every flag but those init owns.
#[test]
fn a_full_edge_yaml_renders_every_flag() {
    let edge = "token: site-secret-token-0123\n\
         datastore-endpoint: postgres://edge:pw@10.0.0.5:5432/edge\n\
         datastore-cafile: /etc/edge/db-ca.pem\n\
         datastore-certfile: /etc/edge/db.pem\n\
         datastore-keyfile: /etc/edge/db-key.pem\n\
         vip: {address: 10.0.0.100, interface: eth0, vrrp-id: 51, priority: 110, \
               advert-interval: 100ms, unicast-peers: [10.0.0.12], checksum: message-only}\n\
         tls-san: [edge.example.com]\n\
         bind-address: 0.0.0.0\nhttps-listen-port: 7443\nadvertise-address: 10.0.0.11\n\
         node-name: edge-a\nnode-ip: 10.0.0.11\nnode-label: [a=b]\nnode-taint: [x=y:NoSchedule]\n\
         cluster-cidr: 10.52.0.0/16\nservice-cidr: 10.53.0.0/16\ncluster-dns: 10.53.0.10\n\
         cluster-domain: edge.local\ndisable: [traefik]\n\
         disable-helm-controller: true\ndisable-kube-proxy: true\n\
         disable-network-policy: true\nsecrets-encryption: true\n\
         write-kubeconfig-mode: \"0644\"\nnode-monitor-grace-period: 20s\n";
    let config = load(&[Input::yaml("edge.yaml", Layer::Device, edge)])
        .into_result()
        .unwrap_or_else(|e| panic!("{e}"));
    let rendered = runtime_config(
        &config,
        &RuntimePaths {
            data_dir: "/var/lib/edge".into(),
            kubeconfig: "/etc/edge/edge.yaml".into(),
            token_file: "/var/lib/edge/init/token".into(),
        },
    );
    for a in flags() {
        let name = long(&a);
        // The token goes to the data partition; the runtime config names its file.
        if ["config", "token"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            rendered.contains_key(&name),
            "--{name} set in edge.yaml is not rendered: {:?}",
            rendered.keys().collect::<Vec<_>>()
        );
    }
}

/// The keys an agent's edge.yaml may not hold are the server flags' homes
/// (less the ones agents share) and cluster-size: this is the list that was
/// written by hand before it was derived.
#[test]
fn server_only_keys_come_from_the_flags() {
    let derived: BTreeSet<String> = server_keys().into_iter().collect();
    let expected: BTreeSet<String> = [
        "datastore-endpoint",
        "datastore-cafile",
        "datastore-certfile",
        "datastore-keyfile",
        "cluster-size",
        "vip",
        "tls-san",
        "bind-address",
        "https-listen-port",
        "advertise-address",
        "cluster-cidr",
        "service-cidr",
        "cluster-dns",
        "cluster-domain",
        "disable",
        "disable-helm-controller",
        "disable-kube-proxy",
        "disable-network-policy",
        "secrets-encryption",
        "write-kubeconfig-mode",
        "node-monitor-grace-period",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(derived, expected);
    assert_eq!(server_flags().first().map(String::as_str), Some("config"));
}
