//! The join token, in K3s's format and by K3s's rules.
//!
//! Owns: parsing and printing `K10<CA hash>::<user>:<secret>` (and the bare
//! secret and `K10::<bootstrap token>` forms), the one validated [`Token`]
//! type every input path uses (flag, `EDGE_TOKEN`, token file, config file,
//! `edge.yaml`), choosing a server's secret (`--token`, else the token file,
//! else 16 random bytes as 32 hex) and checking a `--token`'s CA pin, the
//! files `<data-dir>/server/token` (0600) and `node-token` (a symlink to it),
//! and the joiner's check of the CA hash against what `/cacerts` served.
//!
//! Must not: print a secret. [`Token`]'s `Debug` and `Display` redact it;
//! the whole token comes out only through [`Token::to_full_string`] and
//! [`Token::as_written`], as a [`Secret`]. Errors never quote the token.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::Digest;

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

/// A parsed join token: one word, in one of K3s's forms. Two tokens are
/// equal when their parts are (`abc` and `K10::abc` are the same token).
#[derive(Clone)]
pub struct Token {
    ca_hash: Option<String>,
    user: String,
    secret: Secret<String>,
    /// The text it was parsed from (or rendered to), for the boot partition's
    /// `token-sha256` and for checking that a scrub removed it.
    written: Secret<String>,
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        (&self.ca_hash, &self.user, &self.secret) == (&other.ca_hash, &other.user, &other.secret)
    }
}

impl Eq for Token {}

impl Token {
    /// A token from its parts. `user` may be empty (bare secrets and
    /// bootstrap tokens have none).
    pub fn new(ca_hash: Option<String>, user: &str, secret: Secret<String>) -> Self {
        let mut token = Self {
            ca_hash: ca_hash.filter(|h| !h.is_empty()),
            user: user.to_owned(),
            secret,
            written: Secret::default(),
        };
        token.written = token.to_full_string();
        token
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
    /// `K10` followed by creds, so `K10abc` means the secret `abc`. Unlike
    /// K3s, a token is one word: whitespace or control characters anywhere
    /// are refused (a pasted line break would otherwise become part of the
    /// cluster's secret). Callers reading a file trim it first.
    pub fn parse(token: &str) -> Result<Token, PkiError> {
        if token.is_empty() {
            return Err(PkiError::EmptyToken);
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PkiError::TokenCharacters);
        }
        let written = Secret::new(token.to_owned());
        let Some(rest) = token.strip_prefix(TOKEN_PREFIX) else {
            let mut bare = Token::new(None, "", written.clone());
            bare.written = written;
            return Ok(bare);
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
        let mut parsed = Token::new(hash, user, Secret::new(secret.to_owned()));
        parsed.written = written;
        Ok(parsed)
    }

    /// Parses the contents of a file or a YAML value: surrounding whitespace
    /// (a final newline, a block scalar's indentation) is not part of it.
    pub fn parse_trimmed(text: &str) -> Result<Token, PkiError> {
        Token::parse(text.trim())
    }

    /// The token exactly as it was written.
    pub fn as_written(&self) -> &Secret<String> {
        &self.written
    }

    /// SHA-256 of the written token, lowercase hex: what `edged init` leaves
    /// on the boot partition in its place.
    pub fn sha256(&self) -> String {
        hex::encode(sha2::Sha256::digest(self.written.expose().as_bytes()))
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
    pub fn with_user(self, user: &str) -> Self {
        Token::new(self.ca_hash, user, self.secret)
    }

    /// The same token pinned to `ca_hash` (after trusting a server on first use).
    #[must_use]
    pub fn with_ca_hash(self, ca_hash: &str) -> Self {
        Token::new(Some(ca_hash.to_owned()), &self.user, self.secret)
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

/// A token in a config file: the value trimmed, then [`Token::parse`]d.
/// The error names what is wrong, never the value.
impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Secret::new(String::deserialize(deserializer)?);
        Token::parse_trimmed(text.expose()).map_err(serde::de::Error::custom)
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

/// A server's secret, by K3s's order: the secret of `--token`, else the
/// secret of the existing token file. `None` when there is neither: the
/// caller generates one (first server) or refuses (a cluster exists). The
/// one secret chosen here keys the bootstrap data *and* is written to the
/// token file, so a restart without `--token` reads back the same secret.
pub fn server_secret(flag: Option<&Token>, existing: Option<&Token>) -> Option<Secret<String>> {
    flag.or(existing).map(|t| t.secret.clone())
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
            PkiError::EmptyToken => "it is empty".to_owned(),
            PkiError::TokenCharacters => "it holds more than one word".to_owned(),
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
    fn a_token_is_one_word_and_keeps_its_written_form() {
        for bad in [
            "s3c ret",
            "s3cret\n",
            " s3cret",
            "s3\tcret",
            "K10::server:s3 cret",
            "s3\u{7f}cret",
        ] {
            let e = Token::parse(bad).unwrap_err();
            assert!(matches!(e, PkiError::TokenCharacters), "{bad:?}: {e}");
            assert!(!e.to_string().contains("s3"), "{e}");
        }
        // Files and YAML values are trimmed first.
        let t = Token::parse_trimmed("  SECRET\n").unwrap();
        assert_eq!(t.as_written().expose(), "SECRET");
        // The written form is kept (it is what token-sha256 hashes), and
        // equality is by parts.
        let bare = Token::parse("abc").unwrap();
        let prefixed = Token::parse("K10::abc").unwrap();
        assert_eq!(bare, prefixed);
        assert_ne!(bare.sha256(), prefixed.sha256());
        assert_eq!(
            bare.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // A config file's token goes through the same parser.
        #[derive(Debug, serde::Deserialize)]
        struct File {
            #[allow(dead_code)]
            token: Token,
        }
        let e = serde_json::from_str::<File>(r#"{"token": "hunter2 secret"}"#).unwrap_err();
        assert!(e.to_string().contains("spaces"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let ok: File = serde_json::from_str(r#"{"token": "hunter2-secret\n"}"#).unwrap();
        assert_eq!(ok.token.secret().expose(), "hunter2-secret");
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
