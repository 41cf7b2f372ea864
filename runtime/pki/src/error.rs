//! The PKI error type.
//!
//! Owns the wording of every PKI failure: what was wrong, where (a path, a
//! bundle field, "the token"), and what the operator can do about it. Where
//! K3s has a message for the same failure, ours starts with K3s's words so
//! operators' searches still find answers.
//!
//! Must not carry a secret: no variant holds a key, a password, a token or a
//! decrypted byte. Parser errors from serde are reduced to their category and
//! position (see [`json_error`]) because serde quotes offending values.

use std::io;
use std::path::PathBuf;

/// Everything the PKI module can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read, written or created.
    #[error("cannot {action} {}: {source}; {hint}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
        hint: &'static str,
    },

    /// A file the PKI needs is not there.
    #[error("{what} not found at {}; {hint}", path.display())]
    Missing {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },

    /// A certificate (or a bundle of them) could not be parsed.
    #[error("{what} in {location} is not a usable certificate: {reason}; {hint}")]
    BadCertificate {
        what: &'static str,
        location: String,
        reason: String,
        hint: &'static str,
    },

    /// A private key could not be parsed. The key itself is never quoted.
    #[error("{what} in {location} is not a usable private key: {reason}; {hint}")]
    BadKey {
        what: &'static str,
        location: String,
        reason: String,
        hint: &'static str,
    },

    /// A CA certificate and the key stored next to it are not a pair.
    #[error(
        "the private key in {key_location} does not belong to the certificate in \
         {cert_location}; restore both files from the same backup (generating a new pair \
         invalidates every certificate and token issued under the old one)"
    )]
    KeyMismatch {
        cert_location: String,
        key_location: String,
    },

    /// A certificate or key could not be made from the parameters given.
    #[error("cannot issue {what}: {reason}")]
    Issue { what: String, reason: String },

    /// A string is not a token.
    #[error(transparent)]
    Token(#[from] edge_config::token::TokenError),

    /// A subject alternative name is neither an IP address nor a DNS name.
    #[error(
        "invalid subject alternative name {value:?}: {reason}; use a DNS name (e.g. \
         edge-1.example.com) or an IP address (e.g. 10.0.0.5)"
    )]
    BadSan { value: String, reason: String },

    /// A certificate signing request was refused.
    #[error(
        "certificate signing request rejected: {reason}; send a PEM-encoded PKCS#10 request \
         signed with the private key the certificate is for"
    )]
    Csr { reason: String },

    /// A peer certificate carries no identity the API server can use.
    #[error("client certificate has no usable identity: {reason}")]
    NoIdentity { reason: String },

    /// K3s: the CA a server presents is not the one the token was made for.
    #[error(
        "token CA hash does not match the Cluster CA certificate hash: {token_hash} != \
         {ca_hash}; the server is not part of the cluster this token belongs to (check \
         --server), or the token is from another cluster (take it from \
         <data-dir>/server/token on a server of this cluster)"
    )]
    TokenCaMismatch { token_hash: String, ca_hash: String },

    /// `--token` is a full `K10` token whose CA hash is not this cluster's.
    #[error(
        "token CA hash does not match the Cluster CA certificate hash: the --token given \
         pins {token_hash} but this cluster's CA is {ca_hash}, so it is another cluster's \
         token (or --datastore-endpoint names another cluster's database); pass the token \
         from <data-dir>/server/token of a server of this cluster, or only its secret part \
         (after the last ':')"
    )]
    TokenFromOtherCluster { token_hash: String, ca_hash: String },

    /// A token file exists but does not hold a token.
    #[error(
        "token file {} is not usable: {reason}; copy it from another server of this cluster \
         (<data-dir>/server/token), or remove it and start with --token",
        path.display()
    )]
    TokenFile { path: PathBuf, reason: String },

    /// The bootstrap data did not decrypt under the key derived from our token.
    /// AES-GCM cannot tell a wrong key from altered data; the message names
    /// the likely cause first.
    #[error(
        "bootstrap data in the datastore is encrypted with a different token (or was \
         altered); start this server with the token from <data-dir>/server/token of a running \
         server of this cluster (--token or EDGE_TOKEN)"
    )]
    BootstrapWrongToken,

    /// The bootstrap envelope is not one we can read.
    #[error(
        "bootstrap data in the datastore is damaged or from an unsupported version: {reason}; \
         upgrade this server to the version of the running servers, or restore the \
         datastore from a backup"
    )]
    BootstrapFormat { reason: String },

    /// A ciphertext for secrets encryption at rest could not be decrypted.
    #[error(
        "cannot decrypt data stored under {storage_key:?} with secrets-encryption key \
         {key_name:?}: {reason}; the stored value was altered, or it was written with another \
         key of the same name (restore the key from the bootstrap data)"
    )]
    SecretsDecrypt {
        storage_key: String,
        key_name: String,
        reason: String,
    },

    /// A stored value names an encryption key we do not have.
    #[error(
        "data stored under {storage_key:?} is encrypted with secrets-encryption key \
         {key_name:?}, which this server does not have (it has: {known}); restore the key \
         that was rotated out"
    )]
    SecretsUnknownKey {
        storage_key: String,
        key_name: String,
        known: String,
    },

    /// A stored value is encrypted by a provider we do not implement.
    #[error(
        "data stored under {storage_key:?} is encrypted by provider {provider:?}, which \
         Edgeplane does not implement (only aesgcm)"
    )]
    SecretsUnsupportedProvider {
        storage_key: String,
        provider: String,
    },

    /// Secrets encryption was set up with an unusable key list.
    #[error("invalid secrets-encryption configuration: {reason}")]
    SecretsConfig { reason: String },

    /// A stored node password hash cannot be read.
    #[error(
        "stored node password hash for {node:?} is not valid: {reason}; delete the node's \
         password entry so that the next registration stores a fresh one"
    )]
    PasswordHash { node: String, reason: String },

    /// A bundle from the datastore is incomplete or inconsistent.
    #[error(
        "PKI bundle field {field} is not usable: {reason}; restore the datastore from a backup"
    )]
    Bundle { field: &'static str, reason: String },

    /// A cryptographic primitive failed where it cannot normally fail.
    #[error("{what} failed: {reason}")]
    Crypto { what: &'static str, reason: String },
}

impl PkiError {
    /// An [`PkiError::Io`] builder for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        hint: &'static str,
    ) -> impl FnOnce(io::Error) -> PkiError {
        let path = path.into();
        move |source| PkiError::Io {
            action,
            path,
            source,
            hint,
        }
    }
}

/// A serde_json error reduced to its category and position.
///
/// serde quotes the offending value in messages like `invalid type: string
/// "...", expected u32`; when the input holds keys, that quote is a leak.
pub(crate) fn json_error(err: &serde_json::Error) -> String {
    let category = match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => {
            "unexpected structure (a field is missing or has the wrong type)"
        }
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{category} at line {} column {}", err.line(), err.column())
}

/// rcgen's errors name what was wrong, never key material.
pub(crate) fn rcgen_reason(err: &rcgen::Error) -> String {
    err.to_string()
}

/// Why a private key did not parse, in words that quote nothing of it (the
/// PEM decoder's message names an offending byte and its offset).
pub(crate) fn key_reason(err: &rcgen::Error) -> String {
    match err {
        rcgen::Error::PemError(_) => "it is not well-formed PEM".into(),
        rcgen::Error::CouldNotParseKeyPair => "it is not a PKCS#8 private key".into(),
        rcgen::Error::RingKeyRejected(why) => format!("the key was rejected ({why})"),
        rcgen::Error::UnsupportedSignatureAlgorithm => "its algorithm is not supported".into(),
        _ => "it cannot be used as a private key".into(),
    }
}
