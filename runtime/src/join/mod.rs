//! Joining a cluster through its datastore: the bootstrap data (certificate
//! authorities and keys, encrypted with the token) and the critical
//! configuration every server must share.
//!
//! Owns the keys `/bootstrap/<hash of the token>` and `/edge/critical-config`.
//! The first server to start on an empty datastore takes a lock (the
//! bootstrap key created empty), generates the PKI and fills the key; servers
//! that start at the same instant wait for it and load the same PKI, so a
//! cluster always ends with one CA. A server with the wrong token, or with a
//! critical flag that differs from the cluster's, refuses to start and writes
//! nothing. Must not log or return the token or key material.

use std::path::Path;
use std::time::{Duration, Instant};

use edge_config::server::CriticalConfig;
use edge_config::token::{SERVER_USER, Token};
use edge_datastore::{DatastoreError, KeyRange, Store};
use edge_pki::PkiError;
use edge_pki::cluster::{ClusterPki, tls_dir};
use edge_pki::envelope::{bootstrap_key, decrypt_bundle, encrypt_bundle};
use edge_pki::identity::ca_hash;
use edge_pki::token;

/// Where the first server records the critical flags.
pub const CRITICAL_CONFIG_KEY: &str = "/edge/critical-config";
/// How long a bootstrap lock may stay empty before it is taken as abandoned
/// (its holder died between taking it and filling it).
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

/// Why a server cannot join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "this datastore already holds a cluster and no token was given: start with --token \
         (or EDGE_TOKEN) set to the token in {} on a running server",
        token_file
    )]
    TokenRequired { token_file: String },
    #[error(
        "the --token given pins the CA hash {token_hash}, but the datastore holds no cluster \
         yet and this server has no CA, so the new cluster's CA cannot match it; to start a \
         new cluster pass only the token's secret part (after the last ':'), or point \
         --datastore-endpoint at the cluster's database"
    )]
    PinnedTokenWithoutCluster { token_hash: String },
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("datastore: {0}")]
    Datastore(#[from] DatastoreError),
    #[error("critical configuration differs from the cluster's, so this server will not start: {}; \
             every server must use the same values (or wipe the datastore to start a new cluster)",
        .0.iter().map(|d| format!("--{} is {} here but {} in the cluster", d.flag, d.here, d.cluster)).collect::<Vec<_>>().join("; "))]
    CriticalMismatch(Vec<Difference>),
    #[error("the cluster's recorded critical configuration is unreadable: {0}")]
    CriticalUnreadable(String),
}

/// One flag that differs from the cluster's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub flag: &'static str,
    pub here: String,
    pub cluster: String,
}

/// The cluster's PKI and this server's token, from the datastore (joining)
/// or newly made (first server).
///
/// One secret is chosen before anything else (`--token`, else the token
/// file, else a new one for a first server) and used both to key the
/// bootstrap data and in the token file written at the end, so a first
/// server started without `--token` restarts from its own token file and
/// joiners use that file's token. A `--token` that pins a CA is checked
/// against the cluster's CA before anything is written, here or locally.
pub async fn join(
    store: &Store,
    data_dir: &Path,
    token_flag: Option<&Token>,
) -> Result<(ClusterPki, Token), JoinError> {
    let existing = token::read_server_token(data_dir)?;
    let secret = match token::server_secret(token_flag, existing.as_ref()) {
        Some(secret) => secret,
        None => {
            let held = store
                .list(&KeyRange::prefix("/bootstrap/"), 1, None)
                .await?;
            if !held.kvs.is_empty() {
                return Err(JoinError::TokenRequired {
                    token_file: token::token_path(data_dir).display().to_string(),
                });
            }
            token::generate_secret()
        }
    };
    let lookup = Token::new(None, SERVER_USER, secret.clone());
    let key = bootstrap_key(&lookup);
    let dir = tls_dir(data_dir);
    let started = Instant::now();
    let (pki, joined) = loop {
        let (_, found) = store.get(&key).await?;
        match found {
            Some(kv) if !kv.value.is_empty() => {
                let bundle = decrypt_bundle(&kv.value, &lookup)?;
                break (ClusterPki::from_bundle(&bundle)?, true);
            }
            Some(kv) => {
                // Another server holds the lock and is generating the PKI.
                if started.elapsed() > LOCK_TIMEOUT {
                    tracing::warn!("the bootstrap lock was abandoned; taking it over");
                    match store.delete(&key, Some(kv.mod_revision)).await {
                        Ok(_)
                        | Err(DatastoreError::Conflict { .. } | DatastoreError::NotFound { .. }) => {
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                tokio::time::sleep(POLL).await;
            }
            None => {
                // Bootstrap data under another key: another token made this cluster.
                let held = store
                    .list(&KeyRange::prefix("/bootstrap/"), 2, None)
                    .await?;
                if held.kvs.iter().any(|kv| kv.key != key) {
                    return Err(PkiError::BootstrapWrongToken.into());
                }
                // A server that ran alone before keeps its CA; otherwise a new
                // one, which no pinned token can match. Decided before the
                // lock is taken, so a refusal leaves the datastore untouched.
                let pki = if ClusterPki::is_present(&dir) {
                    ClusterPki::load(&dir)?
                } else if let Some(token_hash) = token_flag.and_then(Token::ca_hash) {
                    return Err(JoinError::PinnedTokenWithoutCluster {
                        token_hash: token_hash.to_owned(),
                    });
                } else {
                    ClusterPki::generate()?
                };
                let hash = server_ca_hash(&pki)?;
                token::check_pin(token_flag, &hash)?;
                // The token file before any data keyed by its secret: a crash
                // in between must not leave a cluster whose token nobody has.
                token::write_server_token(data_dir, &token::server_token(secret.clone(), &hash))?;
                let lock = match store.create(&key, Vec::new(), 0).await {
                    Ok(kv) => kv,
                    Err(DatastoreError::KeyExists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                let blob = encrypt_bundle(&pki.to_bundle(), &lookup)?;
                match store.update(&key, blob, lock.mod_revision, 0).await {
                    Ok(_) => {
                        tracing::info!("stored the cluster's bootstrap data in the datastore");
                        break (pki, false);
                    }
                    // Our lock was taken over meanwhile: start again.
                    Err(DatastoreError::Conflict { .. } | DatastoreError::NotFound { .. }) => {
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    };
    let hash = server_ca_hash(&pki)?;
    if joined {
        // A first server checked its pin before taking the lock.
        token::check_pin(token_flag, &hash)?;
    }
    if joined && token_flag.is_some_and(|t| t.ca_hash().is_none()) {
        tracing::warn!(
            ca_hash = %hash,
            token_file = %token::token_path(data_dir).display(),
            "the token is a bare secret: this server trusts the cluster CA it found in the \
             datastore on first use; start servers with the full K10 token from the token file \
             to have the CA checked"
        );
    }
    let same = ClusterPki::is_present(&dir)
        && ClusterPki::load(&dir).is_ok_and(|local| local.to_bundle() == pki.to_bundle());
    if !same {
        if ClusterPki::is_present(&dir) {
            tracing::warn!(dir = %dir.display(), "local certificate authorities differ from the cluster's; replacing them with the datastore's");
        }
        pki.save(&dir)?;
    }
    let token = token::server_token(secret, &hash);
    if joined {
        // A first server wrote this exact token before it stored the data.
        token::write_server_token(data_dir, &token)?;
    }
    Ok((pki, token))
}

/// The hash a full token pins: SHA-256 of the server CA certificate.
fn server_ca_hash(pki: &ClusterPki) -> Result<String, PkiError> {
    ca_hash(pki.server_ca.cert_pem().as_bytes())
}

/// The flags as their names and printable values, in K3s's order.
fn critical_fields(c: &CriticalConfig) -> Vec<(&'static str, String)> {
    vec![
        ("cluster-cidr", c.cluster_cidr.to_string()),
        ("service-cidr", c.service_cidr.to_string()),
        ("cluster-dns", c.cluster_dns.to_string()),
        ("cluster-domain", c.cluster_domain.clone()),
        (
            "disable",
            if c.disable.is_empty() {
                "(none)".into()
            } else {
                c.disable.join(",")
            },
        ),
        (
            "disable-helm-controller",
            c.disable_helm_controller.to_string(),
        ),
        ("disable-kube-proxy", c.disable_kube_proxy.to_string()),
        (
            "disable-network-policy",
            c.disable_network_policy.to_string(),
        ),
        ("secrets-encryption", c.secrets_encryption.to_string()),
    ]
}

/// The differing flags between `here` and the cluster's.
pub fn differences(here: &CriticalConfig, cluster: &CriticalConfig) -> Vec<Difference> {
    critical_fields(here)
        .into_iter()
        .zip(critical_fields(cluster))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((flag, a), (_, b))| Difference {
            flag,
            here: a,
            cluster: b,
        })
        .collect()
}

/// Records the critical flags (first server) or checks them against the
/// recorded ones (every later server). K3s documents this rule but does not
/// check it with an external datastore; Edgeplane refuses to start.
pub async fn check_critical(store: &Store, here: &CriticalConfig) -> Result<(), JoinError> {
    loop {
        let (_, found) = store.get(CRITICAL_CONFIG_KEY).await?;
        match found {
            Some(kv) => {
                let cluster: CriticalConfig = serde_json::from_slice(&kv.value)
                    .map_err(|e| JoinError::CriticalUnreadable(e.to_string()))?;
                let diffs = differences(here, &cluster);
                return if diffs.is_empty() {
                    Ok(())
                } else {
                    Err(JoinError::CriticalMismatch(diffs))
                };
            }
            None => {
                let value = serde_json::to_vec(here)
                    .map_err(|e| JoinError::CriticalUnreadable(e.to_string()))?;
                match store.create(CRITICAL_CONFIG_KEY, value, 0).await {
                    Ok(_) => return Ok(()),
                    Err(DatastoreError::KeyExists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CriticalConfig {
        CriticalConfig {
            cluster_cidr: "10.42.0.0/16".parse().expect("cidr"),
            service_cidr: "10.43.0.0/16".parse().expect("cidr"),
            cluster_dns: "10.43.0.10".parse().expect("ip"),
            cluster_domain: "cluster.local".into(),
            disable: vec![],
            disable_helm_controller: false,
            disable_kube_proxy: false,
            disable_network_policy: false,
            secrets_encryption: false,
        }
    }

    #[test]
    fn every_difference_is_named_with_both_values() {
        let mut other = config();
        other.cluster_cidr = "10.50.0.0/16".parse().expect("cidr");
        other.secrets_encryption = true;
        other.disable = vec!["traefik".into()];
        let diffs = differences(&other, &config());
        let flags: Vec<_> = diffs.iter().map(|d| d.flag).collect();
        assert_eq!(flags, ["cluster-cidr", "disable", "secrets-encryption"]);
        let message = JoinError::CriticalMismatch(diffs).to_string();
        assert!(
            message.contains("--cluster-cidr is 10.50.0.0/16 here but 10.42.0.0/16 in the cluster"),
            "{message}"
        );
        assert!(
            message.contains("--disable is traefik here but (none) in the cluster"),
            "{message}"
        );
        assert!(differences(&config(), &config()).is_empty());
    }

    /// The token bug of the seed's step 4, at library level on SQLite: one
    /// secret keys the bootstrap data and is written to the token file.
    #[tokio::test]
    async fn a_tokenless_first_server_writes_the_token_its_cluster_uses() {
        use edge_config::endpoint::Endpoint;
        use edge_datastore::StoreOptions;
        let db = tempfile::tempdir().expect("tmp");
        let endpoint = Endpoint::default_sqlite(db.path());
        let store = Store::open(&endpoint, StoreOptions::default())
            .await
            .expect("open");
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().expect("tmp")).collect();
        let file =
            |d: &tempfile::TempDir| std::fs::read(token::token_path(d.path())).expect("token");

        let (pki, first) = join(&store, dirs[0].path(), None).await.expect("first");
        let written = file(&dirs[0]);
        // Restart without a token: the same secret from the file, the same CA.
        let (again, restarted) = join(&store, dirs[0].path(), None).await.expect("restart");
        assert_eq!(restarted, first);
        assert_eq!(again.to_bundle(), pki.to_bundle());
        assert_eq!(file(&dirs[0]), written);
        // A joiner with the full token from the file, and one with its bare secret.
        let full =
            Token::parse_trimmed(std::str::from_utf8(&written).expect("utf-8")).expect("full");
        let bare = Token::parse(first.secret().expose()).expect("bare");
        for (dir, given) in [(&dirs[1], &full), (&dirs[2], &bare)] {
            let (joined, token) = join(&store, dir.path(), Some(given)).await.expect("join");
            assert_eq!(joined.to_bundle(), pki.to_bundle());
            assert_eq!(token, first);
            assert_eq!(file(dir), written);
        }
        // A joiner without any token is told where to read it.
        let err = join(&store, dirs[3].path(), None)
            .await
            .expect_err("refused");
        assert!(matches!(err, JoinError::TokenRequired { .. }), "{err}");
        store.close().await;
    }
}
