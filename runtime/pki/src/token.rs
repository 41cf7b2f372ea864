//! The join token, in K3s's format and by K3s's rules.
//!
//! Owns: choosing a server's secret (`--token`, else the token file, else
//! 16 random bytes as 32 hex) and checking a `--token`'s CA pin, the files
//! `<data-dir>/server/token` (0600) and `node-token` (a symlink to it), and
//! the joiner's check of the CA hash against what `/cacerts` served. The
//! [`Token`] type itself (parsing, printing) is `edge_config::token`.
//!
//! Must not: print a secret; errors never quote the token.

use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::PkiError;
use crate::files::{
    PRIVATE_DIR, PRIVATE_FILE, ensure_dir, read_optional_text, symlink_atomic, write_atomic,
};
use crate::identity::ca_hash;
use edge_config::secret::Secret;
use edge_config::token::{SERVER_USER, Token, TokenError};

/// A fresh random secret: 16 bytes as 32 hex characters (K3s's `util.Random(16)`).
pub fn generate_secret() -> Secret<String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

/// A server's secret, by K3s's order: the secret of `--token`, else the
/// secret of the existing token file. `None` when there is neither: the
/// caller generates one (first server) or refuses (a cluster exists). The
/// one secret chosen here keys the bootstrap data *and* is written to the
/// token file, so a restart without `--token` reads back the same secret.
pub fn server_secret(flag: Option<&Token>, existing: Option<&Token>) -> Option<Secret<String>> {
    flag.or(existing).map(|t| t.secret().clone())
}

/// Checks that a `--token` given as a full token pins this cluster's CA
/// (a bare secret pins nothing and passes).
pub fn check_pin(flag: Option<&Token>, ca_hash: &str) -> Result<(), PkiError> {
    match flag.and_then(Token::ca_hash) {
        Some(token_hash) if token_hash != ca_hash => Err(PkiError::TokenFromOtherCluster {
            token_hash: token_hash.to_owned(),
            ca_hash: ca_hash.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The token a server writes: `K10<ca_hash>::server:<secret>`.
pub fn server_token(secret: Secret<String>, ca_hash: &str) -> Token {
    Token::new(Some(ca_hash.to_owned()), SERVER_USER, secret)
}

/// `<data-dir>/server/token`.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server").join("token")
}

/// `<data-dir>/server/node-token` (a symlink to `token`).
pub fn node_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server").join("node-token")
}

/// Writes `<data-dir>/server/token` (0600, one line) and makes `node-token`
/// a symlink to it, both atomically.
pub fn write_server_token(data_dir: &Path, token: &Token) -> Result<(), PkiError> {
    let path = token_path(data_dir);
    let server_dir = data_dir.join("server");
    ensure_dir(&server_dir, PRIVATE_DIR)?;
    let line = Secret::new(format!("{}\n", token.to_full_string().expose()));
    write_atomic(&path, line.expose().as_bytes(), PRIVATE_FILE)?;
    symlink_atomic(Path::new("token"), &node_token_path(data_dir))
}

/// Reads `<data-dir>/server/token`, `None` when there is none.
pub fn read_server_token(data_dir: &Path) -> Result<Option<Token>, PkiError> {
    let path = token_path(data_dir);
    let Some(text) = read_optional_text(&path)? else {
        return Ok(None);
    };
    let text = Secret::new(text);
    Token::parse_trimmed(text.expose()).map(Some).map_err(|e| {
        let reason = match e {
            TokenError::Empty => "it is empty".to_owned(),
            TokenError::Characters => "it holds more than one word".to_owned(),
            TokenError::HashLength { len } => {
                format!("invalid token CA hash length ({len} characters, want 64)")
            }
            TokenError::Format => "invalid token format (the secret is empty)".to_owned(),
        };
        PkiError::TokenFile { path, reason }
    })
}

/// Outcome of checking a server's CA against a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaCheck {
    /// The token pins a CA hash and the served bundle matches it.
    Verified,
    /// The token pins nothing: the server is trusted on first use. The caller
    /// must warn, and should store the token pinned to this CA from now on.
    TrustedOnFirstUse,
}

/// Checks the CA bundle a server served at `/cacerts` against the token's
/// CA hash, before any secret is sent to that server.
pub fn verify_cacerts(token: &Token, cacerts_pem: &[u8]) -> Result<CaCheck, PkiError> {
    let Some(token_hash) = token.ca_hash() else {
        return Ok(CaCheck::TrustedOnFirstUse);
    };
    let served = ca_hash(cacerts_pem)?;
    if served == token_hash {
        Ok(CaCheck::Verified)
    } else {
        Err(PkiError::TokenCaMismatch {
            token_hash: token_hash.to_owned(),
            ca_hash: served,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::CertificateAuthority;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// (input, Ok((hash, user, secret)) | Err(message prefix))
    #[test]
    fn generated_secret_is_32_hex() {
        let s = generate_secret();
        assert_eq!(s.expose().len(), 32);
        assert!(s.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(generate_secret(), s);
    }

    #[test]
    fn server_secret_follows_k3s_order_and_the_pin_is_checked() {
        let flag = |t: &str| Token::parse(t).unwrap();
        let file = Token::parse(&format!("K10{H}::server:kept")).unwrap();
        let secret =
            |f: Option<&Token>, e: Option<&Token>| server_secret(f, e).map(|s| s.expose().clone());

        // --token wins over the file, whatever its form; then the file; then nothing.
        assert_eq!(
            secret(Some(&flag("SECRET")), Some(&file)).as_deref(),
            Some("SECRET")
        );
        let full = flag(&format!("K10{H}::node:abc"));
        assert_eq!(secret(Some(&full), None).as_deref(), Some("abc"));
        assert_eq!(secret(None, Some(&file)).as_deref(), Some("kept"));
        assert_eq!(secret(None, None), None);

        // What a server writes: its secret, the current CA, user `server`.
        let t = server_token(Secret::new("abc".into()), H);
        assert_eq!(t.to_full_string().expose(), &format!("K10{H}::server:abc"));
        assert_eq!(t.as_written().expose(), &format!("K10{H}::server:abc"));

        // A bare secret pins nothing; a full token must pin this CA.
        assert!(check_pin(Some(&flag("SECRET")), H).is_ok());
        assert!(check_pin(Some(&full), H).is_ok());
        assert!(check_pin(None, H).is_ok());
        let other = "f".repeat(64);
        let pinned = flag(&format!("K10{other}::server:zq-secret"));
        let err = check_pin(Some(&pinned), H).unwrap_err().to_string();
        assert!(
            err.starts_with("token CA hash does not match the Cluster CA certificate hash"),
            "{err}"
        );
        assert!(err.contains(&other) && err.contains(H), "{err}");
        assert!(!err.contains("zq-secret"), "{err}");
    }

    #[test]
    fn token_files_are_private_and_node_token_is_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_server_token(dir.path()).unwrap().is_none());
        let t = server_token(Secret::new("SECRET".into()), H);
        write_server_token(dir.path(), &t).unwrap();

        let path = token_path(dir.path());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("K10{H}::server:SECRET\n")
        );
        let node = node_token_path(dir.path());
        let link = std::fs::symlink_metadata(&node).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(std::fs::read_link(&node).unwrap(), Path::new("token"));
        assert_eq!(read_server_token(dir.path()).unwrap(), Some(t.clone()));

        // Rewriting replaces both, atomically, and keeps the link a link.
        let t2 = server_token(Secret::new("OTHER".into()), H);
        write_server_token(dir.path(), &t2).unwrap();
        assert_eq!(read_server_token(dir.path()).unwrap(), Some(t2));
        assert!(
            std::fs::symlink_metadata(&node)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&node).unwrap(),
            format!("K10{H}::server:OTHER\n")
        );
    }

    #[test]
    fn a_damaged_token_file_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("server")).unwrap();
        std::fs::write(token_path(dir.path()), "K10abc::server:s3cret\n").unwrap();
        let err = read_server_token(dir.path()).unwrap_err().to_string();
        assert!(err.contains("invalid token CA hash length"), "{err}");
        assert!(err.contains("server/token"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn joiner_checks_the_ca_hash_with_k3s_message() {
        let ca = CertificateAuthority::generate("edge-server-ca").unwrap();
        let pem = ca.cert_pem().as_bytes();
        let hash = ca_hash(pem).unwrap();
        let good = Token::parse(&format!("K10{hash}::server:s")).unwrap();
        assert_eq!(verify_cacerts(&good, pem).unwrap(), CaCheck::Verified);

        let bare = Token::parse("s").unwrap();
        assert_eq!(
            verify_cacerts(&bare, pem).unwrap(),
            CaCheck::TrustedOnFirstUse
        );

        let wrong = Token::parse(&format!("K10{H}::server:s")).unwrap();
        let err = verify_cacerts(&wrong, pem).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "token CA hash does not match the Cluster CA certificate hash: {H} != {hash}"
            )),
            "{err}"
        );
    }
}
