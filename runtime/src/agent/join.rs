//! Joining: from the token to the node's certificates, through the fixed
//! registration address (by way of the load balancer).
//!
//! The order is what keeps the token safe: `/cacerts` first, without
//! verification, checked against the token's CA hash (a bare secret trusts
//! the CA on first use, with a warning, and pins it for the next start);
//! only then, over connections verified against that CA, the token and the
//! node password go with certificate requests. The node's keys are made
//! here and never leave: the server signs CSRs for a client certificate
//! (`system:node:NAME`) and a serving certificate.
//!
//! Owns the files under `<data-dir>/agent`: the node password and id, the
//! CA, the keys and certificates. Must not log the token or the password.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::Method;
use url::Url;

use super::client::NodeTls;
use crate::apiserver::supervisor::{NODE_IP_HEADER, NODE_NAME_HEADER, NODE_PASSWORD_HEADER};
use crate::ctl::client::{self, ClientError, Trust};
use edge_config::secret::Secret;
use edge_config::token::{NODE_USER, Token};
use edge_pki::PkiError;
use edge_pki::files::{PRIVATE_FILE, PUBLIC_FILE, read_optional_text, write_atomic};
use edge_pki::token::{CaCheck, verify_cacerts};

/// The agent's files.
#[derive(Debug, Clone)]
pub struct AgentFiles {
    pub dir: PathBuf,
}

impl AgentFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("agent"),
        }
    }
    pub fn password(&self) -> PathBuf {
        self.dir.join("node-password")
    }
    pub fn node_id(&self) -> PathBuf {
        self.dir.join("node-id")
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join("server-ca.crt")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client-kubelet.crt")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client-kubelet.key")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.dir.join("serving-kubelet.crt")
    }
    pub fn serving_key(&self) -> PathBuf {
        self.dir.join("serving-kubelet.key")
    }
    pub fn servers(&self) -> PathBuf {
        self.dir.join("etc/lb-servers.json")
    }
}

/// Why the agent could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "the server at {url} is not this cluster's: {source}; check --server, and that the token is this cluster's"
    )]
    WrongCa {
        url: String,
        #[source]
        source: PkiError,
    },
    #[error(
        "the server at {url} presents a CA other than the one this agent trusted on first use \
         ({}); if the cluster was rebuilt, remove it and start again, or use the full K10 token",
        path.display()
    )]
    CaChanged { url: String, path: PathBuf },
    #[error("the cluster refused the token (401 from {url}): check --token or --token-file")]
    WrongToken { url: String },
    #[error("{message}")]
    PasswordRejected { message: String },
    #[error("cannot reach the cluster: {0}")]
    Unreachable(ClientError),
    #[error("the cluster refused to sign the node's certificate: {0}")]
    Refused(ClientError),
    #[error("{0}")]
    Files(#[from] PkiError),
    #[error("cannot make the node's key: {0}")]
    Key(String),
}

impl JoinError {
    /// Worth retrying: the cluster could not be reached, or answered 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused(ClientError::Status { status, .. }) => status.is_server_error(),
            _ => false,
        }
    }
}

/// Reads a private value from `path`, or makes one with `make` and stores it 0600.
pub fn kept(path: &Path, make: impl FnOnce() -> String) -> Result<Secret<String>, PkiError> {
    if let Some(text) = read_optional_text(path)? {
        let t = text.trim().to_owned();
        if !t.is_empty() {
            return Ok(Secret::new(t));
        }
    }
    let value = make();
    edge_pki::files::ensure_parent(path)?;
    write_atomic(path, format!("{value}\n").as_bytes(), PRIVATE_FILE)?;
    Ok(Secret::new(value))
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The node password (16 random bytes, hex, K3s's form), made on first use.
pub fn node_password(files: &AgentFiles) -> Result<Secret<String>, PkiError> {
    kept(&files.password(), || random_hex(16))
}

/// The node id `--with-node-id` appends (4 random bytes, hex), made on first use.
pub fn node_id(files: &AgentFiles) -> Result<String, PkiError> {
    kept(&files.node_id(), || random_hex(4)).map(|s| s.expose().clone())
}

/// What a join gives the node.
#[derive(Debug, Clone)]
pub struct Joined {
    pub tls: NodeTls,
    /// Whether the CA was checked against the token's hash (not trusted on first use).
    pub verified: bool,
}

fn status_message(e: &ClientError) -> String {
    match e {
        ClientError::Status { body, .. } => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.clone()),
        other => other.to_string(),
    }
}

/// Fetches and checks the CA at `base` (the load balancer), then has the
/// node's certificates signed. `server` is the `--server` URL errors name,
/// `node` the node name, `ips` its addresses.
pub async fn join(
    base: &Url,
    server: &Url,
    token: &Token,
    node: &str,
    ips: &[std::net::IpAddr],
    password: &Secret<String>,
    files: &AgentFiles,
) -> Result<Joined, JoinError> {
    let url = server.as_str().trim_end_matches('/').to_owned();
    let ca = client::request(
        base,
        Method::GET,
        "/cacerts",
        &Trust::FetchCaOnly,
        None,
        None,
    )
    .await
    .map_err(JoinError::Unreachable)?;
    let verified = match verify_cacerts(token, &ca) {
        Ok(CaCheck::Verified) => true,
        Ok(CaCheck::TrustedOnFirstUse) => {
            if let Some(pinned) = read_optional_text(&files.ca())?
                && pinned.as_bytes() != &ca[..]
            {
                return Err(JoinError::CaChanged {
                    url,
                    path: files.ca(),
                });
            }
            tracing::warn!(
                "the token has no CA hash: trusting the cluster's CA on first use; use the full \
                 K10 token (a server's <data-dir>/server/token) to verify it"
            );
            false
        }
        Err(source) => return Err(JoinError::WrongCa { url, source }),
    };
    let ca_pem = String::from_utf8_lossy(&ca).into_owned();
    write_atomic(&files.ca(), ca_pem.as_bytes(), PUBLIC_FILE)?;

    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{NODE_USER}:{}", token.secret().expose()))
    );
    let ip_list = ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let headers = [
        (NODE_NAME_HEADER, node.to_owned()),
        (NODE_PASSWORD_HEADER, password.expose().clone()),
        (NODE_IP_HEADER, ip_list),
    ];
    let mut signed = Vec::new();
    for (path, key_file) in [
        ("/v1-edge/client-kubelet.crt", files.client_key()),
        ("/v1-edge/serving-kubelet.crt", files.serving_key()),
    ] {
        let key_pem = kept(&key_file, || {
            rcgen::KeyPair::generate()
                .map(|k| k.serialize_pem())
                .unwrap_or_default()
        })?;
        let key = rcgen::KeyPair::from_pem(key_pem.expose())
            .map_err(|e| JoinError::Key(format!("{}: {e}", key_file.display())))?;
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())
            .and_then(|p| p.serialize_request(&key))
            .and_then(|r| r.pem())
            .map_err(|e| JoinError::Key(e.to_string()))?;
        let cert = client::request_with_headers(
            base,
            Method::POST,
            path,
            &Trust::Ca(ca_pem.clone()),
            Some(&auth),
            &headers,
            Some(csr.into_bytes()),
        )
        .await
        .map_err(|e| match &e {
            ClientError::Status { status, .. } if status.as_u16() == 401 => {
                JoinError::WrongToken { url: url.clone() }
            }
            ClientError::Status { status, .. } if status.as_u16() == 403 => {
                JoinError::PasswordRejected {
                    message: status_message(&e),
                }
            }
            ClientError::Status { .. } => JoinError::Refused(e),
            _ => JoinError::Unreachable(e),
        })?;
        signed.push((String::from_utf8_lossy(&cert).into_owned(), key_pem));
    }
    write_atomic(&files.client_cert(), signed[0].0.as_bytes(), PUBLIC_FILE)?;
    write_atomic(&files.serving_cert(), signed[1].0.as_bytes(), PUBLIC_FILE)?;
    let (cert_pem, key_pem) = signed.swap_remove(0);
    Ok(Joined {
        tls: NodeTls {
            ca_pem,
            cert_pem,
            key_pem,
        },
        verified,
    })
}
