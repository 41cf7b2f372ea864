//! A small HTTPS client for talking to a server's supervisor endpoints before
//! the caller holds any certificate: K3s's trust flow for join tokens.
//!
//! Owns: fetching `/cacerts` without verification (the only request ever made
//! that way), checking the fetched CA against the token's hash, and then
//! making verified requests with that CA. Must not send a secret over a
//! connection that was not verified against a CA whose hash the token pins
//! (or that the operator accepted on first use).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

/// What went wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
}

/// How to verify the server.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Accept any certificate. Only for fetching `/cacerts`.
    FetchCaOnly,
    /// Verify against this CA bundle (PEM).
    Ca(String),
}

/// Accepts any certificate: used once, to read the CA that the token's hash then checks.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(trust: &Trust) -> Result<Arc<ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match trust {
        Trust::FetchCaOnly => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth(),
        Trust::Ca(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(cert.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// One HTTPS request; returns the body of a 2xx answer.
pub async fn request(
    base: &Url,
    method: Method,
    path: &str,
    trust: &Trust,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<Bytes, ClientError> {
    request_with_headers(base, method, path, trust, authorization, &[], body).await
}

/// [`request`] with extra headers.
pub async fn request_with_headers(
    base: &Url,
    method: Method,
    path: &str,
    trust: &Trust,
    authorization: Option<&str>,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> Result<Bytes, ClientError> {
    let url = base.join(path).map_err(|e| ClientError::Url {
        url: base.to_string(),
        reason: e.to_string(),
    })?;
    let shown = url.to_string();
    let connect = |reason: String| ClientError::Connect {
        url: shown.clone(),
        reason,
    };
    let host = url
        .host_str()
        .ok_or_else(|| ClientError::Url {
            url: shown.clone(),
            reason: "no host".into(),
        })?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(6443);
    let config = tls_config(trust).map_err(connect)?;
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        TcpStream::connect((host.trim_matches(['[', ']']), port)),
    )
    .await
    .map_err(|_| connect("no answer within 10 s".into()))?
    .map_err(|e| connect(e.to_string()))?;
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|e| connect(e.to_string()))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| connect(format!("TLS: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| connect(e.to_string()))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(url.path())
        .header(header::HOST, &host);
    if let Some(auth) = authorization {
        req = req.header(header::AUTHORIZATION, auth);
    }
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| connect(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| connect(e.to_string()))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| connect(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        return Err(ClientError::Status {
            url: shown,
            status,
            body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        });
    }
    Ok(bytes)
}
