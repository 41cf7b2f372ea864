//! Encryption of the bootstrap data the servers share through the datastore.
//!
//! Owns: the envelope format (versioned JSON), the key derivation from the
//! token's secret (Argon2id; its parameters and salt travel in the envelope,
//! so they can be raised later without breaking stored data), AES-256-GCM
//! with a random 96-bit nonce and the envelope header as associated data (so
//! a tampered header fails like a tampered ciphertext), and the datastore key
//! name `/bootstrap/<first 12 hex of sha256(secret)>` (K3s's).
//!
//! K3s derives this key with PBKDF2-SHA1 and 4096 rounds, cheap to brute
//! force for human-chosen tokens like `SECRET`; Argon2id makes each guess
//! cost 46 MiB of memory and a few hundred milliseconds of a board's CPU.
//! So this format is deliberately not K3s's: a K3s server cannot read it.
//!
//! Parameters: m = 46 MiB, t = 1, p = 1, OWASP's first Argon2id setting
//! (RFC 9106 allows t = 1 for Argon2id). Measured with the `argon2` crate
//! in release mode on a shared 2-core AMD EPYC VM: 72 ms with AVX2, 86-98 ms
//! on the portable code path, which is the one aarch64 gets. A Cortex-A72
//! (Raspberry Pi 4, 1.5-1.8 GHz) runs such scalar 64-bit code 3-5x slower,
//! so 0.25-0.5 s there: an estimate, not a measurement on a board. The
//! parameters travel in each envelope, so raising them later only affects
//! new envelopes.
//!
//! Must not: touch the datastore, or put anything derived from the plaintext
//! into an error (JSON parse errors are reduced to a position).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::json_error;
use crate::{PkiBundle, PkiError};
use edge_config::secret::Secret;
use edge_config::token::Token;

/// Version of the envelope layout.
pub const ENVELOPE_VERSION: u32 = 1;
/// Argon2id memory cost, KiB (46 MiB).
pub const KDF_MEMORY_KIB: u32 = 46 * 1024;
/// Argon2id passes over memory.
pub const KDF_ITERATIONS: u32 = 1;
/// Argon2id lanes. One: the `argon2` crate is built without threads here, so
/// more lanes would only cost time without spreading it over cores.
pub const KDF_PARALLELISM: u32 = 1;
/// Salt length, bytes.
pub const SALT_LEN: usize = 16;
/// AES-GCM nonce length, bytes (96 bits).
pub const NONCE_LEN: usize = 12;

/// Upper bounds on parameters read from the datastore: a damaged or hostile
/// envelope must not make a server allocate gigabytes or spin for minutes.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// The parameters new envelopes are written with.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: KDF_MEMORY_KIB,
        iterations: KDF_ITERATIONS,
        parallelism: KDF_PARALLELISM,
    };
}

/// The stored form: everything needed to decrypt, given the token.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    version: u32,
    kdf: KdfHeader,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct KdfHeader {
    algorithm: String,
    argon2_version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

const KDF_ALGORITHM: &str = "argon2id";
const CIPHER: &str = "aes-256-gcm";

/// The datastore key of the bootstrap data for `token`:
/// `/bootstrap/` + the first 12 hex characters of SHA-256 of its secret.
pub fn bootstrap_key(token: &Token) -> String {
    let digest = hex::encode(Sha256::digest(token.secret().expose().as_bytes()));
    format!("/bootstrap/{}", &digest[..12])
}

/// Encrypts `bundle` under `token`'s secret, for the datastore.
pub fn encrypt_bundle(bundle: &PkiBundle, token: &Token) -> Result<Vec<u8>, PkiError> {
    let plain = Secret::new(serde_json::to_vec(bundle).map_err(|e| PkiError::Crypto {
        what: "serialising the PKI bundle",
        reason: json_error(&e),
    })?);
    encrypt(plain.expose(), token)
}

/// Decrypts a bundle [`encrypt_bundle`] wrote.
pub fn decrypt_bundle(blob: &[u8], token: &Token) -> Result<PkiBundle, PkiError> {
    let plain = decrypt(blob, token)?;
    serde_json::from_slice(plain.expose()).map_err(|e| PkiError::BootstrapFormat {
        reason: format!("the decrypted bundle is not valid: {}", json_error(&e)),
    })
}

/// Encrypts `plaintext` under a key derived from `token`'s secret, with the
/// default parameters.
pub fn encrypt(plaintext: &[u8], token: &Token) -> Result<Vec<u8>, PkiError> {
    encrypt_with(plaintext, token, KdfParams::DEFAULT)
}

/// [`encrypt`] with explicit Argon2id parameters.
pub fn encrypt_with(
    plaintext: &[u8],
    token: &Token,
    params: KdfParams,
) -> Result<Vec<u8>, PkiError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let kdf = KdfHeader {
        algorithm: KDF_ALGORITHM.into(),
        argon2_version: 0x13,
        memory_kib: params.memory_kib,
        iterations: params.iterations,
        parallelism: params.parallelism,
        salt: BASE64.encode(salt),
    };
    let key = derive_key(token, &kdf, &salt)?;
    let cipher = Aes256Gcm::new_from_slice(key.expose()).map_err(|_| PkiError::Crypto {
        what: "setting up AES-256-GCM",
        reason: "the derived key is not 32 bytes".into(),
    })?;
    let aad = associated_data(ENVELOPE_VERSION, &kdf);
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| PkiError::Crypto {
            what: "encrypting the bootstrap data",
            reason: "AES-256-GCM refused the input".into(),
        })?;
    let envelope = Envelope {
        version: ENVELOPE_VERSION,
        kdf,
        cipher: CIPHER.into(),
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(|e| PkiError::Crypto {
        what: "serialising the bootstrap envelope",
        reason: json_error(&e),
    })
}

/// Decrypts what [`encrypt`] wrote. A different token (or a damaged
/// ciphertext: AES-GCM cannot tell the two apart) fails with
/// [`PkiError::BootstrapWrongToken`].
pub fn decrypt(blob: &[u8], token: &Token) -> Result<Secret<Vec<u8>>, PkiError> {
    let format = |reason: String| PkiError::BootstrapFormat { reason };
    let envelope: Envelope = serde_json::from_slice(blob)
        .map_err(|e| format(format!("the envelope is not valid: {}", json_error(&e))))?;
    if envelope.version != ENVELOPE_VERSION {
        return Err(format(format!(
            "envelope version {} (this server reads version {ENVELOPE_VERSION})",
            envelope.version
        )));
    }
    if envelope.cipher != CIPHER {
        return Err(format(format!(
            "cipher {:?} (want {CIPHER})",
            envelope.cipher
        )));
    }
    let kdf = &envelope.kdf;
    if kdf.algorithm != KDF_ALGORITHM || kdf.argon2_version != 0x13 {
        return Err(format(format!(
            "key derivation {} version {:#x} (want {KDF_ALGORITHM} version 0x13)",
            kdf.algorithm, kdf.argon2_version
        )));
    }
    if kdf.memory_kib > MAX_MEMORY_KIB
        || kdf.iterations > MAX_ITERATIONS
        || kdf.parallelism > MAX_PARALLELISM
    {
        return Err(format(format!(
            "key derivation parameters m={} KiB t={} p={} exceed the limits m={MAX_MEMORY_KIB} \
             t={MAX_ITERATIONS} p={MAX_PARALLELISM}",
            kdf.memory_kib, kdf.iterations, kdf.parallelism
        )));
    }
    let decode = |what: &str, b64: &str| {
        BASE64
            .decode(b64)
            .map_err(|_| format(format!("{what} is not standard base64")))
    };
    let salt = decode("the salt", &kdf.salt)?;
    let nonce = <[u8; NONCE_LEN]>::try_from(decode("the nonce", &envelope.nonce)?.as_slice())
        .map_err(|_| format(format!("the nonce is not {NONCE_LEN} bytes")))?;
    let ciphertext = decode("the ciphertext", &envelope.ciphertext)?;

    let key = derive_key(token, kdf, &salt)?;
    let cipher = Aes256Gcm::new_from_slice(key.expose()).map_err(|_| PkiError::Crypto {
        what: "setting up AES-256-GCM",
        reason: "the derived key is not 32 bytes".into(),
    })?;
    let aad = associated_data(envelope.version, kdf);
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map(Secret::new)
        .map_err(|_| PkiError::BootstrapWrongToken)
}

/// What the AEAD authenticates besides the ciphertext: every header field.
fn associated_data(version: u32, kdf: &KdfHeader) -> String {
    format!(
        "edgeplane-bootstrap/v{version}/{}/v{}/m={}/t={}/p={}/salt={}/{CIPHER}",
        kdf.algorithm,
        kdf.argon2_version,
        kdf.memory_kib,
        kdf.iterations,
        kdf.parallelism,
        kdf.salt
    )
}

fn derive_key(token: &Token, kdf: &KdfHeader, salt: &[u8]) -> Result<Secret<[u8; 32]>, PkiError> {
    let bad_params = |e: argon2::Error| PkiError::BootstrapFormat {
        reason: format!(
            "key derivation parameters m={} KiB t={} p={} with a {}-byte salt are not usable: {e}",
            kdf.memory_kib,
            kdf.iterations,
            kdf.parallelism,
            salt.len()
        ),
    };
    let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(bad_params)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(token.secret().expose().as_bytes(), salt, &mut key)
        .map_err(bad_params)?;
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClusterPki;

    /// Cheap parameters so debug-build tests stay fast; the defaults are
    /// exercised once, in `default_parameters_round_trip`.
    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn token(secret: &str) -> Token {
        Token::parse(secret).unwrap()
    }

    #[test]
    fn key_name_is_k3s_style() {
        // sha256("SECRET") = 0a3ea7c5...; K3s keys bootstrap data by the secret alone.
        let want = format!(
            "/bootstrap/{}",
            &hex::encode(Sha256::digest(b"SECRET"))[..12]
        );
        assert_eq!(bootstrap_key(&token("SECRET")), want);
        let full = "K10".to_owned() + &"a".repeat(64) + "::server:SECRET";
        assert_eq!(bootstrap_key(&token(&full)), want);
        assert_eq!(want.len(), "/bootstrap/".len() + 12);
    }

    #[test]
    fn round_trip_and_envelope_shape() {
        let t = token("SECRET");
        let blob = encrypt_with(b"hello bootstrap", &t, FAST).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["kdf"]["algorithm"], "argon2id");
        assert_eq!(json["kdf"]["memory_kib"], 64);
        assert_eq!(json["cipher"], "aes-256-gcm");
        assert_eq!(
            BASE64
                .decode(json["nonce"].as_str().unwrap())
                .unwrap()
                .len(),
            12
        );
        assert!(!String::from_utf8_lossy(&blob).contains("hello"));
        assert_eq!(decrypt(&blob, &t).unwrap().expose(), b"hello bootstrap");
        // Fresh salt and nonce every time.
        assert_ne!(encrypt_with(b"hello bootstrap", &t, FAST).unwrap(), blob);
    }

    #[test]
    fn default_parameters_round_trip() {
        let pki = ClusterPki::generate().unwrap();
        let t = token("SECRET");
        let blob = encrypt_bundle(&pki.to_bundle(), &t).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(json["kdf"]["memory_kib"], KDF_MEMORY_KIB);
        assert_eq!(json["kdf"]["iterations"], KDF_ITERATIONS);
        let back = decrypt_bundle(&blob, &t).unwrap();
        assert_eq!(back, pki.to_bundle());
        let again = ClusterPki::from_bundle(&back).unwrap();
        assert_eq!(again.server_ca.cert_pem(), pki.server_ca.cert_pem());
    }

    #[test]
    fn a_different_token_gets_the_k3s_style_message() {
        let blob = encrypt_with(b"data", &token("SECRET"), FAST).unwrap();
        let err = decrypt(&blob, &token("OTHER")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("bootstrap data in the datastore is encrypted with a different token"),
            "{msg}"
        );
        assert!(msg.contains("<data-dir>/server/token"), "{msg}");
        assert!(!msg.contains("SECRET") && !msg.contains("OTHER"), "{msg}");
        assert!(!format!("{err:?}").contains("OTHER"));
    }

    #[test]
    fn tampering_with_header_or_ciphertext_fails() {
        let t = token("SECRET");
        let blob = encrypt_with(b"data", &t, FAST).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        // Raising the memory cost (a valid value) changes the derived key and the AAD.
        json["kdf"]["memory_kib"] = 128.into();
        let altered = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            decrypt(&altered, &t),
            Err(PkiError::BootstrapWrongToken)
        ));

        let mut json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        let mut ct = BASE64.decode(json["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        json["ciphertext"] = BASE64.encode(ct).into();
        let altered = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            decrypt(&altered, &t),
            Err(PkiError::BootstrapWrongToken)
        ));
    }

    #[test]
    fn unreadable_envelopes_say_why() {
        let t = token("SECRET");
        for (blob, want) in [
            (b"not json".to_vec(), "the envelope is not valid"),
            (br#"{"version":2}"#.to_vec(), "the envelope is not valid"),
        ] {
            let msg = decrypt(&blob, &t).unwrap_err().to_string();
            assert!(msg.contains(want), "{msg}");
        }
        let blob = encrypt_with(b"data", &t, FAST).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        json["version"] = 2.into();
        let msg = decrypt(&serde_json::to_vec(&json).unwrap(), &t)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("envelope version 2"), "{msg}");

        json["version"] = 1.into();
        json["kdf"]["memory_kib"] = (8u64 * 1024 * 1024).into();
        let msg = decrypt(&serde_json::to_vec(&json).unwrap(), &t)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("exceed the limits"), "{msg}");
    }
}
