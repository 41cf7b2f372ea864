//! The site config (`--config site.yaml`): what every device of a site shares
//! (token, datastore, virtual IP, the flags servers must agree on). Checked
//! with the validator `edgectl config validate --site` and `edged init` run,
//! as the `Site` layer, before anything is downloaded or written.
//!
//! Owns turning the file into a [`Site`] or every located diagnostic. Must not
//! print, and must never put the file's secrets anywhere but the image's root
//! (the token and datastore password stay in `usr/lib/edge/site.yaml`, mode
//! 0600; only a hash of the file reaches the manifest).

use edge_config::tree::Layer;
use edge_config::validate::{Diagnostic, Input, load};
use sha2::{Digest, Sha256};

/// A site config that passed validation.
#[derive(Debug, Clone)]
pub struct Site {
    /// The file's bytes, as the operator wrote them.
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of the bytes: the manifest's config hash.
    pub sha256: String,
    /// The role, when the site config sets one (every device the same).
    pub role: Option<&'static str>,
    /// Warnings the validator had (the build goes on).
    pub warnings: Vec<Diagnostic>,
}

/// Checks a site config. `name` is how diagnostics name the file.
pub fn check(name: &str, bytes: Vec<u8>) -> Result<Site, Vec<Diagnostic>> {
    let loaded = load(&[Input::yaml(name, Layer::Site, bytes.clone())]);
    let errors: Vec<Diagnostic> = loaded.errors().cloned().collect();
    let warnings: Vec<Diagnostic> = loaded.warnings().cloned().collect();
    let config = match loaded.config {
        Some(c) if errors.is_empty() => c,
        _ => return Err(errors),
    };
    Ok(Site {
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes,
        role: config.file.role.as_ref().map(|r| r.get().as_str()),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_site_config_is_hashed_and_keeps_its_role() {
        let s = check(
            "site.yaml",
            b"role: server\ntoken: a-bare-secret-token\n".to_vec(),
        )
        .expect("valid");
        assert_eq!(s.role, Some("server"));
        assert_eq!(s.sha256.len(), 64);
    }

    #[test]
    fn every_error_is_located_and_no_secret_is_quoted() {
        let e = check(
            "site.yaml",
            b"role: server\ntoken: hunter2hunter2\nclustr-cidr: 10.0.0.0/8\nvip:\n  address: 10.0.0.300\n"
                .to_vec(),
        )
        .expect_err("invalid");
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(text.len() >= 2, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("site.yaml:3:1: clustr-cidr")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("site.yaml:5:12: vip.address")),
            "{text:?}"
        );
        assert!(text.iter().all(|t| !t.contains("hunter2")), "{text:?}");
    }
}
