//! Node password hashes: how a server remembers which device owns a node name.
//!
//! Owns: hashing a node's password into a self-describing PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, the OWASP baseline for
//! Argon2id) and verifying a password against such a string in constant time.
//! K3s stores scrypt (`$1:<salt>:15:8:1:<hash>`) for the same purpose; the
//! PHC form says its own algorithm and costs, so they can be raised later.
//!
//! [`Workspace`] keeps Argon2id's working memory between hashes: a server
//! that checks many passwords on a few threads allocates it once per thread
//! (a fresh 19 MiB buffer per hash made glibc raise its mmap threshold and
//! keep every buffer in per-thread arenas: 360 MiB after 100 joins).
//!
//! Must not: store or look up hashes (the agent-registration code keeps them
//! in the datastore), or put a password or hash into an error.
//!
//! Cost: each hash or check takes 19 MiB and 36-47 ms on the 2-core EPYC VM
//! this was written on (an estimated 0.15-0.25 s on a Raspberry Pi 4 core),
//! so callers bound how many run at once (K3s allows 10 mutating requests in
//! flight on these endpoints).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
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

/// Argon2id working memory, reused from one hash to the next.
#[derive(Default)]
pub struct Workspace(Vec<Block>);

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workspace({} blocks)", self.0.len())
    }
}

impl Workspace {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let n = params.block_count();
        if self.0.len() < n {
            self.0.resize(n, Block::default());
        }
        &mut self.0[..n]
    }
}

/// Hashes `password` for node `node` (the name only appears in errors).
pub fn hash_node_password(node: &str, password: &Secret<String>) -> Result<String, PkiError> {
    hash_node_password_in(&mut Workspace::default(), node, password)
}

/// [`hash_node_password`] in `workspace`.
pub fn hash_node_password_in(
    workspace: &mut Workspace,
    node: &str,
    password: &Secret<String>,
) -> Result<String, PkiError> {
    let fail = |reason: String| PkiError::PasswordHash {
        node: node.to_owned(),
        reason,
    };
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| fail(format!("bad Argon2id parameters: {e}")))?;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            &salt,
            &mut out,
            workspace.blocks(&params),
        )
        .map_err(|e| fail(format!("hashing failed: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        B64.encode(salt),
        B64.encode(out)
    ))
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
    verify_node_password_in(&mut Workspace::default(), node, password, stored)
}

/// [`verify_node_password`] in `workspace`.
pub fn verify_node_password_in(
    workspace: &mut Workspace,
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
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(bad("it has no salt or no hash".into()));
    };
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            salt.as_ref(),
            &mut out,
            workspace.blocks(&params),
        )
        .map_err(|e| bad(format!("checking failed ({e})")))?;
    Ok(out
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0)
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
    fn a_workspace_is_reused_and_gives_the_same_answers() {
        let mut ws = Workspace::default();
        let stored = hash_node_password_in(&mut ws, "edge-1", &pw("p")).unwrap();
        assert!(verify_node_password("edge-1", &pw("p"), &stored).unwrap());
        assert!(verify_node_password_in(&mut ws, "edge-1", &pw("p"), &stored).unwrap());
        assert!(!verify_node_password_in(&mut ws, "edge-1", &pw("q"), &stored).unwrap());
        assert_eq!(ws.0.len(), MEMORY_KIB as usize, "one allocation, kept");
        // The string is a standard PHC hash: the argon2 crate's own verifier agrees.
        use argon2::PasswordVerifier as _;
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default().verify_password(b"p", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"q", &parsed).is_err());
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
