//! The join token, in K3s's format and by K3s's rules.
//!
//! Owns: parsing and printing `K10<CA hash>::<user>:<secret>` (and the bare
//! secret and `K10::<bootstrap token>` forms), choosing a server's secret
//! (`--token`, else the token file, else 16 random bytes as 32 hex), the
//! files `<data-dir>/server/token` (0600) and `node-token` (a symlink to it),
//! and the joiner's check of the CA hash against what `/cacerts` served.
//!
//! Must not: print a secret. [`Token`]'s `Debug` and `Display` redact it;
//! the whole token comes out only through [`Token::to_full_string`], as a
//! [`Secret`]. Errors never quote the token.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::PkiError;
use super::files::{
    PRIVATE_DIR, PRIVATE_FILE, ensure_dir, read_optional_text, symlink_atomic, write_atomic,
};
use super::identity::ca_hash;
use crate::secret::Secret;

/// Every full token starts with this.
pub const TOKEN_PREFIX: &str = "K10";
/// The user a server writes into its token, and joining servers use.
pub const SERVER_USER: &str = "server";
/// The user agents authenticate as (K3s's `WithUser("node")`).
pub const NODE_USER: &str = "node";
/// Length of a CA hash: SHA-256, hex.
pub const CA_HASH_LEN: usize = 64;

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    ca_hash: Option<String>,
    user: String,
    secret: Secret<String>,
}

impl Token {
    /// A token from its parts. `user` may be empty (bare secrets and
    /// bootstrap tokens have none).
    pub fn new(ca_hash: Option<String>, user: &str, secret: Secret<String>) -> Self {
        Self {
            ca_hash: ca_hash.filter(|h| !h.is_empty()),
            user: user.to_owned(),
            secret,
        }
    }

    /// Parses a token by K3s's rules (`parseToken`):
    ///
    /// - no `K10` prefix: the whole string is the secret (a bare secret, or a
    ///   kubeadm-style bootstrap token `abcdef.0123456789abcdef`); no CA hash,
    ///   so the caller must warn that the server is trusted on first use;
    /// - `K10<hash>::<creds>`: the hash is empty or 64 characters
    ///   (`invalid token CA hash length`); `<creds>` is `user:secret`, or just
    ///   the secret when it has no `:`;
    /// - the secret must not be empty (`invalid token format`).
    ///
    /// As in K3s, a string that starts with `K10` but has no `::` is taken as
    /// `K10` followed by creds, so `K10abc` means the secret `abc`.
    pub fn parse(token: &str) -> Result<Token, PkiError> {
        if token.is_empty() {
            return Err(PkiError::EmptyToken);
        }
        let Some(rest) = token.strip_prefix(TOKEN_PREFIX) else {
            return Ok(Token::new(None, "", Secret::new(token.to_owned())));
        };
        let (hash, creds) = match rest.split_once("::") {
            Some((hash, creds)) => {
                if !hash.is_empty() && hash.len() != CA_HASH_LEN {
                    return Err(PkiError::TokenHashLength { len: hash.len() });
                }
                (Some(hash.to_owned()), creds)
            }
            None => (None, rest),
        };
        let (user, secret) = creds.split_once(':').unwrap_or(("", creds));
        if secret.is_empty() {
            return Err(PkiError::TokenFormat);
        }
        Ok(Token::new(hash, user, Secret::new(secret.to_owned())))
    }

    /// The CA hash the token pins, `None` for a bare secret (trust on first use).
    pub fn ca_hash(&self) -> Option<&str> {
        self.ca_hash.as_deref()
    }

    /// The user part, `None` when there is none.
    pub fn user(&self) -> Option<&str> {
        (!self.user.is_empty()).then_some(self.user.as_str())
    }

    /// The secret (K3s's "password"): what keys bootstrap data and HTTP auth.
    pub fn secret(&self) -> &Secret<String> {
        &self.secret
    }

    /// Whether the secret is a kubeadm-style bootstrap token
    /// (`[a-z0-9]{6}.[a-z0-9]{16}`), which K3s sends as a Bearer token.
    pub fn is_bootstrap_token(&self) -> bool {
        let ok = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        self.user.is_empty()
            && self
                .secret
                .expose()
                .split_once('.')
                .is_some_and(|(id, secret)| ok(id, 6) && ok(secret, 16))
    }

    /// The same token with another user (agents use `node`, servers `server`).
    #[must_use]
    pub fn with_user(mut self, user: &str) -> Self {
        user.clone_into(&mut self.user);
        self
    }

    /// The same token pinned to `ca_hash` (after trusting a server on first use).
    #[must_use]
    pub fn with_ca_hash(mut self, ca_hash: &str) -> Self {
        self.ca_hash = Some(ca_hash.to_owned()).filter(|h| !h.is_empty());
        self
    }

    /// The full token, `K10<hash>::<user>:<secret>`, for writing to a file.
    /// Without a user it is `K10<hash>::<secret>` (the bootstrap-token form)
    /// unless the secret contains `:`, which then needs the empty user in
    /// front to parse back the same.
    pub fn to_full_string(&self) -> Secret<String> {
        Secret::new(self.render(self.secret.expose()))
    }

    fn render(&self, secret: &str) -> String {
        let hash = self.ca_hash.as_deref().unwrap_or("");
        if self.user.is_empty() && !self.secret.expose().contains(':') {
            format!("{TOKEN_PREFIX}{hash}::{secret}")
        } else {
            format!("{TOKEN_PREFIX}{hash}::{}:{secret}", self.user)
        }
    }
}

impl std::str::FromStr for Token {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Token::parse(s)
    }
}

/// The token with its secret replaced by `<redacted>`.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<redacted>"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("ca_hash", &self.ca_hash)
            .field("user", &self.user)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A fresh random secret: 16 bytes as 32 hex characters (K3s's `util.Random(16)`).
pub fn generate_secret() -> Secret<String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

/// The token a server writes, by K3s's order: the secret of `--token` (which,
/// when it is a full token, must pin this cluster's CA), else the secret of
/// the existing token file, else a random one. The result is
/// `K10<ca_hash>::server:<secret>`.
pub fn server_token(
    flag: Option<&Secret<String>>,
    existing: Option<&Token>,
    ca_hash: &str,
) -> Result<Token, PkiError> {
    let secret = match (flag, existing) {
        (Some(flag), _) => {
            let given = Token::parse(flag.expose())?;
            if let Some(token_hash) = given.ca_hash()
                && token_hash != ca_hash
            {
                return Err(PkiError::TokenFromOtherCluster {
                    token_hash: token_hash.to_owned(),
                    ca_hash: ca_hash.to_owned(),
                });
            }
            given.secret
        }
        (None, Some(existing)) => existing.secret.clone(),
        (None, None) => generate_secret(),
    };
    Ok(Token::new(Some(ca_hash.to_owned()), SERVER_USER, secret))
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
    Token::parse(text.expose().trim()).map(Some).map_err(|e| {
        let reason = match e {
            PkiError::EmptyToken => "it is empty".to_owned(),
            PkiError::TokenHashLength { len } => {
                format!("invalid token CA hash length ({len} characters, want 64)")
            }
            PkiError::TokenFormat => "invalid token format (the secret is empty)".to_owned(),
            other => other.to_string(),
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
    use crate::pki::CertificateAuthority;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// (input, Ok((hash, user, secret)) | Err(message prefix))
    #[test]
    fn parse_table() {
        type Want =
            Result<(Option<&'static str>, Option<&'static str>, &'static str), &'static str>;
        let full = format!("K10{H}::server:s3cret");
        let bare_hash = format!("K10{H}::s3cret");
        let boot = format!("K10{H}::abcdef.0123456789abcdef");
        let colon = format!("K10{H}:::a:b");
        let short = "K10abc::server:s3cret".to_owned();
        let long = format!("K10{H}0::server:s3cret");
        let no_secret = format!("K10{H}::server:");
        let cases: Vec<(&str, Want)> = vec![
            (&full, Ok((Some(H), Some("server"), "s3cret"))),
            (&bare_hash, Ok((Some(H), None, "s3cret"))),
            (&boot, Ok((Some(H), None, "abcdef.0123456789abcdef"))),
            (&colon, Ok((Some(H), None, "a:b"))),
            ("K10::server:s3cret", Ok((None, Some("server"), "s3cret"))),
            ("K10::s3cret", Ok((None, None, "s3cret"))),
            ("SECRET", Ok((None, None, "SECRET"))),
            ("user:pass", Ok((None, None, "user:pass"))),
            (
                "abcdef.0123456789abcdef",
                Ok((None, None, "abcdef.0123456789abcdef")),
            ),
            ("K10abc", Ok((None, None, "abc"))),
            ("K10::node:a:b", Ok((None, Some("node"), "a:b"))),
            ("", Err("token must not be empty")),
            (&short, Err("invalid token CA hash length")),
            (&long, Err("invalid token CA hash length")),
            (&no_secret, Err("invalid token format")),
            ("K10::", Err("invalid token format")),
            ("K10::server:", Err("invalid token format")),
            ("K10", Err("invalid token format")),
        ];
        for (input, want) in cases {
            match (Token::parse(input), want) {
                (Ok(t), Ok((hash, user, secret))) => {
                    assert_eq!(t.ca_hash(), hash, "{input}");
                    assert_eq!(t.user(), user, "{input}");
                    assert_eq!(t.secret().expose(), secret, "{input}");
                    // Printing and parsing again gives the same token.
                    let again = Token::parse(t.to_full_string().expose()).unwrap();
                    assert_eq!(again, t, "{input}");
                }
                (Err(e), Err(prefix)) => {
                    let msg = e.to_string();
                    assert!(msg.starts_with(prefix), "{input}: {msg}");
                    assert!(!msg.contains("s3cret"), "{input}: {msg}");
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn bootstrap_token_form_is_recognised() {
        assert!(
            Token::parse("abcdef.0123456789abcdef")
                .unwrap()
                .is_bootstrap_token()
        );
        let full = format!("K10{H}::abcdef.0123456789abcdef");
        let t = Token::parse(&full).unwrap();
        assert!(t.is_bootstrap_token());
        assert_eq!(t.to_full_string().expose(), &full);
        assert!(!Token::parse("SECRET").unwrap().is_bootstrap_token());
        assert!(
            !Token::parse("ABCDEF.0123456789abcdef")
                .unwrap()
                .is_bootstrap_token()
        );
        assert!(
            !Token::parse("K10::node:abcdef.0123456789abcdef")
                .unwrap()
                .is_bootstrap_token()
        );
    }

    #[test]
    fn display_and_debug_redact_the_secret() {
        let t = Token::parse(&format!("K10{H}::server:s3cret")).unwrap();
        assert_eq!(t.to_string(), format!("K10{H}::server:<redacted>"));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(
            t.to_full_string().expose(),
            &format!("K10{H}::server:s3cret")
        );
        assert_eq!(format!("{}", t.to_full_string()), "<redacted>");
    }

    #[test]
    fn generated_secret_is_32_hex() {
        let s = generate_secret();
        assert_eq!(s.expose().len(), 32);
        assert!(s.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(generate_secret(), s);
    }

    #[test]
    fn server_token_follows_k3s_order() {
        // --token SECRET: the secret part is SECRET.
        let flag = Secret::new("SECRET".to_owned());
        let t = server_token(Some(&flag), None, H).unwrap();
        assert_eq!(
            t.to_full_string().expose(),
            &format!("K10{H}::server:SECRET")
        );

        // --token as a full token of this cluster: its secret, our hash.
        let flag = Secret::new(format!("K10{H}::node:abc"));
        let t = server_token(Some(&flag), None, H).unwrap();
        assert_eq!(t.to_full_string().expose(), &format!("K10{H}::server:abc"));

        // --token pinning another CA: refused.
        let other = "f".repeat(64);
        let flag = Secret::new(format!("K10{other}::server:zq-secret"));
        let err = server_token(Some(&flag), None, H).unwrap_err().to_string();
        assert!(err.contains("for another cluster"), "{err}");
        assert!(err.contains(&other) && err.contains(H), "{err}");
        assert!(!err.contains("zq-secret"), "{err}");

        // No flag: the existing file's secret, re-pinned to the current CA.
        let existing = Token::parse(&format!("K10{other}::server:kept")).unwrap();
        let t = server_token(None, Some(&existing), H).unwrap();
        assert_eq!(t.to_full_string().expose(), &format!("K10{H}::server:kept"));

        // Nothing: random.
        let t = server_token(None, None, H).unwrap();
        assert_eq!(t.secret().expose().len(), 32);
        assert_eq!(t.user(), Some("server"));
    }

    #[test]
    fn token_files_are_private_and_node_token_is_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_server_token(dir.path()).unwrap().is_none());
        let t = server_token(Some(&Secret::new("SECRET".into())), None, H).unwrap();
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
        let t2 = server_token(Some(&Secret::new("OTHER".into())), None, H).unwrap();
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
