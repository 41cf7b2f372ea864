//! Output forms of a validated [`EdgeConfig`]: the effective configuration
//! an operator reads (`edgectl config render`, secrets redacted), and the
//! runtime config `edged init` writes to `/etc/edge/config.yaml` for
//! `edged server --config` / `edged agent --config` (keys = flag names).
//!
//! Owns the mapping from the device model to flag names, and a small YAML
//! emitter. Must not do IO. The runtime config is the one place a datastore
//! password is written out (as K3s's config.yaml does); the token never is:
//! the runtime config points at the token file on the data partition.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::edge::{Leaf, List, Role, Text};
use crate::server::{EdgeHome, edge_home, server_flags};
use crate::types::NodeName;
use crate::validate::{EdgeConfig, TokenSource};

/// The effective configuration, secrets redacted (JSON value; see [`to_yaml`]).
pub fn effective(config: &EdgeConfig) -> Json {
    let mut v = serde_json::to_value(&config.file).unwrap_or(Json::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("role".into(), Json::from(config.role.as_str()));
    }
    v
}

/// Where the runtime config's files are on this device.
#[derive(Debug, Clone)]
pub struct RuntimePaths {
    /// `--data-dir`: the data partition.
    pub data_dir: PathBuf,
    /// `--write-kubeconfig` (servers).
    pub kubeconfig: PathBuf,
    /// Where `edged init` keeps the token it moved off the boot partition.
    pub token_file: PathBuf,
}

fn put(m: &mut Map<String, Json>, key: &str, v: impl Into<Json>) {
    m.insert(key.to_owned(), v.into());
}

fn put_list<T: Leaf>(m: &mut Map<String, Json>, key: &str, l: &Option<List<Text<T>>>) {
    if let Some(l) = l.as_ref().filter(|l| !l.0.is_empty()) {
        put(
            m,
            key,
            Json::Array(l.0.iter().map(|t| t.0.to_json()).collect()),
        );
    }
}

fn path(p: &Path) -> Json {
    Json::from(p.display().to_string())
}

/// The runtime config for the device's role: `edged server|agent` flag names
/// to values. Holds the datastore password; never the token itself.
pub fn runtime_config(config: &EdgeConfig, paths: &RuntimePaths) -> Map<String, Json> {
    let f = &config.file;
    let mut m = Map::new();
    put(&mut m, "data-dir", path(&paths.data_dir));
    match &config.token {
        TokenSource::Inline { .. } | TokenSource::Moved { .. } => {
            put(&mut m, "token-file", path(&paths.token_file));
        }
        TokenSource::File(p) => put(&mut m, "token-file", path(p)),
        TokenSource::None => {}
    }
    let node_name = f.node_name.as_ref().map(|n| n.0.clone()).or_else(|| {
        config
            .hostname()
            .and_then(|h| NodeName::from_hostname(h).ok())
    });
    if let Some(n) = node_name {
        put(&mut m, "node-name", n.to_string());
    }
    put_list(&mut m, "node-ip", &f.node_ip);
    put_list(&mut m, "node-label", &f.node_label);
    put_list(&mut m, "node-taint", &f.node_taint);
    match config.role {
        Role::Agent => {
            if let Some(s) = &f.server {
                put(&mut m, "server", s.0.to_json());
            }
        }
        Role::Server => server_keys(config, paths, &mut m),
    }
    m
}

/// The server's flags, each from where [`edge_home`] says edge.yaml keeps
/// it: a flag added to `ServerArgs` and to the device model under its own
/// name is rendered with no change here. The exceptions are the values that
/// are not edge.yaml's text: paths on the device, the datastore password
/// (shown redacted everywhere else), and the VIP added to the SANs.
fn server_keys(config: &EdgeConfig, paths: &RuntimePaths, m: &mut Map<String, Json>) {
    let f = &config.file;
    let shown = serde_json::to_value(f).unwrap_or(Json::Null);
    for flag in server_flags() {
        let value = match (flag.as_str(), edge_home(&flag)) {
            ("write-kubeconfig", _) => Some(path(&paths.kubeconfig)),
            // Written by runtime_config for both roles, or not at all (the
            // token itself, --config).
            (_, EdgeHome::Init) | ("token" | "token-file", _) => None,
            ("node-name" | "node-ip" | "node-label" | "node-taint", _) => None,
            ("datastore-endpoint", _) => f
                .datastore_endpoint
                .as_ref()
                .map(|d| Json::from(d.0.expose())),
            // The VIP is an address clients dial: the serving certificate covers it.
            ("tls-san", _) => {
                let mut sans = shown[flag.as_str()].as_array().cloned().unwrap_or_default();
                if let Some(v) = &config.vip {
                    let vip = Json::from(v.vip.to_string());
                    if !sans.contains(&vip) {
                        sans.push(vip);
                    }
                }
                Some(Json::Array(sans))
            }
            (name, EdgeHome::Top) => shown.get(name).cloned(),
            (_, EdgeHome::Vip(key)) => shown["vip"].get(key).cloned(),
        };
        match value {
            None | Some(Json::Null) => {}
            Some(Json::Array(a)) if a.is_empty() => {}
            Some(v) => put(m, &flag, v),
        }
    }
}

// ---------------------------------------------------------------------------
// A small YAML emitter: block mappings and sequences, strings quoted unless
// plainly safe, so what it writes reads back with the same types.

/// YAML text of a JSON value.
pub fn to_yaml(v: &Json) -> String {
    let mut out = String::new();
    match v {
        Json::Object(m) if !m.is_empty() => emit_map(m, 0, &mut out),
        Json::Array(a) if !a.is_empty() => emit_seq(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn emit_map(m: &Map<String, Json>, indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&plain_or_quoted(k));
        out.push(':');
        emit_value(v, indent, out);
    }
}

fn emit_seq(a: &[Json], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Json::Object(m) if !m.is_empty() => {
                out.push('\n');
                emit_map(m, indent + 2, out);
            }
            _ => emit_value(v, indent, out),
        }
    }
}

fn emit_value(v: &Json, indent: usize, out: &mut String) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, indent + 2, out);
        }
        Json::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(a, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Json) -> String {
    match v {
        Json::Null => "~".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => plain_or_quoted(s),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

/// A string as a plain scalar when YAML reads it back as the same string,
/// else double-quoted (JSON escapes are YAML escapes).
fn plain_or_quoted(s: &str) -> String {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    let safe_chars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./=".contains(&b))
        || (s.contains("://") && !s.contains([' ', '#', '"', '\'']) && !s.ends_with(':'));
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'/');
    let numeric = s.parse::<f64>().is_ok() || s.starts_with("0x") || s.starts_with("0o");
    if safe_chars
        && first_ok
        && !numeric
        && !SPECIAL.contains(&s.to_ascii_lowercase().as_str())
        && !s.contains(": ")
        && !s.ends_with(':')
    {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Layer;
    use crate::validate::{Input, load};

    fn config(yaml: &str) -> EdgeConfig {
        load(&[Input::yaml("edge.yaml", Layer::Device, yaml)])
            .into_result()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn paths() -> RuntimePaths {
        RuntimePaths {
            data_dir: "/var/lib/edge".into(),
            kubeconfig: "/etc/edge/edge.yaml".into(),
            token_file: "/var/lib/edge/init/token".into(),
        }
    }

    #[test]
    fn yaml_reads_back_as_written() {
        let v = serde_json::json!({
            "a": "no", "b": "0600", "c": 51, "d": ["x y", "10.0.0.1", "/p"],
            "e": {"f": true, "g": "postgres://u:p@h:5432/db"}, "h": "", "i": "key: v"
        });
        let text = to_yaml(&v);
        let back = crate::tree::parse_yaml(&text, &crate::tree::Source::new("x", Layer::Device))
            .expect("parses");
        assert_eq!(back.find(&["a"]).and_then(|e| e.value.text()), Some("no"));
        assert!(text.contains("a: \"no\"\n"), "{text}");
        assert!(text.contains("b: \"0600\"\n"), "{text}");
        assert!(text.contains("c: 51\n"), "{text}");
        assert!(text.contains("  - \"x y\"\n"), "{text}");
        assert!(text.contains("  g: postgres://u:p@h:5432/db\n"), "{text}");
        assert!(text.contains("i: \"key: v\"\n"), "{text}");
    }

    #[test]
    fn the_runtime_config_uses_flag_names_and_no_token() {
        let c = config(
            "token: site-secret-token-0123\n\
             datastore-endpoint: postgres://edge:pw@10.0.0.5:5432/edge\n\
             vip: {address: 10.0.0.100, interface: eth0, vrrp-id: 51, priority: 110}\n\
             tls-san: [edge.example.com]\n\
             hostname: Edge-A\n\
             network: {eth0: {address: 10.0.0.11/24, gateway: 10.0.0.1}}\n",
        );
        let m = runtime_config(&c, &paths());
        let text = to_yaml(&Json::Object(m.clone()));
        assert!(!text.contains("site-secret-token"), "{text}");
        assert_eq!(m["token-file"], "/var/lib/edge/init/token");
        assert_eq!(
            m["datastore-endpoint"],
            "postgres://edge:pw@10.0.0.5:5432/edge"
        );
        assert_eq!(m["node-name"], "edge-a");
        assert_eq!(m["vrrp-priority"], 110);
        // Unset keys are left to edged's defaults, the VIP's like every other.
        assert!(!m.contains_key("vrrp-advert-interval"), "{text}");
        assert_eq!(
            m["tls-san"],
            serde_json::json!(["edge.example.com", "10.0.0.100"])
        );
        let e = effective(&c);
        let shown = to_yaml(&e);
        assert!(
            !shown.contains("site-secret-token") && !shown.contains(":pw@"),
            "{shown}"
        );
        assert!(
            shown.contains("token: <redacted>") || shown.contains("token: \"<redacted>\""),
            "{shown}"
        );
    }

    /// Every key the runtime config writes is a long flag of `edged server`
    /// (the VIP flags once the VRRP work is merged), and the file reads back
    /// through `edged server --config`'s own parser.
    #[test]
    fn edged_server_reads_the_runtime_config() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: crate::server::ServerArgs,
        }
        let flags: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect();
        let c = config(
            "token: site-secret-token-0123\n\
             datastore-endpoint: postgres://edge:pw@10.0.0.5:5432/edge\n\
             vip: {address: 10.0.0.100, interface: eth0, vrrp-id: 51, advert-interval: 100ms, unicast-peers: [10.0.0.12]}\n\
             node-label: [a=b]\nnode-taint: [x=y:NoSchedule]\nnode-ip: 10.0.0.11\n\
             cluster-cidr: 10.52.0.0/16\nservice-cidr: 10.53.0.0/16\ncluster-dns: 10.53.0.10\n\
             disable: [traefik]\nsecrets-encryption: true\nwrite-kubeconfig-mode: \"0644\"\n\
             https-listen-port: 7443\nbind-address: 0.0.0.0\nadvertise-address: 10.0.0.11\n",
        );
        let m = runtime_config(&c, &paths());
        for key in m.keys() {
            assert!(flags.contains(key), "{key} is not an edged server flag");
        }
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, to_yaml(&Json::Object(m))).expect("write");
        let parsed = crate::server::read_config_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.https_listen_port, Some(7443));
        assert_eq!(parsed.write_kubeconfig_mode.map(|m| m.0), Some(0o644));
        assert_eq!(parsed.node_label.len(), 1);
        assert_eq!(parsed.vip.map(|v| v.to_string()), Some("10.0.0.100".into()));
        assert_eq!(parsed.vrrp_id.map(|v| v.to_string()), Some("51".into()));
        assert_eq!(
            parsed.vrrp_unicast_peer,
            ["10.0.0.12".parse::<std::net::Ipv4Addr>().expect("ip")]
        );
        assert_eq!(
            parsed.vrrp_advert_interval.map(|i| i.to_string()),
            Some("100ms".into())
        );
    }
}
