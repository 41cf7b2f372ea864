//! Node password hashes: how a server remembers which device owns a node name.
//!
//! Owns: hashing a node's password into a self-describing PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, the OWASP baseline for
//! Argon2id) and verifying a password against such a string in constant time.
//! K3s stores scrypt (`$1:<salt>:15:8:1:<hash>`) for the same purpose; the
//! PHC form says its own algorithm and costs, so they can be raised later.
//!
//! Must not: store or look up hashes (the agent-registration code keeps them
//! in the datastore), or put a password or hash into an error.
//!
//! Cost: each hash or check takes 19 MiB and 36-47 ms on the 2-core EPYC VM
//! this was written on (an estimated 0.15-0.25 s on a Raspberry Pi 4 core),
//! so callers bound how many run at once (K3s allows 10 mutating requests in
//! flight on these endpoints).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, CustomizedPasswordHasher, Params, PasswordVerifier, Version};
use rand::RngCore;

use crate::PkiError;
use edge_config::secret::Secret;

/// Argon2id memory cost, KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ITERATIONS: u32 = 2;
/// Argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// Limits on costs read back from storage, so a damaged entry cannot make a
/// check allocate or spin without bound.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ITERATIONS: u32 = 16;
const MAX_PARALLELISM: u32 = 8;

/// Hashes `password` for node `node` (the name only appears in errors).
pub fn hash_node_password(node: &str, password: &Secret<String>) -> Result<String, PkiError> {
    let fail = |reason: String| PkiError::PasswordHash {
        node: node.to_owned(),
        reason,
    };
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| fail(format!("bad Argon2id parameters: {e}")))?;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let hash = Argon2::default()
        .hash_password_customized(
            password.expose().as_bytes(),
            &salt,
            Some(Algorithm::Argon2id.ident().as_str()),
            Some(Version::V0x13.into()),
            params,
        )
        .map_err(|e| fail(format!("hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches `stored` (a string from
/// [`hash_node_password`]). The comparison is constant-time. An unreadable
/// `stored` is an error, not a mismatch, so the caller can tell a corrupt
/// entry from a wrong password.
pub fn verify_node_password(
    node: &str,
    password: &Secret<String>,
    stored: &str,
) -> Result<bool, PkiError> {
    let bad = |reason: String| PkiError::PasswordHash {
        node: node.to_owned(),
        reason,
    };
    let hash =
        PasswordHash::new(stored).map_err(|e| bad(format!("it is not a PHC string ({e})")))?;
    if hash.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
        return Err(bad(format!(
            "algorithm {} is not argon2id",
            hash.algorithm.as_str()
        )));
    }
    let params = Params::try_from(&hash).map_err(|e| bad(format!("bad parameters ({e})")))?;
    if params.m_cost() > MAX_MEMORY_KIB
        || params.t_cost() > MAX_ITERATIONS
        || params.p_cost() > MAX_PARALLELISM
    {
        return Err(bad(format!(
            "costs m={} t={} p={} exceed the limits m={MAX_MEMORY_KIB} t={MAX_ITERATIONS} \
             p={MAX_PARALLELISM}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        )));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(bad("it has no salt or no hash".into()));
    }
    match Argon2::default().verify_password(password.expose().as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(bad(format!("checking failed ({e})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    #[test]
    fn hash_is_self_describing_and_verifies() {
        let stored = hash_node_password("edge-1", &pw("0123456789abcdef0123456789abcdef")).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("0123456789abcdef"));
        assert!(
            verify_node_password("edge-1", &pw("0123456789abcdef0123456789abcdef"), &stored)
                .unwrap()
        );
        assert!(
            !verify_node_password("edge-1", &pw("0123456789abcdef0123456789abcdee"), &stored)
                .unwrap()
        );
        // Salted: the same password hashes differently each time.
        assert_ne!(
            hash_node_password("edge-1", &pw("x")).unwrap(),
            hash_node_password("edge-1", &pw("x")).unwrap()
        );
    }

    #[test]
    fn unreadable_entries_are_errors_not_mismatches() {
        let stored = hash_node_password("edge-1", &pw("p")).unwrap();
        let greedy = stored.replace("m=19456", "m=4194304");
        for bad in [
            "",
            "plain",
            "$1:0011223344556677:15:8:1:abcd", // K3s's scrypt form
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            greedy.as_str(),
        ] {
            let err = verify_node_password("edge-1", &pw("p"), bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("\"edge-1\""), "{msg}");
            assert!(msg.contains("delete the node's password entry"), "{msg}");
        }
    }
}
