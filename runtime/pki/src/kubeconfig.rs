//! Kubeconfig files for `kubectl` and other clients.
//!
//! Owns: rendering the standard `apiVersion: v1, kind: Config` document with
//! one cluster, user and context, all named `default` like K3s, with the CA
//! and client certificate and key inline (base64), and writing it atomically
//! with a chosen mode (K3s's `--write-kubeconfig-mode`; 0600 by default).
//!
//! Must not: parse kubeconfigs or merge into an existing one (the file is
//! ours and replaced whole). The rendered text holds a private key, so it is
//! only handed out inside a [`Secret`].

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::PkiError;
use crate::files::{ensure_parent, write_atomic};
use edge_config::secret::Secret;

/// Mode of a kubeconfig unless `--write-kubeconfig-mode` says otherwise.
pub const DEFAULT_MODE: u32 = 0o600;
/// Name of the cluster, user and context (K3s's).
pub const NAME: &str = "default";

/// What goes into a kubeconfig.
#[derive(Debug, Clone, Copy)]
pub struct Kubeconfig<'a> {
    /// The API server, e.g. `https://127.0.0.1:6443`.
    pub server_url: &'a str,
    /// The server CA certificate(s), PEM.
    pub ca_pem: &'a str,
    /// The client certificate, PEM.
    pub client_cert_pem: &'a str,
    /// The client key, PEM.
    pub client_key_pem: &'a Secret<String>,
}

/// A YAML double-quoted scalar. JSON string syntax is a subset of YAML's
/// double-quoted style, so serde_json's escaping is exactly right.
fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The kubeconfig as YAML text.
pub fn render(config: &Kubeconfig<'_>) -> Secret<String> {
    let ca = BASE64.encode(config.ca_pem);
    let cert = BASE64.encode(config.client_cert_pem);
    let key = Secret::new(BASE64.encode(config.client_key_pem.expose()));
    let server = quoted(config.server_url);
    let name = quoted(NAME);
    Secret::new(format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: {name}
contexts:
- context:
    cluster: {name}
    user: {name}
  name: {name}
current-context: {name}
preferences: {{}}
users:
- name: {name}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
",
        key = key.expose()
    ))
}

/// Writes the kubeconfig to `path` atomically with exactly `mode` (the
/// parent directory is created when missing).
pub fn write(path: &Path, config: &Kubeconfig<'_>, mode: u32) -> Result<(), PkiError> {
    ensure_parent(path)?;
    write_atomic(path, render(config).expose().as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;
    use crate::CertificateAuthority;

    fn sample() -> (CertificateAuthority, crate::CertAndKey) {
        let server_ca = CertificateAuthority::generate("edge-server-ca").unwrap();
        let client_ca = CertificateAuthority::generate("edge-client-ca").unwrap();
        let admin = client_ca
            .issue_client("system:admin", &["system:masters"])
            .unwrap();
        (server_ca, admin)
    }

    #[test]
    fn written_with_the_mode_asked_and_private_by_default() {
        let (ca, admin) = sample();
        let config = Kubeconfig {
            server_url: "https://127.0.0.1:6443",
            ca_pem: ca.cert_pem(),
            client_cert_pem: &admin.cert_pem,
            client_key_pem: &admin.key_pem,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/edge/edge.yaml");
        write(&path, &config, DEFAULT_MODE).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        write(&path, &config, 0o644).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("current-context: \"default\""));
        assert!(text.contains(&format!(
            "certificate-authority-data: {}",
            BASE64.encode(ca.cert_pem())
        )));
        assert!(text.contains(&format!(
            "client-key-data: {}",
            BASE64.encode(admin.key_pem.expose())
        )));
        assert_eq!(format!("{:?}", render(&config)), "<redacted>");
    }

    #[test]
    fn kubectl_reads_it() {
        let Some(kubectl) = edge_testkit::kubectl() else {
            return;
        };
        let (ca, admin) = sample();
        let config = Kubeconfig {
            server_url: "https://10.0.0.10:6443",
            ca_pem: ca.cert_pem(),
            client_cert_pem: &admin.cert_pem,
            client_key_pem: &admin.key_pem,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write(&path, &config, DEFAULT_MODE).unwrap();
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&path)
            .args(["config", "view", "--raw", "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(view["current-context"], "default");
        assert_eq!(view["clusters"][0]["name"], "default");
        assert_eq!(
            view["clusters"][0]["cluster"]["server"],
            "https://10.0.0.10:6443"
        );
        assert_eq!(
            view["clusters"][0]["cluster"]["certificate-authority-data"],
            BASE64.encode(ca.cert_pem())
        );
        assert_eq!(view["contexts"][0]["context"]["user"], "default");
        assert_eq!(
            view["users"][0]["user"]["client-certificate-data"],
            BASE64.encode(&admin.cert_pem)
        );
        assert_eq!(
            view["users"][0]["user"]["client-key-data"],
            BASE64.encode(admin.key_pem.expose())
        );
    }
}
