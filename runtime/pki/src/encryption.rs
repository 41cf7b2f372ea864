//! Secrets encryption at rest, in the format of Kubernetes' `aesgcm` provider.
//!
//! Owns: turning a value into `k8s:enc:aesgcm:v1:<key name>:` + nonce (12
//! bytes) + AES-256-GCM ciphertext and tag, with the value's storage key as
//! associated data (as kube-apiserver does: a ciphertext copied under another
//! key does not decrypt), and back. Values without the `k8s:enc:` prefix
//! pass through unchanged, so a cluster can turn encryption on later and
//! still read what it wrote before.
//!
//! Must not: decide which resources are encrypted, or hold a key anywhere but
//! in a [`Secret`]. Nonces are random: like Kubernetes' `aesgcm`, a key should
//! be rotated long before 2^32 writes.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::PkiError;
use edge_config::secret::Secret;

/// Prefix of every value Kubernetes' envelope-less providers write.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";
/// Prefix of the `aesgcm` provider's values; the key name and `:` follow.
pub const AESGCM_PREFIX: &[u8] = b"k8s:enc:aesgcm:v1:";
/// The name Edgeplane gives the cluster's key (K3s calls its `aescbckey`).
pub const DEFAULT_KEY_NAME: &str = "aesgcmkey";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A named AES-256 key.
pub struct AesGcmKey {
    /// The name written into every value it encrypts.
    pub name: String,
    /// The key.
    pub key: Secret<[u8; 32]>,
}

impl fmt::Debug for AesGcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmKey")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish()
    }
}

/// The `aesgcm` provider: the first key encrypts, every key decrypts.
pub struct AesGcmProvider {
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for AesGcmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AesGcmProvider")
            .field("keys", &names)
            .finish()
    }
}

impl AesGcmProvider {
    /// A provider with `keys`, the first of which encrypts. Names must be
    /// non-empty, unique and free of `:`.
    pub fn new(keys: &[AesGcmKey]) -> Result<Self, PkiError> {
        let config = |reason: String| PkiError::SecretsConfig { reason };
        if keys.is_empty() {
            return Err(config("no key given; give at least one".into()));
        }
        let mut out: Vec<(String, Aes256Gcm)> = Vec::with_capacity(keys.len());
        for k in keys {
            if k.name.is_empty() || k.name.contains(':') {
                return Err(config(format!(
                    "key name {:?} must be non-empty and contain no ':'",
                    k.name
                )));
            }
            if out.iter().any(|(name, _)| *name == k.name) {
                return Err(config(format!("key name {:?} is used twice", k.name)));
            }
            let cipher = Aes256Gcm::new_from_slice(k.key.expose())
                .map_err(|_| config(format!("key {:?} is not 32 bytes", k.name)))?;
            out.push((k.name.clone(), cipher));
        }
        Ok(Self { keys: out })
    }

    /// A provider with the one key `name`.
    pub fn single(name: &str, key: &Secret<[u8; 32]>) -> Result<Self, PkiError> {
        Self::new(&[AesGcmKey {
            name: name.to_owned(),
            key: key.clone(),
        }])
    }

    /// Encrypts `plaintext`, stored under `storage_key`, with the first key.
    pub fn encrypt(&self, storage_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, PkiError> {
        let (name, cipher) = self.keys.first().ok_or_else(|| PkiError::SecretsConfig {
            reason: "no key given; give at least one".into(),
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: storage_key.as_bytes(),
                },
            )
            .map_err(|_| PkiError::Crypto {
                what: "encrypting a value for storage",
                reason: "AES-256-GCM refused the input".into(),
            })?;
        let mut out =
            Vec::with_capacity(AESGCM_PREFIX.len() + name.len() + 1 + NONCE_LEN + sealed.len());
        out.extend_from_slice(AESGCM_PREFIX);
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a value read from `storage_key`. Values without the
    /// `k8s:enc:` prefix are returned as they are (written before encryption
    /// was turned on).
    pub fn decrypt(&self, storage_key: &str, stored: &[u8]) -> Result<Vec<u8>, PkiError> {
        let Some(rest) = stored.strip_prefix(AESGCM_PREFIX) else {
            if let Some(rest) = stored.strip_prefix(ENCRYPTED_PREFIX) {
                let end = rest
                    .iter()
                    .position(|&b| b == b':')
                    .unwrap_or(rest.len())
                    .min(32);
                return Err(PkiError::SecretsUnsupportedProvider {
                    storage_key: storage_key.to_owned(),
                    provider: String::from_utf8_lossy(&rest[..end]).into_owned(),
                });
            }
            return Ok(stored.to_vec());
        };
        let fail = |key_name: &str, reason: &str| PkiError::SecretsDecrypt {
            storage_key: storage_key.to_owned(),
            key_name: key_name.to_owned(),
            reason: reason.to_owned(),
        };
        let colon = rest
            .iter()
            .take(256)
            .position(|&b| b == b':')
            .ok_or_else(|| fail("", "the key name is not terminated by ':'"))?;
        let key_name = String::from_utf8_lossy(&rest[..colon]).into_owned();
        let body = &rest[colon + 1..];
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(name, _)| *name == key_name)
            .ok_or_else(|| PkiError::SecretsUnknownKey {
                storage_key: storage_key.to_owned(),
                key_name: key_name.clone(),
                known: self
                    .keys
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(fail(
                &key_name,
                "the value is shorter than a nonce and a tag",
            ));
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce)
            .map_err(|_| fail(&key_name, "the nonce is not 12 bytes"))?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: storage_key.as_bytes(),
                },
            )
            .map_err(|_| fail(&key_name, "authentication failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Secret<[u8; 32]> {
        Secret::new([byte; 32])
    }

    const SECRET_KEY: &str = "/registry/secrets/default/db";
    const PLAIN: &[u8] = b"{\"data\":{\"password\":\"hunter2-hunter2\"}}";

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn round_trip_in_kubernetes_format_without_plaintext() {
        let p = AesGcmProvider::single(DEFAULT_KEY_NAME, &key(1)).unwrap();
        let stored = p.encrypt(SECRET_KEY, PLAIN).unwrap();
        let prefix = b"k8s:enc:aesgcm:v1:aesgcmkey:";
        assert!(stored.starts_with(prefix));
        assert_eq!(
            stored.len(),
            prefix.len() + NONCE_LEN + PLAIN.len() + TAG_LEN
        );
        assert!(!contains(&stored, b"hunter2"));
        assert!(!contains(&stored, b"password"));
        assert_eq!(p.decrypt(SECRET_KEY, &stored).unwrap(), PLAIN);
        // A fresh nonce each time.
        assert_ne!(p.encrypt(SECRET_KEY, PLAIN).unwrap(), stored);
    }

    #[test]
    fn any_tampered_byte_fails() {
        let p = AesGcmProvider::single(DEFAULT_KEY_NAME, &key(1)).unwrap();
        let stored = p.encrypt(SECRET_KEY, PLAIN).unwrap();
        let start = AESGCM_PREFIX.len() + DEFAULT_KEY_NAME.len() + 1;
        for i in start..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x01;
            let err = p.decrypt(SECRET_KEY, &bad).unwrap_err();
            assert!(
                matches!(err, PkiError::SecretsDecrypt { .. }),
                "byte {i}: {err}"
            );
        }
    }

    #[test]
    fn the_storage_key_is_authenticated() {
        let p = AesGcmProvider::single(DEFAULT_KEY_NAME, &key(1)).unwrap();
        let stored = p.encrypt(SECRET_KEY, PLAIN).unwrap();
        let err = p
            .decrypt("/registry/secrets/default/other", &stored)
            .unwrap_err();
        assert!(err.to_string().contains("authentication failed"), "{err}");
    }

    #[test]
    fn unprefixed_data_passes_through() {
        let p = AesGcmProvider::single(DEFAULT_KEY_NAME, &key(1)).unwrap();
        assert_eq!(p.decrypt(SECRET_KEY, PLAIN).unwrap(), PLAIN);
        assert_eq!(p.decrypt(SECRET_KEY, b"").unwrap(), b"");
    }

    #[test]
    fn rotation_unknown_keys_and_other_providers() {
        let old = AesGcmProvider::single("old", &key(1)).unwrap();
        let stored = old.encrypt(SECRET_KEY, PLAIN).unwrap();
        let rotated = AesGcmProvider::new(&[
            AesGcmKey {
                name: "new".into(),
                key: key(2),
            },
            AesGcmKey {
                name: "old".into(),
                key: key(1),
            },
        ])
        .unwrap();
        assert_eq!(rotated.decrypt(SECRET_KEY, &stored).unwrap(), PLAIN);
        assert!(
            rotated
                .encrypt(SECRET_KEY, PLAIN)
                .unwrap()
                .starts_with(b"k8s:enc:aesgcm:v1:new:")
        );

        let newer = AesGcmProvider::single("new", &key(2)).unwrap();
        let err = newer.decrypt(SECRET_KEY, &stored).unwrap_err().to_string();
        assert!(
            err.contains("\"old\"") && err.contains("it has: new"),
            "{err}"
        );

        let err = newer
            .decrypt(SECRET_KEY, b"k8s:enc:secretbox:v1:key1:xxxx")
            .unwrap_err()
            .to_string();
        assert!(err.contains("provider \"secretbox\""), "{err}");

        // Same name, other key bytes: fails, and says so.
        let impostor = AesGcmProvider::single("old", &key(3)).unwrap();
        assert!(impostor.decrypt(SECRET_KEY, &stored).is_err());
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert!(AesGcmProvider::new(&[]).is_err());
        assert!(AesGcmProvider::single("", &key(1)).is_err());
        assert!(AesGcmProvider::single("a:b", &key(1)).is_err());
        let dup = [
            AesGcmKey {
                name: "k".into(),
                key: key(1),
            },
            AesGcmKey {
                name: "k".into(),
                key: key(2),
            },
        ];
        assert!(AesGcmProvider::new(&dup).is_err());
        let debug = format!("{:?}", AesGcmProvider::single("k", &key(7)).unwrap());
        assert_eq!(debug, "AesGcmProvider { keys: [\"k\"] }");
    }
}
