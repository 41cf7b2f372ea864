//! The cluster's PKI: what every server of a cluster shares, on disk and as
//! a bundle for the datastore, and the per-server certificates derived from it.
//!
//! Owns: [`ClusterPki`] (server CA, client CA, service-account signing key,
//! secrets-encryption key), its files under `<data-dir>/server/tls/` (keys
//! 0600, directory 0700, each file written atomically), the serialisable
//! [`PkiBundle`], and keeping the serving and admin client certificates
//! (kept across restarts; re-issued only when missing, unreadable, signed by
//! another CA, not covering what is wanted, or expiring within 90 days).
//!
//! Must not: decide which CA wins when servers disagree (that is the cluster
//! start-up's job), or touch the datastore.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use rcgen::KeyPair;
use serde::{Deserialize, Serialize};

use crate::ca::{CertAndKey, CertificateAuthority, new_key, unix_now};
use crate::error::key_reason;
use crate::files::{
    PRIVATE_DIR, PRIVATE_FILE, PUBLIC_FILE, ensure_dir, read_optional_text, write_atomic,
};
use crate::identity::{identity_of, issued_by, parse_one_cert_pem, sans_of, x509};
use crate::{Identity, PkiError};
use edge_config::san::San;
use edge_config::secret::Secret;

/// Server CA certificate (what `/cacerts` serves and the token hashes).
pub const SERVER_CA_CERT: &str = "server-ca.crt";
/// Server CA key.
pub const SERVER_CA_KEY: &str = "server-ca.key";
/// Client CA certificate.
pub const CLIENT_CA_CERT: &str = "client-ca.crt";
/// Client CA key.
pub const CLIENT_CA_KEY: &str = "client-ca.key";
/// Service-account token signing key (ECDSA P-256, PKCS#8 PEM).
pub const SERVICE_ACCOUNT_KEY: &str = "service.key";
/// Secrets-encryption key (32 bytes, base64, one line).
pub const SECRETS_ENCRYPTION_KEY: &str = "secrets-encryption.key";
/// The API server's serving certificate.
pub const SERVING_CERT: &str = "serving-kube-apiserver.crt";
/// The API server's serving key.
pub const SERVING_KEY: &str = "serving-kube-apiserver.key";
/// The admin client certificate (`system:admin`, `system:masters`).
pub const ADMIN_CERT: &str = "client-admin.crt";
/// The admin client key.
pub const ADMIN_KEY: &str = "client-admin.key";

/// Common name of the API server's serving certificate.
pub const SERVING_COMMON_NAME: &str = "edge-apiserver";
/// User of the admin client certificate.
pub const ADMIN_USER: &str = "system:admin";
/// Group of the admin client certificate.
pub const ADMIN_GROUP: &str = "system:masters";

/// A certificate expiring sooner than this is re-issued at start-up (K3s's rule).
pub const RENEW_BEFORE_SECS: i64 = 90 * 86_400;

/// Version of [`PkiBundle`]'s layout.
pub const BUNDLE_FORMAT: u32 = 1;

const HINT_REGENERATE: &str = "restore the file from a backup; a server that joined a cluster \
     gets it again from the bootstrap data in the datastore";

/// `<data-dir>/server/tls`, where the PKI lives.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("server").join("tls")
}

/// Everything every server of a cluster must share to be one cluster.
pub struct ClusterPki {
    /// Signs the API server's serving certificates.
    pub server_ca: CertificateAuthority,
    /// Signs client certificates (admin, nodes, controllers).
    pub client_ca: CertificateAuthority,
    /// Signs service-account tokens (ECDSA P-256, PKCS#8 PEM).
    pub service_account_key: Secret<String>,
    /// The AES-256 key for secrets encryption at rest.
    pub secrets_encryption_key: Secret<[u8; 32]>,
}

impl fmt::Debug for ClusterPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterPki")
            .field("server_ca", &self.server_ca)
            .field("client_ca", &self.client_ca)
            .field("service_account_key", &self.service_account_key)
            .field("secrets_encryption_key", &self.secrets_encryption_key)
            .finish()
    }
}

/// [`ClusterPki`] as plain serialisable data, for the bootstrap data in the
/// datastore. Holds private keys: encrypt it ([`crate::bootstrap`]) before it
/// leaves the process. Certificates are kept as the exact PEM text, since the
/// token's CA hash is taken over those bytes.
///
/// Unknown fields are tolerated (not `deny_unknown_fields`): during a rolling
/// upgrade an older server must still read a bundle a newer one wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkiBundle {
    /// Layout version, [`BUNDLE_FORMAT`].
    pub format: u32,
    /// Server CA certificate, PEM.
    pub server_ca_cert: String,
    /// Server CA key, PEM.
    #[serde(with = "secret_string")]
    pub server_ca_key: Secret<String>,
    /// Client CA certificate, PEM.
    pub client_ca_cert: String,
    /// Client CA key, PEM.
    #[serde(with = "secret_string")]
    pub client_ca_key: Secret<String>,
    /// Service-account signing key, PEM.
    #[serde(with = "secret_string")]
    pub service_account_key: Secret<String>,
    /// Secrets-encryption key, 32 bytes in standard base64.
    #[serde(with = "secret_string")]
    pub secrets_encryption_key: Secret<String>,
}

/// Serde for `Secret<String>`: writing a secret out is explicit, here.
mod secret_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use edge_config::secret::Secret;

    pub fn serialize<S: Serializer>(value: &Secret<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret<String>, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl ClusterPki {
    /// A fresh cluster PKI: two CAs, a service-account key, an encryption key.
    pub fn generate() -> Result<Self, PkiError> {
        let now = unix_now();
        let service_account_key = new_key("service-account signing key")?.serialize_pem();
        let mut encryption_key = [0u8; 32];
        rand::rng().fill_bytes(&mut encryption_key);
        Ok(Self {
            server_ca: CertificateAuthority::generate_at("edge-server-ca", now)?,
            client_ca: CertificateAuthority::generate_at("edge-client-ca", now)?,
            service_account_key: Secret::new(service_account_key),
            secrets_encryption_key: Secret::new(encryption_key),
        })
    }

    /// Whether `tls_dir` holds a cluster PKI (its server CA certificate).
    pub fn is_present(tls_dir: &Path) -> bool {
        tls_dir.join(SERVER_CA_CERT).exists()
    }

    /// Writes the PKI to `tls_dir` (`<data-dir>/server/tls`): the directory
    /// 0700, keys 0600, certificates 0644, each file atomically.
    pub fn save(&self, tls_dir: &Path) -> Result<(), PkiError> {
        ensure_dir(tls_dir, PRIVATE_DIR)?;
        let key_b64 = BASE64.encode(self.secrets_encryption_key.expose());
        let files: [(&str, &[u8], u32); 6] = [
            (
                SERVER_CA_KEY,
                self.server_ca.key_pem().expose().as_bytes(),
                PRIVATE_FILE,
            ),
            (
                SERVER_CA_CERT,
                self.server_ca.cert_pem().as_bytes(),
                PUBLIC_FILE,
            ),
            (
                CLIENT_CA_KEY,
                self.client_ca.key_pem().expose().as_bytes(),
                PRIVATE_FILE,
            ),
            (
                CLIENT_CA_CERT,
                self.client_ca.cert_pem().as_bytes(),
                PUBLIC_FILE,
            ),
            (
                SERVICE_ACCOUNT_KEY,
                self.service_account_key.expose().as_bytes(),
                PRIVATE_FILE,
            ),
            (SECRETS_ENCRYPTION_KEY, key_b64.as_bytes(), PRIVATE_FILE),
        ];
        for (name, bytes, mode) in files {
            write_atomic(&tls_dir.join(name), bytes, mode)?;
        }
        Ok(())
    }

    /// Reads the PKI [`Self::save`] wrote, checking every key against its
    /// certificate.
    pub fn load(tls_dir: &Path) -> Result<Self, PkiError> {
        let read = |name: &str, what: &'static str| -> Result<(String, String), PkiError> {
            let path = tls_dir.join(name);
            let text = read_optional_text(&path)?.ok_or_else(|| PkiError::Missing {
                what,
                path: path.clone(),
                hint: HINT_REGENERATE,
            })?;
            Ok((text, path.display().to_string()))
        };
        let load_ca = |cert: &str, key: &str, what: &'static str| {
            let (cert_pem, cert_at) = read(cert, what)?;
            let (key_pem, key_at) = read(key, what)?;
            CertificateAuthority::from_pem_at(&cert_pem, &Secret::new(key_pem), &cert_at, &key_at)
        };
        let server_ca = load_ca(SERVER_CA_CERT, SERVER_CA_KEY, "server CA")?;
        let client_ca = load_ca(CLIENT_CA_CERT, CLIENT_CA_KEY, "client CA")?;
        let (sa_pem, sa_at) = read(SERVICE_ACCOUNT_KEY, "service-account signing key")?;
        let service_account_key = Secret::new(sa_pem);
        check_service_account_key(&service_account_key, &sa_at)?;
        let (enc, enc_at) = read(SECRETS_ENCRYPTION_KEY, "secrets-encryption key")?;
        let secrets_encryption_key =
            decode_encryption_key(&Secret::new(enc)).map_err(|reason| PkiError::BadKey {
                what: "secrets-encryption key",
                location: enc_at,
                reason,
                hint: HINT_REGENERATE,
            })?;
        Ok(Self {
            server_ca,
            client_ca,
            service_account_key,
            secrets_encryption_key,
        })
    }

    /// The PKI as a serialisable bundle (for the datastore, encrypted).
    pub fn to_bundle(&self) -> PkiBundle {
        PkiBundle {
            format: BUNDLE_FORMAT,
            server_ca_cert: self.server_ca.cert_pem().to_owned(),
            server_ca_key: self.server_ca.key_pem().clone(),
            client_ca_cert: self.client_ca.cert_pem().to_owned(),
            client_ca_key: self.client_ca.key_pem().clone(),
            service_account_key: self.service_account_key.clone(),
            secrets_encryption_key: Secret::new(
                BASE64.encode(self.secrets_encryption_key.expose()),
            ),
        }
    }

    /// The PKI from a bundle, with every key checked against its certificate.
    pub fn from_bundle(bundle: &PkiBundle) -> Result<Self, PkiError> {
        if bundle.format != BUNDLE_FORMAT {
            return Err(PkiError::Bundle {
                field: "format",
                reason: format!(
                    "format {} is not the one this server reads ({BUNDLE_FORMAT}); upgrade this \
                     server to the version of the server that wrote it",
                    bundle.format
                ),
            });
        }
        let server_ca = CertificateAuthority::from_pem_at(
            &bundle.server_ca_cert,
            &bundle.server_ca_key,
            "bundle field server_ca_cert",
            "bundle field server_ca_key",
        )?;
        let client_ca = CertificateAuthority::from_pem_at(
            &bundle.client_ca_cert,
            &bundle.client_ca_key,
            "bundle field client_ca_cert",
            "bundle field client_ca_key",
        )?;
        check_service_account_key(
            &bundle.service_account_key,
            "bundle field service_account_key",
        )?;
        let secrets_encryption_key = decode_encryption_key(&bundle.secrets_encryption_key)
            .map_err(|reason| PkiError::Bundle {
                field: "secrets_encryption_key",
                reason,
            })?;
        Ok(Self {
            server_ca,
            client_ca,
            service_account_key: bundle.service_account_key.clone(),
            secrets_encryption_key,
        })
    }
}

fn check_service_account_key(pem: &Secret<String>, location: &str) -> Result<(), PkiError> {
    KeyPair::from_pem(pem.expose())
        .map(drop)
        .map_err(|e| PkiError::BadKey {
            what: "service-account signing key",
            location: location.to_owned(),
            reason: key_reason(&e),
            hint: HINT_REGENERATE,
        })
}

fn decode_encryption_key(b64: &Secret<String>) -> Result<Secret<[u8; 32]>, String> {
    let bytes = BASE64
        .decode(b64.expose().trim())
        .map_err(|_| "it is not standard base64".to_owned())?;
    let key = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("it is {} bytes long, want 32", bytes.len()))?;
    Ok(Secret::new(key))
}

/// What [`ensure_serving_cert`] / [`ensure_admin_cert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertAction {
    /// The certificate on disk was good and is reused.
    Kept,
    /// A new certificate was issued and written, for this reason.
    Issued(IssueReason),
}

/// Why a certificate was (re-)issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueReason {
    /// The certificate or its key file was missing.
    Missing,
    /// The files could not be parsed, or the key is not the certificate's.
    Unreadable(String),
    /// The certificate was not signed by the current CA.
    OtherCa,
    /// These wanted SANs were not in the certificate.
    SansNotCovered(Vec<San>),
    /// The certificate's subject is not the one wanted.
    SubjectChanged,
    /// The certificate expires within 90 days (at this Unix time).
    ExpiresSoon {
        /// `notAfter`, seconds since 1970.
        not_after: i64,
    },
}

impl fmt::Display for IssueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueReason::Missing => f.write_str("it did not exist"),
            IssueReason::Unreadable(why) => write!(f, "the one on disk was unusable: {why}"),
            IssueReason::OtherCa => f.write_str("the one on disk was signed by another CA"),
            IssueReason::SansNotCovered(sans) => {
                let list: Vec<String> = sans.iter().map(San::to_string).collect();
                write!(f, "the one on disk lacked SANs {}", list.join(", "))
            }
            IssueReason::SubjectChanged => f.write_str("the one on disk had another subject"),
            IssueReason::ExpiresSoon { not_after } => {
                write!(
                    f,
                    "the one on disk expires within 90 days (notAfter {not_after})"
                )
            }
        }
    }
}

/// A certificate kept or issued, and which of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredCert {
    /// The certificate and key now on disk.
    pub pair: CertAndKey,
    /// Kept or issued, and why.
    pub action: CertAction,
}

/// Makes sure `tls_dir` holds a serving certificate of `ca` covering `sans`
/// that is valid for more than 90 days; reuses the one there when it is.
pub fn ensure_serving_cert(
    tls_dir: &Path,
    ca: &CertificateAuthority,
    sans: &[San],
) -> Result<EnsuredCert, PkiError> {
    ensure_serving_cert_at(tls_dir, ca, sans, unix_now())
}

pub(crate) fn ensure_serving_cert_at(
    tls_dir: &Path,
    ca: &CertificateAuthority,
    sans: &[San],
    now: i64,
) -> Result<EnsuredCert, PkiError> {
    let mut wanted = sans.to_vec();
    wanted.sort();
    wanted.dedup();
    ensure_leaf(
        tls_dir,
        (SERVING_CERT, SERVING_KEY),
        ca,
        now,
        |cert| {
            let present = sans_of(cert);
            let missing: Vec<San> = wanted
                .iter()
                .filter(|s| !present.contains(s))
                .cloned()
                .collect();
            (!missing.is_empty()).then_some(IssueReason::SansNotCovered(missing))
        },
        || ca.issue_serving(SERVING_COMMON_NAME, &wanted),
    )
}

/// Makes sure `tls_dir` holds the admin client certificate of `client_ca`
/// (`CN=system:admin`, `O=system:masters`), valid for more than 90 days;
/// reuses the one there when it is.
pub fn ensure_admin_cert(
    tls_dir: &Path,
    client_ca: &CertificateAuthority,
) -> Result<EnsuredCert, PkiError> {
    ensure_admin_cert_at(tls_dir, client_ca, unix_now())
}

pub(crate) fn ensure_admin_cert_at(
    tls_dir: &Path,
    client_ca: &CertificateAuthority,
    now: i64,
) -> Result<EnsuredCert, PkiError> {
    let wanted = Identity {
        user: ADMIN_USER.to_owned(),
        groups: vec![ADMIN_GROUP.to_owned()],
    };
    ensure_leaf(
        tls_dir,
        (ADMIN_CERT, ADMIN_KEY),
        client_ca,
        now,
        |cert| match identity_of(cert) {
            Ok(id) if id == wanted => None,
            _ => Some(IssueReason::SubjectChanged),
        },
        || client_ca.issue_client(ADMIN_USER, &[ADMIN_GROUP]),
    )
}

/// The shared keep-or-issue rule for a certificate/key pair in `tls_dir`.
fn ensure_leaf(
    tls_dir: &Path,
    (cert_name, key_name): (&str, &str),
    ca: &CertificateAuthority,
    now: i64,
    specific: impl Fn(&x509_parser::certificate::X509Certificate<'_>) -> Option<IssueReason>,
    issue: impl FnOnce() -> Result<CertAndKey, PkiError>,
) -> Result<EnsuredCert, PkiError> {
    let cert_path = tls_dir.join(cert_name);
    let key_path = tls_dir.join(key_name);
    let existing = match (
        read_optional_text(&cert_path)?,
        read_optional_text(&key_path)?,
    ) {
        (Some(cert_pem), Some(key_pem)) => Some(CertAndKey {
            cert_pem,
            key_pem: Secret::new(key_pem),
        }),
        _ => None,
    };
    let reason = match &existing {
        None => Some(IssueReason::Missing),
        Some(pair) => judge(pair, ca, now, &cert_path, &specific),
    };
    match (existing, reason) {
        (Some(pair), None) => Ok(EnsuredCert {
            pair,
            action: CertAction::Kept,
        }),
        (_, reason) => {
            let reason = reason.unwrap_or(IssueReason::Missing);
            let pair = issue()?;
            ensure_dir(tls_dir, PRIVATE_DIR)?;
            // Key first: a crash between the two writes leaves a mismatched
            // pair, which the next start detects and re-issues.
            write_atomic(&key_path, pair.key_pem.expose().as_bytes(), PRIVATE_FILE)?;
            write_atomic(&cert_path, pair.cert_pem.as_bytes(), PUBLIC_FILE)?;
            Ok(EnsuredCert {
                pair,
                action: CertAction::Issued(reason),
            })
        }
    }
}

/// `None` when the pair on disk can be kept, else why not.
fn judge(
    pair: &CertAndKey,
    ca: &CertificateAuthority,
    now: i64,
    cert_path: &Path,
    specific: &impl Fn(&x509_parser::certificate::X509Certificate<'_>) -> Option<IssueReason>,
) -> Option<IssueReason> {
    let location = cert_path.display().to_string();
    let der = match parse_one_cert_pem(pair.cert_pem.as_bytes(), "certificate", &location) {
        Ok(der) => der,
        Err(e) => return Some(IssueReason::Unreadable(e.to_string())),
    };
    let cert = match x509(&der, "certificate", &location) {
        Ok(cert) => cert,
        Err(e) => return Some(IssueReason::Unreadable(e.to_string())),
    };
    match KeyPair::from_pem(pair.key_pem.expose()) {
        Ok(key) if key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref() => {}
        Ok(_) => {
            return Some(IssueReason::Unreadable(
                "the key file does not hold the certificate's key".into(),
            ));
        }
        Err(e) => {
            return Some(IssueReason::Unreadable(format!(
                "the key file is not usable: {}",
                key_reason(&e)
            )));
        }
    }
    let ca_cert = match x509(ca.cert_der(), "CA certificate", "the CA") {
        Ok(ca_cert) => ca_cert,
        Err(e) => return Some(IssueReason::Unreadable(e.to_string())),
    };
    if !issued_by(&cert, &ca_cert) {
        return Some(IssueReason::OtherCa);
    }
    let not_after = cert.validity().not_after.timestamp();
    if not_after - now < RENEW_BEFORE_SECS {
        return Some(IssueReason::ExpiresSoon { not_after });
    }
    specific(&cert)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn sans(list: &[&str]) -> Vec<San> {
        list.iter().map(|s| San::parse(s).unwrap()).collect()
    }

    #[test]
    fn save_and_load_with_private_modes() {
        let data = tempfile::tempdir().unwrap();
        let dir = tls_dir(data.path());
        assert!(!ClusterPki::is_present(&dir));
        let pki = ClusterPki::generate().unwrap();
        assert!(pki.server_ca.subject().starts_with("edge-server-ca@"));
        assert!(pki.client_ca.subject().starts_with("edge-client-ca@"));
        pki.save(&dir).unwrap();
        assert!(ClusterPki::is_present(&dir));

        assert_eq!(mode(&dir), 0o700);
        for key in [
            SERVER_CA_KEY,
            CLIENT_CA_KEY,
            SERVICE_ACCOUNT_KEY,
            SECRETS_ENCRYPTION_KEY,
        ] {
            assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
        }
        for cert in [SERVER_CA_CERT, CLIENT_CA_CERT] {
            assert_eq!(mode(&dir.join(cert)), 0o644, "{cert}");
        }

        let back = ClusterPki::load(&dir).unwrap();
        assert_eq!(back.to_bundle(), pki.to_bundle());
        assert_eq!(
            back.secrets_encryption_key.expose(),
            pki.secrets_encryption_key.expose()
        );
        let debug = format!("{back:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }

    #[test]
    fn load_names_the_missing_or_mismatched_file() {
        let data = tempfile::tempdir().unwrap();
        let dir = tls_dir(data.path());
        let err = ClusterPki::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("server CA not found at") && err.contains("server-ca.crt"),
            "{err}"
        );

        ClusterPki::generate().unwrap().save(&dir).unwrap();
        let other = ClusterPki::generate().unwrap();
        fs::write(dir.join(CLIENT_CA_KEY), other.client_ca.key_pem().expose()).unwrap();
        let err = ClusterPki::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("client-ca.key") && err.contains("does not belong"),
            "{err}"
        );

        fs::write(dir.join(CLIENT_CA_KEY), "garbage").unwrap();
        let err = ClusterPki::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("client-ca.key") && err.contains("not a usable private key"),
            "{err}"
        );
    }

    #[test]
    fn bundle_round_trips_through_json() {
        let pki = ClusterPki::generate().unwrap();
        let json = serde_json::to_string(&pki.to_bundle()).unwrap();
        let bundle: PkiBundle = serde_json::from_str(&json).unwrap();
        let back = ClusterPki::from_bundle(&bundle).unwrap();
        assert_eq!(back.to_bundle(), pki.to_bundle());
        // Debug of a bundle redacts every key.
        let debug = format!("{bundle:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");

        // Unknown fields from a newer writer are tolerated.
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["added_later"] = "x".into();
        let _: PkiBundle = serde_json::from_value(value).unwrap();

        let mut newer = bundle.clone();
        newer.format = 2;
        let err = ClusterPki::from_bundle(&newer).unwrap_err().to_string();
        assert!(err.contains("format 2"), "{err}");

        let mut swapped = bundle.clone();
        swapped.server_ca_key = bundle.client_ca_key.clone();
        let err = ClusterPki::from_bundle(&swapped).unwrap_err().to_string();
        assert!(err.contains("bundle field server_ca_key"), "{err}");

        let mut short = bundle;
        short.secrets_encryption_key = Secret::new(BASE64.encode([0u8; 16]));
        let err = ClusterPki::from_bundle(&short).unwrap_err().to_string();
        assert!(err.contains("16 bytes long, want 32"), "{err}");
    }

    #[test]
    fn serving_cert_is_kept_across_restarts_and_reissued_for_a_new_san() {
        let data = tempfile::tempdir().unwrap();
        let dir = tls_dir(data.path());
        let pki = ClusterPki::generate().unwrap();
        pki.save(&dir).unwrap();
        let wanted = sans(&["edge-1", "10.0.0.5", "kubernetes.default.svc"]);

        let first = ensure_serving_cert(&dir, &pki.server_ca, &wanted).unwrap();
        assert_eq!(first.action, CertAction::Issued(IssueReason::Missing));
        assert_eq!(mode(&dir.join(SERVING_KEY)), 0o600);
        assert_eq!(mode(&dir.join(SERVING_CERT)), 0o644);

        // A restart: PKI from disk, same wanted SANs (any order): same bytes.
        let pki = ClusterPki::load(&dir).unwrap();
        let mut reordered = wanted.clone();
        reordered.reverse();
        let second = ensure_serving_cert(&dir, &pki.server_ca, &reordered).unwrap();
        assert_eq!(second.action, CertAction::Kept);
        assert_eq!(second.pair, first.pair);
        // A subset is covered too.
        let third = ensure_serving_cert(&dir, &pki.server_ca, &wanted[..1]).unwrap();
        assert_eq!(third.action, CertAction::Kept);

        // A new SAN (a --tls-san, the VIP): re-issued, covering everything.
        let mut more = wanted.clone();
        more.push(San::parse("10.0.0.100").unwrap());
        let fourth = ensure_serving_cert(&dir, &pki.server_ca, &more).unwrap();
        assert_eq!(
            fourth.action,
            CertAction::Issued(IssueReason::SansNotCovered(sans(&["10.0.0.100"])))
        );
        assert_ne!(fourth.pair, first.pair);
        let fifth = ensure_serving_cert(&dir, &pki.server_ca, &more).unwrap();
        assert_eq!(fifth.action, CertAction::Kept);
        assert_eq!(fifth.pair, fourth.pair);
    }

    #[test]
    fn serving_cert_is_reissued_when_expiring_or_from_another_ca_or_mismatched() {
        let data = tempfile::tempdir().unwrap();
        let dir = tls_dir(data.path());
        let pki = ClusterPki::generate().unwrap();
        let wanted = sans(&["edge-1"]);
        let now = unix_now();

        // Valid for 30 more days: within the 90-day window.
        let short = pki
            .server_ca
            .issue_serving_at(SERVING_COMMON_NAME, &wanted, now, 30 * 86_400)
            .unwrap();
        ensure_dir(&dir, PRIVATE_DIR).unwrap();
        fs::write(dir.join(SERVING_CERT), &short.cert_pem).unwrap();
        fs::write(dir.join(SERVING_KEY), short.key_pem.expose()).unwrap();
        let got = ensure_serving_cert_at(&dir, &pki.server_ca, &wanted, now).unwrap();
        assert!(
            matches!(
                got.action,
                CertAction::Issued(IssueReason::ExpiresSoon { .. })
            ),
            "{:?}",
            got.action
        );
        // 91 days left would have been kept.
        let long = pki
            .server_ca
            .issue_serving_at(SERVING_COMMON_NAME, &wanted, now, 91 * 86_400)
            .unwrap();
        fs::write(dir.join(SERVING_CERT), &long.cert_pem).unwrap();
        fs::write(dir.join(SERVING_KEY), long.key_pem.expose()).unwrap();
        let got = ensure_serving_cert_at(&dir, &pki.server_ca, &wanted, now).unwrap();
        assert_eq!(got.action, CertAction::Kept);

        // The cluster's CA replaced this server's own (it joined a cluster).
        let joined = ClusterPki::generate().unwrap();
        let got = ensure_serving_cert(&dir, &joined.server_ca, &wanted).unwrap();
        assert_eq!(got.action, CertAction::Issued(IssueReason::OtherCa));

        // The key on disk is not the certificate's.
        let stray = joined.server_ca.issue_serving("x", &wanted).unwrap();
        fs::write(dir.join(SERVING_KEY), stray.key_pem.expose()).unwrap();
        let got = ensure_serving_cert(&dir, &joined.server_ca, &wanted).unwrap();
        assert!(
            matches!(got.action, CertAction::Issued(IssueReason::Unreadable(_))),
            "{:?}",
            got.action
        );
        fs::write(dir.join(SERVING_CERT), "garbage").unwrap();
        let got = ensure_serving_cert(&dir, &joined.server_ca, &wanted).unwrap();
        assert!(matches!(
            got.action,
            CertAction::Issued(IssueReason::Unreadable(_))
        ));
        let got = ensure_serving_cert(&dir, &joined.server_ca, &wanted).unwrap();
        assert_eq!(got.action, CertAction::Kept);
    }

    #[test]
    fn admin_cert_is_kept_across_restarts() {
        let data = tempfile::tempdir().unwrap();
        let dir = tls_dir(data.path());
        let pki = ClusterPki::generate().unwrap();
        pki.save(&dir).unwrap();
        let first = ensure_admin_cert(&dir, &pki.client_ca).unwrap();
        assert_eq!(first.action, CertAction::Issued(IssueReason::Missing));
        assert_eq!(mode(&dir.join(ADMIN_KEY)), 0o600);
        let der = parse_one_cert_pem(first.pair.cert_pem.as_bytes(), "t", "t").unwrap();
        assert_eq!(
            crate::identity(&der).unwrap(),
            Identity {
                user: "system:admin".into(),
                groups: vec!["system:masters".into()],
            }
        );

        let pki = ClusterPki::load(&dir).unwrap();
        let second = ensure_admin_cert(&dir, &pki.client_ca).unwrap();
        assert_eq!(second.action, CertAction::Kept);
        assert_eq!(second.pair, first.pair);

        // A client cert of the right CA but another subject is replaced.
        let other = pki.client_ca.issue_client("alice", &[]).unwrap();
        fs::write(dir.join(ADMIN_CERT), &other.cert_pem).unwrap();
        fs::write(dir.join(ADMIN_KEY), other.key_pem.expose()).unwrap();
        let third = ensure_admin_cert(&dir, &pki.client_ca).unwrap();
        assert_eq!(
            third.action,
            CertAction::Issued(IssueReason::SubjectChanged)
        );
    }
}
