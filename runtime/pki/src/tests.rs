//! Cross-cutting tests of the PKI: certificates under rustls's own
//! verifiers, CSR signing, and the rule that no error ever prints a secret.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::*;
use crate::identity::parse_one_cert_pem;
use edge_config::san::San;
use edge_config::secret::Secret;
use edge_config::token::Token;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertificateAuthority) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    Arc::new(roots)
}

fn der(pem: &str) -> CertificateDer<'static> {
    parse_one_cert_pem(pem.as_bytes(), "test", "test").unwrap()
}

fn server_verifier(ca: &CertificateAuthority) -> Arc<WebPkiServerVerifier> {
    WebPkiServerVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap()
}

fn client_verifier(ca: &CertificateAuthority) -> Arc<dyn ClientCertVerifier> {
    WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap()
}

fn verify_as_server(
    ca: &CertificateAuthority,
    cert: &str,
    name: &str,
) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    server_verifier(ca)
        .verify_server_cert(&der(cert), &[], &name, &[], UnixTime::now())
        .map(drop)
}

fn verify_as_client(ca: &CertificateAuthority, cert: &str) -> Result<(), rustls::Error> {
    client_verifier(ca)
        .verify_client_cert(&der(cert), &[], UnixTime::now())
        .map(drop)
}

#[test]
fn serving_cert_verifies_for_each_san_and_only_those() {
    let ca = CertificateAuthority::generate("edge-server-ca").unwrap();
    let sans: Vec<San> = [
        "edge-1",
        "edge-1.example.com",
        "10.0.0.5",
        "fd00::5",
        "kubernetes.default.svc",
    ]
    .iter()
    .map(|s| San::parse(s).unwrap())
    .collect();
    let serving = ca.issue_serving("edge-apiserver", &sans).unwrap();
    for san in &sans {
        verify_as_server(&ca, &serving.cert_pem, &san.to_string())
            .unwrap_or_else(|e| panic!("{san}: {e}"));
    }
    for other in ["edge-2", "example.com", "10.0.0.6", "fd00::6"] {
        let err = verify_as_server(&ca, &serving.cert_pem, other).unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                    | rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForNameContext { .. }
                    )
            ),
            "{other}: {err:?}"
        );
    }
    // Under another CA it does not verify at all.
    let other_ca = CertificateAuthority::generate("edge-server-ca").unwrap();
    assert!(verify_as_server(&other_ca, &serving.cert_pem, "edge-1").is_err());
    // A serving certificate is no client certificate (EKU).
    assert!(verify_as_client(&ca, &serving.cert_pem).is_err());
}

#[test]
fn client_cert_verifies_and_carries_its_identity() {
    let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
    let client = ca
        .issue_client("system:admin", &["system:masters"])
        .unwrap();
    verify_as_client(&ca, &client.cert_pem).unwrap();
    assert_eq!(
        identity(&der(&client.cert_pem)).unwrap(),
        Identity {
            user: "system:admin".into(),
            groups: vec!["system:masters".into()],
        }
    );
    let other_ca = CertificateAuthority::generate("edge-client-ca").unwrap();
    assert!(verify_as_client(&other_ca, &client.cert_pem).is_err());
    // A client certificate is no serving certificate.
    assert!(verify_as_server(&ca, &client.cert_pem, "localhost").is_err());

    // Several groups: every one is an O, and the re-signed certificate verifies.
    let many = ca
        .issue_client("alice", &["dev", "ops", "system:authenticated"])
        .unwrap();
    verify_as_client(&ca, &many.cert_pem).unwrap();
    assert_eq!(
        identity(&der(&many.cert_pem)).unwrap(),
        Identity {
            user: "alice".into(),
            groups: vec!["dev".into(), "ops".into(), "system:authenticated".into()],
        }
    );
}

fn csr_asking_for_admin(key: &KeyPair) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "system:admin");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    params.subject_alt_names = vec![SanType::DnsName("evil.example".try_into().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.serialize_request(key).unwrap().pem().unwrap()
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn csr_gets_the_signers_subject_whatever_it_asked() {
    let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
    let key = KeyPair::generate().unwrap();
    let csr = csr_asking_for_admin(&key);
    let cert = ca
        .sign_client_csr(&csr, "system:node:edge-1", &["system:nodes"])
        .unwrap();
    let two = ca
        .sign_client_csr(&csr, "system:node:edge-1", &["system:nodes", "edge:agents"])
        .unwrap();
    verify_as_client(&ca, &two).unwrap();
    assert_eq!(
        identity(&der(&two)).unwrap().groups,
        ["system:nodes", "edge:agents"]
    );
    assert_eq!(
        identity(&der(&cert)).unwrap(),
        Identity {
            user: "system:node:edge-1".into(),
            groups: vec!["system:nodes".into()],
        }
    );
    verify_as_client(&ca, &cert).unwrap();
    let cert_der = der(&cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    // The CSR's key, none of its wishes.
    assert_eq!(
        parsed.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    assert!(!parsed.is_ca());
    assert!(parsed.subject_alternative_name().unwrap().is_none());
    assert!(verify_as_server(&ca, &cert, "evil.example").is_err());
}

#[test]
fn csr_with_a_bad_signature_or_no_csr_is_refused() {
    let ca = CertificateAuthority::generate("edge-client-ca").unwrap();
    let key = KeyPair::generate().unwrap();
    let csr = csr_asking_for_admin(&key);
    let mut der_bytes = rustls_pki_types::pem::PemObject::from_pem_slice(csr.as_bytes())
        .map(|d: rustls_pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
        .unwrap();
    // Change the requested CN "system:admin" to "system:admio": the signature no longer matches.
    let at = der_bytes
        .windows(12)
        .position(|w| w == b"system:admin")
        .unwrap();
    der_bytes[at + 11] = b'o';
    let tampered = pem_encode("CERTIFICATE REQUEST", &der_bytes);
    let err = ca
        .sign_client_csr(&tampered, "system:node:edge-1", &["system:nodes"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("signature does not verify"), "{err}");

    let err = ca
        .sign_client_csr("not a csr", "system:node:edge-1", &["system:nodes"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a PEM PKCS#10 request"), "{err}");
}

/// Every error path that handles a secret, with a recognisable secret: the
/// secret must appear in neither Display nor Debug.
#[test]
fn no_error_prints_a_secret() {
    const S: &str = "s3cr3t-Zq9";
    let mut errors: Vec<PkiError> = Vec::new();
    let hash = "a".repeat(64);

    // Tokens.
    for bad in [
        format!("K10abc::server:{S}"),
        format!("K10{hash}::server:"),
        String::new(),
    ] {
        errors.push(Token::parse(&bad).unwrap_err().into());
    }
    errors.push(Token::parse(&format!("{S} {S}")).unwrap_err().into());
    let flag = Token::parse(&format!("K10{}::server:{S}", "b".repeat(64))).unwrap();
    errors.push(token::check_pin(Some(&flag), &hash).unwrap_err());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("server")).unwrap();
    std::fs::write(token::token_path(dir.path()), format!("K10xyz::server:{S}")).unwrap();
    errors.push(token::read_server_token(dir.path()).unwrap_err());
    let ca = CertificateAuthority::generate("edge-server-ca").unwrap();
    let pinned = Token::parse(&format!("K10{hash}::server:{S}")).unwrap();
    errors.push(token::verify_cacerts(&pinned, ca.cert_pem().as_bytes()).unwrap_err());

    // Bootstrap data: wrong token, and a decrypted plaintext that is not a bundle.
    let fast = envelope::KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let right = Token::parse(S).unwrap();
    let blob = envelope::encrypt_with(b"{}", &right, fast).unwrap();
    errors.push(envelope::decrypt(&blob, &Token::parse("other").unwrap()).unwrap_err());
    let leaky = format!(r#"{{"format":1,"server_ca_cert":"x","server_ca_key":7,"junk":"{S}"}}"#);
    let leaky2 = format!(r#"{{"format":"{S}"}}"#);
    for plain in [leaky, leaky2] {
        let blob = envelope::encrypt_with(plain.as_bytes(), &right, fast).unwrap();
        errors.push(envelope::decrypt_bundle(&blob, &right).unwrap_err());
    }

    // Keys: unparsable, and not the certificate's.
    let mut bundle = ClusterPki::generate().unwrap().to_bundle();
    bundle.server_ca_key = Secret::new(format!(
        "-----BEGIN PRIVATE KEY-----\n{S}\n-----END PRIVATE KEY-----\n"
    ));
    errors.push(ClusterPki::from_bundle(&bundle).unwrap_err());
    let other = CertificateAuthority::generate("x").unwrap();
    errors.push(CertificateAuthority::from_pem(ca.cert_pem(), other.key_pem()).unwrap_err());
    let mut bundle = ClusterPki::generate().unwrap().to_bundle();
    bundle.secrets_encryption_key = Secret::new(S.to_owned());
    errors.push(ClusterPki::from_bundle(&bundle).unwrap_err());

    // Secrets encryption.
    let key = Secret::new([9u8; 32]);
    let p = encryption::AesGcmProvider::single("k", &key).unwrap();
    let mut stored = p.encrypt("/registry/secrets/a", S.as_bytes()).unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 1;
    errors.push(p.decrypt("/registry/secrets/a", &stored).unwrap_err());
    let q = encryption::AesGcmProvider::single("q", &key).unwrap();
    errors.push(
        q.decrypt(
            "/registry/secrets/a",
            &p.encrypt("/registry/secrets/a", S.as_bytes()).unwrap(),
        )
        .unwrap_err(),
    );

    // Node passwords.
    let stored = passwd::hash_node_password("edge-1", &Secret::new(S.to_owned())).unwrap();
    let broken = stored.replace("p=1", "p=999");
    errors.push(
        passwd::verify_node_password("edge-1", &Secret::new(S.to_owned()), &broken).unwrap_err(),
    );
    errors.push(passwd::verify_node_password("edge-1", &Secret::new(S.to_owned()), S).unwrap_err());

    // Kubeconfig into a path that cannot be written.
    let client = ca
        .issue_client("system:admin", &["system:masters"])
        .unwrap();
    let cfg = kubeconfig::Kubeconfig {
        server_url: "https://127.0.0.1:6443",
        ca_pem: ca.cert_pem(),
        client_cert_pem: &client.cert_pem,
        client_key_pem: &client.key_pem,
    };
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    errors.push(kubeconfig::write(&file.join("sub/kubeconfig"), &cfg, 0o600).unwrap_err());

    let key_body: String = client
        .key_pem
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(!text.contains(S), "secret in: {text}");
            assert!(!text.contains(&key_body[..20]), "key in: {text}");
            assert!(
                !text.contains("-----BEGIN PRIVATE KEY-----"),
                "key in: {text}"
            );
        }
    }
    assert_eq!(errors.len(), 18);
}
