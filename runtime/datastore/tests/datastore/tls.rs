//! `--datastore-cafile/-certfile/-keyfile` against a real TLS-only database
//! server: a private PostgreSQL or MariaDB that refuses plaintext, with a
//! server certificate from a test CA and client-certificate logins.

use std::path::PathBuf;

use edge_config::endpoint::{Endpoint, TlsFiles};
use edge_datastore::{DatastoreError, Store, StoreOptions};
use edge_testkit::{DbServer, Engine, HOST, PASSWORD, ServerOptions, ServerTls, USER};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

/// A user that logs in with a client certificate (CN = its name), no password.
const CERT_USER: &str = "edge_cert";

/// PEM files of a test PKI: the database server's CA, certificate and key;
/// a client certificate for [`CERT_USER`]; and a CA that signed neither.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, pem: String| {
            std::fs::write(dir.path().join(name), pem).expect("write pem");
        };
        let (ca_pem, ca) = new_ca("edgeplane test database CA");
        write("ca.pem", ca_pem);
        let (stranger_pem, _) = new_ca("a CA nobody trusts");
        write("stranger-ca.pem", stranger_pem);

        let key = KeyPair::generate().expect("key");
        let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        server
            .subject_alt_names
            .push(SanType::IpAddress(HOST.parse().expect("HOST is an IP")));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = server.signed_by(&key, &ca).expect("sign server cert");
        write("server.pem", cert.pem());
        write("server-key.pem", key.serialize_pem());

        let key = KeyPair::generate().expect("key");
        let mut client = CertificateParams::default();
        client
            .distinguished_name
            .push(DnType::CommonName, CERT_USER);
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = client.signed_by(&key, &ca).expect("sign client cert");
        write("client.pem", cert.pem());
        write("client-key.pem", key.serialize_pem());
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_tls(&self) -> ServerTls {
        ServerTls {
            ca: self.path("ca.pem"),
            cert: self.path("server.pem"),
            key: self.path("server-key.pem"),
        }
    }

    /// What `--datastore-cafile` (and, with `client`, `-certfile/-keyfile`) give.
    fn files(&self, ca: &str, client: bool) -> TlsFiles {
        TlsFiles {
            ca_file: Some(self.path(ca)),
            cert_file: client.then(|| self.path("client.pem")),
            key_file: client.then(|| self.path("client-key.pem")),
        }
    }
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("self-sign CA");
    (cert.pem(), Issuer::new(params, key))
}

/// The endpoint as an operator writes it, with or without a password.
fn url(engine: Engine, server: &DbServer, user: &str, password: Option<&str>, db: &str) -> String {
    let userinfo = match password {
        Some(pw) => format!("{user}:{pw}"),
        None => user.to_owned(),
    };
    let port = server.port();
    match engine {
        Engine::Postgres => format!("postgres://{userinfo}@{HOST}:{port}/{db}"),
        Engine::MariaDb => format!("mysql://{userinfo}@tcp({HOST}:{port})/{db}"),
    }
}

async fn open(endpoint: &str, tls: TlsFiles) -> Result<Store, DatastoreError> {
    let endpoint = Endpoint::parse_with_tls(endpoint, tls).expect("valid endpoint");
    Store::open(&endpoint, StoreOptions::default()).await
}

async fn round_trip(store: &Store, key: &str) {
    let created = store
        .create(key, b"over tls".to_vec(), 0)
        .await
        .expect("create over TLS");
    let (_, got) = store.get(key).await.expect("get over TLS");
    assert_eq!(got.as_ref(), Some(&created));
}

fn assert_refused(result: Result<Store, DatastoreError>, what: &str, expect: &[&str]) {
    let err = match result {
        Ok(_) => panic!("{what}: the connection was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        expect.iter().any(|e| err.contains(e)),
        "{what}: expected one of {expect:?} in the error, got: {err}"
    );
    assert!(
        !err.contains(PASSWORD),
        "{what}: password in the error: {err}"
    );
}

/// The datastore TLS flags against a server that accepts TLS only.
pub async fn tls_only_server(engine: Engine) {
    let pki = Pki::new();
    let server = engine
        .start(ServerOptions::default().with_tls(pki.server_tls()))
        .expect("TLS-only database instance");
    let db = edge_testkit::unique_db_name("tls");
    let with_password = url(engine, &server, USER, Some(PASSWORD), &db);

    // Plaintext is refused by the server itself, so the cases below that
    // succeed did so over TLS. (MariaDB 10.11 words its refusal as a failed
    // login; the same credentials succeed over TLS just below.)
    let (plaintext, refusal) = match engine {
        Engine::Postgres => (format!("{with_password}?sslmode=disable"), "no encryption"),
        Engine::MariaDb => (format!("{with_password}?tls=false"), "Access denied"),
    };
    assert_refused(
        open(&plaintext, TlsFiles::default()).await,
        "plaintext",
        &[refusal],
    );

    // --datastore-cafile: the server's certificate is verified against it,
    // host name included (verify-full / VERIFY_IDENTITY).
    let store = open(&with_password, pki.files("ca.pem", false))
        .await
        .unwrap_or_else(|e| panic!("password login over verified TLS: {e}"));
    round_trip(&store, "/tls/password").await;
    drop(store);

    // A CA that did not sign the server's certificate: refused by us.
    assert_refused(
        open(&with_password, pki.files("stranger-ca.pem", false)).await,
        "untrusted server certificate",
        &["UnknownIssuer"],
    );

    // --datastore-certfile/-keyfile: a user with no password logs in with
    // its client certificate.
    let create_user = match engine {
        Engine::Postgres => format!("CREATE ROLE {CERT_USER} LOGIN CREATEDB"),
        Engine::MariaDb => format!(
            "CREATE USER '{CERT_USER}'@'%' REQUIRE SUBJECT '/CN={CERT_USER}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{CERT_USER}'@'%'"
        ),
    };
    server
        .sql(server.default_db(), &create_user)
        .expect("create the certificate user");
    let cert_db = edge_testkit::unique_db_name("tlscert");
    let by_cert = url(engine, &server, CERT_USER, None, &cert_db);
    let store = open(&by_cert, pki.files("ca.pem", true))
        .await
        .unwrap_or_else(|e| panic!("client-certificate login: {e}"));
    round_trip(&store, "/tls/client-cert").await;
    drop(store);

    // The same user without its certificate is refused by the server.
    // Each server's own words for it.
    let refusal = match engine {
        Engine::Postgres => "connection requires a valid client certificate",
        Engine::MariaDb => "Access denied for user",
    };
    assert_refused(
        open(&by_cert, pki.files("ca.pem", false)).await,
        "certificate user without a certificate",
        &[refusal],
    );
}
