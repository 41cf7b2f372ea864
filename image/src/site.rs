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

/// Checks a site config, with the `edge.*` arguments the image's kernel
/// command line will carry (the top layer, as `edged init` reads them).
/// `name` is how diagnostics name the file.
pub fn check(name: &str, bytes: Vec<u8>, kernel_args: &[String]) -> Result<Site, Vec<Diagnostic>> {
    let mut errors: Vec<Diagnostic> = kernel_args
        .iter()
        .filter(|a| a.is_empty() || a.contains(char::is_whitespace) || a.contains('"'))
        .map(|a| {
            Diagnostic::general(
                "kernel command line",
                format!("{a:?}: one argument per --kernel-arg, without spaces or quotes"),
            )
        })
        .collect();
    let mut inputs = vec![Input::yaml(name, Layer::Site, bytes.clone())];
    if !kernel_args.is_empty() {
        inputs.push(Input::cmdline(kernel_args.join(" ")));
    }
    let loaded = load(&inputs);
    errors.extend(loaded.errors().cloned());
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
            &[],
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
            &[],
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

    #[test]
    fn kernel_arguments_are_the_top_layer_and_checked_with_the_site() {
        let site = b"role: server\ntoken: a-bare-secret-token\n".to_vec();
        let s = check(
            "site.yaml",
            site.clone(),
            &[
                "edge.role=agent".into(),
                "edge.server=https://10.0.0.100:6443".into(),
            ],
        );
        assert!(s.is_ok(), "{s:?}");
        let e = check(
            "site.yaml",
            site,
            &["edge.vip.priority=900".into(), "a b".into()],
        )
        .expect_err("invalid");
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("kernel command line: \"a b\": one argument")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("vip.priority")), "{text:?}");
    }
}
