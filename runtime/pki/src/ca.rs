//! Certificate authorities and the certificates they sign.
//!
//! Owns: generating a self-signed ECDSA P-256 CA (`<name>@<unix time>`, ten
//! years, like K3s), loading one from PEM and checking its key belongs to it,
//! and signing serving certificates (DNS and IP SANs, serverAuth), client
//! certificates (CN = user, O = groups, clientAuth), and client certificates
//! from a PKCS#10 CSR, where the signer decides the subject and the CSR only
//! contributes its (signature-checked) public key.
//!
//! Must not: read or write files (see [`crate::cluster`]), or let anything in a
//! CSR other than its public key reach a certificate.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use x509_parser::time::ASN1Time;

use crate::PkiError;
use crate::der;
use crate::error::{key_reason, rcgen_reason};
use crate::identity::{parse_one_cert_pem, x509};
use edge_config::san::San;
use edge_config::secret::Secret;

/// Validity of a CA certificate: ten years, like K3s.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// Validity of a serving or client certificate: one year, like K3s.
pub const LEAF_VALIDITY_DAYS: i64 = 365;
/// How far `notBefore` is set in the past, so a device whose clock is a
/// little behind (boards without an RTC, before NTP) still accepts a fresh
/// certificate.
pub const BACKDATE_SECS: i64 = 3600;

const DAY: i64 = 86_400;

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A SAN as rcgen puts it into a certificate.
fn san_to_rcgen(san: &San) -> Result<SanType, PkiError> {
    match san {
        San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        San::Dns(name) => Ok(SanType::DnsName(name.as_str().try_into().map_err(
            |e: rcgen::Error| PkiError::BadSan {
                value: name.clone(),
                reason: rcgen_reason(&e),
            },
        )?)),
    }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertAndKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: Secret<String>,
}

/// A certificate authority: its certificate and its signing key.
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_pem: Secret<String>,
    key: Secret<KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.subject())
            .field("key", &self.key_pem)
            .finish()
    }
}

impl CertificateAuthority {
    /// Generates a self-signed CA named `<name>@<unix time>`, valid ten years.
    pub fn generate(name: &str) -> Result<Self, PkiError> {
        Self::generate_at(name, unix_now())
    }

    pub(crate) fn generate_at(name: &str, now: i64) -> Result<Self, PkiError> {
        let what = || format!("CA certificate {name}@{now}");
        let key = new_key(&what())?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name}@{now}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        set_validity(
            &mut params,
            now - BACKDATE_SECS,
            now + CA_VALIDITY_DAYS * DAY,
        )?;
        let cert = params.self_signed(&key).map_err(|e| PkiError::Issue {
            what: what(),
            reason: rcgen_reason(&e),
        })?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: Secret::new(key.serialize_pem()),
            key: Secret::new(key),
        })
    }

    /// Loads a CA from its PEM certificate and PEM (PKCS#8) key, checking that
    /// the certificate is a CA and that the key is its own.
    pub fn from_pem(cert_pem: &str, key_pem: &Secret<String>) -> Result<Self, PkiError> {
        Self::from_pem_at(
            cert_pem,
            key_pem,
            "the given CA certificate PEM",
            "the given CA key PEM",
        )
    }

    /// [`Self::from_pem`], naming where the PEMs came from in errors.
    pub(crate) fn from_pem_at(
        cert_pem: &str,
        key_pem: &Secret<String>,
        cert_location: &str,
        key_location: &str,
    ) -> Result<Self, PkiError> {
        let hint = "restore the CA from a backup or from the bootstrap data in the datastore";
        let cert_der = parse_one_cert_pem(cert_pem.as_bytes(), "CA certificate", cert_location)?;
        let parsed = x509(&cert_der, "CA certificate", cert_location)?;
        if !parsed.is_ca() {
            return Err(PkiError::BadCertificate {
                what: "CA certificate",
                location: cert_location.to_owned(),
                reason: "it is not a CA (basicConstraints CA:TRUE is missing)".into(),
                hint,
            });
        }
        let key = KeyPair::from_pem(key_pem.expose()).map_err(|e| PkiError::BadKey {
            what: "CA key",
            location: key_location.to_owned(),
            reason: key_reason(&e),
            hint: "the key must be a PEM PKCS#8 private key (BEGIN PRIVATE KEY); restore it from a backup",
        })?;
        if key.public_key_raw() != parsed.public_key().subject_public_key.data.as_ref() {
            return Err(PkiError::KeyMismatch {
                cert_location: cert_location.to_owned(),
                key_location: key_location.to_owned(),
            });
        }
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            key_pem: key_pem.clone(),
            key: Secret::new(key),
        })
    }

    /// The CA certificate, PEM, byte for byte as generated or loaded (the CA
    /// hash in tokens is taken over these bytes).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA's private key, PEM.
    pub fn key_pem(&self) -> &Secret<String> {
        &self.key_pem
    }

    /// The CA's subject common name, e.g. `edge-server-ca@1700000000`.
    pub fn subject(&self) -> String {
        x509_parser::parse_x509_certificate(&self.cert_der)
            .ok()
            .and_then(|(_, c)| {
                c.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_owned))
            })
            .unwrap_or_default()
    }

    /// Signs a serving certificate for `sans` (serverAuth, one year).
    pub fn issue_serving(&self, common_name: &str, sans: &[San]) -> Result<CertAndKey, PkiError> {
        self.issue_serving_at(common_name, sans, unix_now(), LEAF_VALIDITY_DAYS * DAY)
    }

    pub(crate) fn issue_serving_at(
        &self,
        common_name: &str,
        sans: &[San],
        now: i64,
        validity_secs: i64,
    ) -> Result<CertAndKey, PkiError> {
        let what = format!("serving certificate {common_name}");
        if sans.is_empty() {
            return Err(PkiError::Issue {
                what,
                reason: "no subject alternative names were given; a client checks the \
                         address it dialled against them"
                    .into(),
            });
        }
        let mut params = leaf_params(common_name, &[], now, validity_secs)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.subject_alt_names = sans.iter().map(san_to_rcgen).collect::<Result<_, _>>()?;
        self.sign_new_key(&params, &what)
    }

    /// Signs a client certificate: CN = `user`, one O per group (clientAuth,
    /// one year).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertAndKey, PkiError> {
        self.issue_client_at(user, groups, unix_now(), LEAF_VALIDITY_DAYS * DAY)
    }

    pub(crate) fn issue_client_at(
        &self,
        user: &str,
        groups: &[&str],
        now: i64,
        validity_secs: i64,
    ) -> Result<CertAndKey, PkiError> {
        let what = format!("client certificate for {user:?}");
        let mut params = client_params(user, groups, now, validity_secs, &what)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let mut pair = self.sign_new_key(&params, &what)?;
        pair.cert_pem = self.with_all_groups(&pair.cert_pem, user, groups, &what)?;
        Ok(pair)
    }

    /// Signs a client certificate for the public key of a PEM PKCS#10 CSR.
    ///
    /// The CSR's signature must verify (it proves the requester holds the
    /// key). Its subject, SANs and extensions are ignored: CN = `user` and
    /// O = `groups` are the signer's decision (the server passes
    /// `system:node:<name>` / `system:nodes`). Returns the certificate PEM.
    pub fn sign_client_csr(
        &self,
        csr_pem: &str,
        user: &str,
        groups: &[&str],
    ) -> Result<String, PkiError> {
        self.sign_client_csr_at(csr_pem, user, groups, unix_now(), LEAF_VALIDITY_DAYS * DAY)
    }

    /// Signs a serving certificate for the public key of a PEM PKCS#10 CSR
    /// (a kubelet's): CN = `common_name`, SANs = `sans` (the signer's
    /// decision, not the request's), serverAuth, one year.
    pub fn sign_serving_csr(
        &self,
        csr_pem: &str,
        common_name: &str,
        sans: &[San],
    ) -> Result<String, PkiError> {
        let what = format!("serving certificate {common_name} from a CSR");
        let csr = parse_csr(csr_pem)?;
        if sans.is_empty() {
            return Err(PkiError::Issue {
                what,
                reason: "no subject alternative names were given".into(),
            });
        }
        let mut params = leaf_params(common_name, &[], unix_now(), LEAF_VALIDITY_DAYS * DAY)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.subject_alt_names = sans.iter().map(san_to_rcgen).collect::<Result<_, _>>()?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer()?)
            .map_err(|e| PkiError::Issue {
                what,
                reason: rcgen_reason(&e),
            })?;
        Ok(cert.pem())
    }

    pub(crate) fn sign_client_csr_at(
        &self,
        csr_pem: &str,
        user: &str,
        groups: &[&str],
        now: i64,
        validity_secs: i64,
    ) -> Result<String, PkiError> {
        let csr = parse_csr(csr_pem)?;
        let what = format!("client certificate for {user:?} from a CSR");
        let mut params = client_params(user, groups, now, validity_secs, &what)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&csr.public_key, &self.issuer()?)
            .map_err(|e| PkiError::Issue {
                what: what.clone(),
                reason: rcgen_reason(&e),
            })?;
        self.with_all_groups(&cert.pem(), user, groups, &what)
    }

    /// rcgen writes one O at most (see [`crate::der`]); with several groups,
    /// the subject is replaced by the full one and the certificate re-signed.
    fn with_all_groups(
        &self,
        cert_pem: &str,
        user: &str,
        groups: &[&str],
        what: &str,
    ) -> Result<String, PkiError> {
        if groups.len() <= 1 {
            return Ok(cert_pem.to_owned());
        }
        let cert_der = parse_one_cert_pem(cert_pem.as_bytes(), "certificate", what)?;
        let der = der::replace_subject(&cert_der, &der::subject(user, groups), self.key.expose())?;
        Ok(der::pem("CERTIFICATE", &der))
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, PkiError> {
        Issuer::from_ca_cert_der(&self.cert_der, self.key.expose()).map_err(|e| {
            PkiError::BadCertificate {
                what: "CA certificate",
                location: self.subject(),
                reason: rcgen_reason(&e),
                hint: "restore the CA from a backup",
            }
        })
    }

    fn sign_new_key(&self, params: &CertificateParams, what: &str) -> Result<CertAndKey, PkiError> {
        let key = new_key(what)?;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| PkiError::Issue {
                what: what.to_owned(),
                reason: rcgen_reason(&e),
            })?;
        Ok(CertAndKey {
            cert_pem: cert.pem(),
            key_pem: Secret::new(key.serialize_pem()),
        })
    }
}

/// A fresh ECDSA P-256 key.
pub(crate) fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| PkiError::Issue {
        what: what.to_owned(),
        reason: format!("generating an ECDSA P-256 key failed: {}", rcgen_reason(&e)),
    })
}

/// A positive 127-bit serial number.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01 << 6; // never leading zeros, so the encoding keeps 16 bytes
    SerialNumber::from_slice(&bytes)
}

fn set_validity(params: &mut CertificateParams, from: i64, until: i64) -> Result<(), PkiError> {
    let at = |secs: i64| {
        ASN1Time::from_timestamp(secs)
            .map(|t| t.to_datetime())
            .map_err(|_| PkiError::Issue {
                what: "certificate validity".into(),
                reason: format!(
                    "{secs} seconds since 1970 is not a representable time; check the system clock"
                ),
            })
    };
    params.not_before = at(from)?;
    params.not_after = at(until)?;
    Ok(())
}

/// A PEM PKCS#10 request whose signature verifies (its holder has the key).
fn parse_csr(csr_pem: &str) -> Result<CertificateSigningRequestParams, PkiError> {
    CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
        let reason = match e {
            rcgen::Error::InvalidCertificationRequestSignature => {
                "its signature does not verify (altered, or signed with another key)".into()
            }
            rcgen::Error::CouldNotParseCertificationRequest => {
                "it is not a PEM PKCS#10 request (BEGIN CERTIFICATE REQUEST)".into()
            }
            rcgen::Error::UnsupportedExtension => {
                "it requests an extension Edgeplane does not handle; request no \
                 extensions, the signer sets them"
                    .into()
            }
            other => rcgen_reason(&other),
        };
        PkiError::Csr { reason }
    })
}

fn leaf_params(
    common_name: &str,
    organizations: &[&str],
    now: i64,
    validity_secs: i64,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    for org in organizations {
        params
            .distinguished_name
            .push(DnType::OrganizationName, (*org).to_owned());
    }
    params
        .distinguished_name
        .push(DnType::CommonName, common_name.to_owned());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    set_validity(&mut params, now - BACKDATE_SECS, now + validity_secs)?;
    Ok(params)
}

fn client_params(
    user: &str,
    groups: &[&str],
    now: i64,
    validity_secs: i64,
    what: &str,
) -> Result<CertificateParams, PkiError> {
    if user.is_empty() {
        return Err(PkiError::Issue {
            what: what.to_owned(),
            reason: "the user (CN) is empty; Kubernetes authenticates a client certificate \
                     by its CN"
                .into(),
        });
    }
    if let Some(group) = groups.iter().find(|g| g.is_empty()) {
        return Err(PkiError::Issue {
            what: what.to_owned(),
            reason: format!("group {group:?} is empty; drop it from the list"),
        });
    }
    // rcgen keeps the last value of a repeated type; the first group stands
    // in until `with_all_groups` writes them all.
    leaf_params(user, &groups[..groups.len().min(1)], now, validity_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_has_k3s_style_name_and_ten_years() {
        let ca = CertificateAuthority::generate_at("edge-server-ca", 1_700_000_000).unwrap();
        assert_eq!(ca.subject(), "edge-server-ca@1700000000");
        let (_, cert) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
        assert!(cert.is_ca());
        let v = cert.validity();
        assert_eq!(
            v.not_after.timestamp() - v.not_before.timestamp(),
            CA_VALIDITY_DAYS * DAY + BACKDATE_SECS
        );
        // P-256 ECDSA.
        assert_eq!(
            cert.signature_algorithm.algorithm,
            x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256
        );
    }

    #[test]
    fn ca_round_trips_through_pem_and_rejects_a_foreign_key() {
        let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
        let again = CertificateAuthority::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
        assert_eq!(again.subject(), ca.subject());

        let other = CertificateAuthority::generate("edge-client-ca").unwrap();
        let err = CertificateAuthority::from_pem(ca.cert_pem(), other.key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err}");

        let leaf = ca.issue_client("alice", &[]).unwrap();
        let err = CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem).unwrap_err();
        assert!(err.to_string().contains("it is not a CA"), "{err}");
    }

    #[test]
    fn client_cert_rejects_empty_user_and_group() {
        let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
        assert!(ca.issue_client("", &["g"]).is_err());
        assert!(ca.issue_client("u", &["g", ""]).is_err());
    }

    #[test]
    fn serving_cert_needs_a_san() {
        let ca = CertificateAuthority::generate("edge-server-ca").unwrap();
        let err = ca.issue_serving("edge-apiserver", &[]).unwrap_err();
        assert!(err.to_string().contains("no subject alternative names"));
    }
}
