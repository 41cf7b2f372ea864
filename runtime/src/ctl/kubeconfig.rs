//! `edgectl kubeconfig`: an administrator kubeconfig from a server's token.
//!
//! The server token already lets a machine join as a server, so its holder
//! may have cluster-admin credentials: the command verifies the server's CA
//! against the token's hash (or trusts it on first use, with a warning, for a
//! bare secret), sends a certificate request with the token, and writes a
//! kubeconfig pointing at the address it was given. The private key never
//! leaves this machine. Must not print the key or the token.

use base64::Engine as _;
use http::Method;
use url::Url;

use super::client::{self, ClientError, Trust};
use edge_config::secret::Secret;
use edge_config::token::{SERVER_USER, Token};
use edge_pki::PkiError;
use edge_pki::kubeconfig::{self, Kubeconfig};
use edge_pki::token::{self, CaCheck};

/// Why no kubeconfig was produced.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("the server URL must be https://HOST[:PORT]: {0}")]
    Url(String),
    #[error("cannot make a key and certificate request: {0}")]
    Key(String),
}

/// The outcome.
#[derive(Debug)]
pub struct Issued {
    /// The kubeconfig (holds the private key).
    pub kubeconfig: Secret<String>,
    /// Whether the CA was checked against the token's hash.
    pub verified: bool,
}

/// Fetches credentials from `server` with `token`.
pub async fn fetch(server: &str, token: &Token) -> Result<Issued, KubeconfigError> {
    let base = Url::parse(server).map_err(|e| KubeconfigError::Url(format!("{server:?}: {e}")))?;
    if base.scheme() != "https" {
        return Err(KubeconfigError::Url(format!("{server:?} is not https")));
    }
    let ca = client::request(
        &base,
        Method::GET,
        "/cacerts",
        &Trust::FetchCaOnly,
        None,
        None,
    )
    .await?;
    let verified = match token::verify_cacerts(token, &ca)? {
        CaCheck::Verified => true,
        CaCheck::TrustedOnFirstUse => {
            tracing::warn!(
                "the token has no CA hash: trusting the server's CA on first use; use the full K10 token from <data-dir>/server/token to verify it"
            );
            false
        }
    };
    let ca_pem = String::from_utf8_lossy(&ca).into_owned();
    let key = rcgen::KeyPair::generate().map_err(|e| KubeconfigError::Key(e.to_string()))?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .and_then(|r| r.pem())
        .map_err(|e| KubeconfigError::Key(e.to_string()))?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            SERVER_USER,
            token.secret().expose()
        ))
    );
    let cert = client::request(
        &base,
        Method::POST,
        "/v1-edge/client-admin.crt",
        &Trust::Ca(ca_pem.clone()),
        Some(&basic),
        Some(csr.into_bytes()),
    )
    .await?;
    let cert_pem = String::from_utf8_lossy(&cert).into_owned();
    let key_pem = Secret::new(key.serialize_pem());
    let kubeconfig = kubeconfig::render(&Kubeconfig {
        server_url: base.as_str().trim_end_matches('/'),
        ca_pem: &ca_pem,
        client_cert_pem: &cert_pem,
        client_key_pem: &key_pem,
    });
    Ok(Issued {
        kubeconfig,
        verified,
    })
}

/// Writes a fetched kubeconfig, readable by its owner only.
pub fn write(path: &std::path::Path, issued: &Issued) -> Result<(), KubeconfigError> {
    edge_pki::files::ensure_parent(path)?;
    Ok(edge_pki::files::write_atomic(
        path,
        issued.kubeconfig.expose().as_bytes(),
        0o600,
    )?)
}
