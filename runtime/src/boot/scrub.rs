//! Replacing the token in the operator's `edge.yaml` by its sha256 once the
//! token is safe on the data partition: the file side of
//! [`edge_config::scrub`], which owns the text edit and its checks.
//!
//! Owns rewriting the file atomically, and only when it still holds what was
//! parsed at boot. Must not log the token.

use std::path::Path;

use super::BootError;
use edge_config::scrub::{ScrubError, scrub_text};
use edge_config::token::Token;
use edge_config::tree::Node;

/// Scrubs the file in place, atomically: the new text is written beside it,
/// synced, and renamed over it. `text`/`tree` are what was parsed at boot;
/// the file must still hold exactly that (a BOM is kept).
pub fn scrub_file(path: &Path, text: &str, tree: &Node, token: &Token) -> Result<(), BootError> {
    let original = std::fs::read(path).map_err(|e| BootError::io("cannot read", path, e))?;
    let (bom, body) = match original.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (&original[..3], rest),
        None => (&original[..0], &original[..]),
    };
    if body != text.as_bytes() {
        return Err(BootError::Other(format!(
            "{}: {}",
            path.display(),
            ScrubError::Changed
        )));
    }
    let new = scrub_text(text, tree, token)
        .map_err(|e| BootError::Other(format!("{}: {e}", path.display())))?;
    let mut bytes = bom.to_vec();
    bytes.extend_from_slice(new.as_bytes());
    super::status::write_atomic(path, &bytes, None)
}
