//! Reading certificates: the identity in a peer certificate, the CA hash
//! carried in join tokens, and the facts certificate renewal decides on.
//!
//! Owns: [`identity`] (user = CN, groups = every O, as Kubernetes'
//! client-certificate authenticator reads them), [`ca_hash`] (K3s's rule),
//! and PEM/X.509 parsing helpers for the rest of the module.
//!
//! Must not: decide whether a certificate is trusted. [`identity`] is to be
//! called on a certificate the TLS layer has already verified against the
//! client CA; it checks nothing but the subject.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::PkiError;
use edge_config::san::San;

/// Who a client certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject's common name.
    pub user: String,
    /// Every organization (O) of the subject, in order.
    pub groups: Vec<String>,
}

/// The user (CN) and groups (all O values) of a peer certificate, for the
/// API server's client-certificate authentication.
///
/// Like Go's `pkix.Name`, when a subject has several CNs the last one counts.
/// A certificate without a CN has no identity (Kubernetes refuses it too).
pub fn identity(cert_der: &[u8]) -> Result<Identity, PkiError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| PkiError::NoIdentity {
            reason: format!("it is not a DER X.509 certificate: {e}"),
        })?;
    identity_of(&cert)
}

/// [`identity`] of a parsed certificate.
pub(crate) fn identity_of(cert: &X509Certificate<'_>) -> Result<Identity, PkiError> {
    let no_identity = |reason: String| PkiError::NoIdentity { reason };
    let subject = cert.subject();
    let mut user = None;
    for cn in subject.iter_common_name() {
        user = Some(
            cn.as_str()
                .map_err(|_| no_identity("its CN is not a text string".into()))?,
        );
    }
    let user = match user {
        Some(u) if !u.is_empty() => u.to_owned(),
        _ => {
            return Err(no_identity(format!(
                "subject {subject} has no common name (CN), which names the user"
            )));
        }
    };
    let groups = subject
        .iter_organization()
        .map(|o| {
            o.as_str()
                .map(str::to_owned)
                .map_err(|_| no_identity("an organization (O) is not a text string".into()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Identity { user, groups })
}

/// The CA hash of a PEM bundle, by K3s's rule: a bundle of one certificate
/// hashes as the SHA-256 of the raw file bytes; a bundle of several hashes as
/// the SHA-256 of the DER of the root the first certificate chains to (so the
/// hash survives rotating an intermediate). Lower-case hex.
///
/// Fails when the bundle holds no certificate, or when the first
/// certificate's chain leaves the bundle before reaching a self-signed root
/// (K3s fails then too: there is nothing sensible to hash).
pub fn ca_hash(bundle_pem: &[u8]) -> Result<String, PkiError> {
    let location = "the CA bundle";
    let certs = parse_pem_certs(bundle_pem, "CA bundle", location)?;
    if certs.len() == 1 {
        return Ok(hex::encode(Sha256::digest(bundle_pem)));
    }
    let parsed = certs
        .iter()
        .map(|der| x509(der, "CA bundle certificate", location))
        .collect::<Result<Vec<_>, _>>()?;
    let root = root_of_first(&parsed)?;
    Ok(hex::encode(Sha256::digest(certs[root].as_ref())))
}

/// Index of the self-signed certificate that `certs[0]` chains to within the bundle.
fn root_of_first(certs: &[X509Certificate<'_>]) -> Result<usize, PkiError> {
    let bad = |reason: String| PkiError::BadCertificate {
        what: "CA bundle",
        location: "the CA bundle".into(),
        reason,
        hint: "a bundle must contain the root CA the first certificate chains to",
    };
    let mut current = 0;
    // A chain visits each certificate at most once; more steps mean a loop.
    for _ in 0..certs.len() {
        let cert = &certs[current];
        let self_issued = cert.issuer().as_raw() == cert.subject().as_raw();
        if self_issued && cert.verify_signature(None).is_ok() {
            return Ok(current);
        }
        let issuer = certs.iter().position(|candidate| {
            candidate.subject().as_raw() == cert.issuer().as_raw()
                && candidate.is_ca()
                && cert.verify_signature(Some(candidate.public_key())).is_ok()
        });
        match issuer {
            Some(next) if next != current => current = next,
            _ => {
                return Err(bad(format!(
                    "the issuer of {} ({}) is not in the bundle",
                    cert.subject(),
                    cert.issuer()
                )));
            }
        }
    }
    Err(bad("the chain of the first certificate loops".into()))
}

/// Every certificate in a PEM text; at least one.
pub(crate) fn parse_pem_certs(
    pem: &[u8],
    what: &'static str,
    location: &str,
) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let bad = |reason: String| PkiError::BadCertificate {
        what,
        location: location.to_owned(),
        reason,
        hint: "it must hold PEM certificates (BEGIN CERTIFICATE); restore it from a backup",
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// The first certificate of a PEM text.
pub(crate) fn parse_one_cert_pem(
    pem: &[u8],
    what: &'static str,
    location: &str,
) -> Result<CertificateDer<'static>, PkiError> {
    let mut certs = parse_pem_certs(pem, what, location)?;
    Ok(certs.swap_remove(0))
}

/// A DER certificate, parsed.
pub(crate) fn x509<'a>(
    der: &'a [u8],
    what: &'static str,
    location: &str,
) -> Result<X509Certificate<'a>, PkiError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| PkiError::BadCertificate {
            what,
            location: location.to_owned(),
            reason: format!("not a DER X.509 certificate: {e}"),
            hint: "restore it from a backup, or remove it to have it generated again",
        })
}

/// The subject alternative names of a certificate (DNS and IP only).
pub(crate) fn sans_of(cert: &X509Certificate<'_>) -> Vec<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => San::parse(dns).ok(),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| San::Ip(std::net::IpAddr::from(b))),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| San::Ip(std::net::IpAddr::from(b))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether `cert` names `ca` as its issuer and carries a signature of `ca`'s key.
pub(crate) fn issued_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CertificateAuthority;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    #[test]
    fn identity_reads_cn_and_every_o() {
        let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
        let leaf = ca
            .issue_client("system:admin", &["system:masters", "ops"])
            .unwrap();
        let der = parse_one_cert_pem(leaf.cert_pem.as_bytes(), "t", "t").unwrap();
        assert_eq!(
            identity(&der).unwrap(),
            Identity {
                user: "system:admin".into(),
                groups: vec!["system:masters".into(), "ops".into()],
            }
        );
    }

    #[test]
    fn identity_without_cn_is_refused() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        let cert = params.self_signed(&key).unwrap();
        let err = identity(cert.der()).unwrap_err();
        assert!(err.to_string().contains("no common name"), "{err}");
        assert!(identity(b"not a cert").is_err());
    }

    #[test]
    fn ca_hash_of_one_cert_is_sha256_of_the_file_bytes() {
        let ca = CertificateAuthority::generate("edge-server-ca").unwrap();
        let pem = ca.cert_pem().as_bytes();
        assert_eq!(ca_hash(pem).unwrap(), hex::encode(Sha256::digest(pem)));
        // Raw bytes: a trailing newline changes the hash, as in K3s.
        let mut with_nl = pem.to_vec();
        with_nl.push(b'\n');
        assert_ne!(ca_hash(&with_nl).unwrap(), ca_hash(pem).unwrap());
        assert_eq!(ca_hash(pem).unwrap().len(), 64);
    }

    /// root -> intermediate; bundle "intermediate, root" hashes as the root's DER,
    /// also after the intermediate is rotated.
    #[test]
    fn ca_hash_of_a_bundle_is_sha256_of_the_root_der() {
        let root = CertificateAuthority::generate("root").unwrap();
        let root_issuer = Issuer::from_ca_cert_der(
            root.cert_der(),
            KeyPair::from_pem(root.key_pem().expose()).unwrap(),
        )
        .unwrap();
        let intermediate = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            params.signed_by(&key, &root_issuer).unwrap().pem()
        };
        let want = hex::encode(Sha256::digest(root.cert_der().as_ref()));
        for name in ["intermediate-1", "intermediate-2"] {
            let bundle = format!("{}{}", intermediate(name), root.cert_pem());
            assert_eq!(ca_hash(bundle.as_bytes()).unwrap(), want);
        }

        // The root missing from the bundle: no hash.
        let other = CertificateAuthority::generate("other").unwrap();
        let orphan = format!("{}{}", intermediate("i"), other.cert_pem());
        let err = ca_hash(orphan.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("is not in the bundle"), "{err}");
    }

    #[test]
    fn ca_hash_of_garbage_fails() {
        assert!(ca_hash(b"").is_err());
        assert!(ca_hash(b"hello").is_err());
    }
}
