//! The join token's type, in K3s's format and by K3s's rules.
//!
//! Owns parsing and printing `K10<CA hash>::<user>:<secret>` (and the bare
//! secret and `K10::<bootstrap token>` forms) into the one validated
//! [`Token`] every input path uses: the flag, `EDGE_TOKEN`, a token file, the
//! config file and `edge.yaml`. Generating, storing and checking tokens
//! against a CA is `edge-pki`'s.
//!
//! Must not: print a secret. [`Token`]'s `Debug` and `Display` redact it;
//! the whole token comes out only through [`Token::to_full_string`] and
//! [`Token::as_written`], as a [`Secret`]. Errors never quote the token.

use std::fmt;

use sha2::Digest;

use crate::secret::Secret;

/// Why a string is not a token. The messages are K3s's where K3s has one,
/// and never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// K3s: the token string is empty.
    #[error("token must not be empty; pass --token or set EDGE_TOKEN")]
    Empty,

    /// A token with whitespace or control characters in it.
    #[error(
        "the token contains spaces or control characters; a token is one word (a bare \
         secret or K10<CA hash>::<user>:<secret>)"
    )]
    Characters,

    /// K3s: the CA hash between `K10` and `::` has the wrong length.
    #[error(
        "invalid token CA hash length: {len} characters between K10 and ::, want 64 (the \
         SHA-256 of the cluster CA in hex) or none; copy the token again from \
         <data-dir>/server/token on a server"
    )]
    HashLength { len: usize },

    /// K3s: the token has no password part.
    #[error(
        "invalid token format: the secret after the last separator is empty; a token is \
         K10<CA hash>::<user>:<secret> or just the secret"
    )]
    Format,
}

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
        let mut token = Self::written_as(ca_hash, user, secret, Secret::default());
        token.written = token.to_full_string();
        token
    }

    fn written_as(
        ca_hash: Option<String>,
        user: &str,
        secret: Secret<String>,
        written: Secret<String>,
    ) -> Self {
        Self {
            ca_hash: ca_hash.filter(|h| !h.is_empty()),
            user: user.to_owned(),
            secret,
            written,
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
    /// `K10` followed by creds, so `K10abc` means the secret `abc`. Unlike
    /// K3s, a token is one word: whitespace or control characters anywhere
    /// are refused (a pasted line break would otherwise become part of the
    /// cluster's secret). Callers reading a file trim it first.
    pub fn parse(token: &str) -> Result<Token, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenError::Characters);
        }
        let written = Secret::new(token.to_owned());
        let Some(rest) = token.strip_prefix(TOKEN_PREFIX) else {
            return Ok(Token::written_as(None, "", written.clone(), written));
        };
        let (hash, creds) = match rest.split_once("::") {
            Some((hash, creds)) => {
                if !hash.is_empty() && hash.len() != CA_HASH_LEN {
                    return Err(TokenError::HashLength { len: hash.len() });
                }
                (Some(hash.to_owned()), creds)
            }
            None => (None, rest),
        };
        let (user, secret) = creds.split_once(':').unwrap_or(("", creds));
        if secret.is_empty() {
            return Err(TokenError::Format);
        }
        Ok(Token::written_as(
            hash,
            user,
            Secret::new(secret.to_owned()),
            written,
        ))
    }

    /// Parses the contents of a file or a YAML value: surrounding whitespace
    /// (a final newline, a block scalar's indentation) is not part of it.
    pub fn parse_trimmed(text: &str) -> Result<Token, TokenError> {
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
    type Err = TokenError;

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

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

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
            assert!(matches!(e, TokenError::Characters), "{bad:?}: {e}");
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
}
