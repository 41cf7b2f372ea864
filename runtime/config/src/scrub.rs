//! Replacing the token in the operator's `edge.yaml` by its sha256 once the
//! token is safe on the data partition, changing nothing else in the file.
//!
//! Owns the text edit and its checks. The edit is refused unless the result
//! parses, says `token-sha256: <hash>`, has no `token` key, and no longer
//! contains the token anywhere (an anchor could have copied it). Must not do
//! IO (`edged init` writes the file) or log the token.

use crate::token::Token;
use crate::tree::{self, Layer, Node, Source};

/// Why the token could not be scrubbed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrubError {
    #[error("edge.yaml has no `token:` key to replace")]
    NoToken,
    #[error("the parser gave no position for `token:`")]
    NoPosition,
    #[error("the file changed since it was read")]
    Changed,
    #[error("the edited file would not be right ({0}); left unchanged")]
    Check(String),
}

/// The new text: `token: VALUE` (key through value, wherever it is: block
/// or flow mapping, quoted or not) becomes `token-sha256: HASH`. Every other
/// byte is kept, so comments, order and line endings survive.
pub fn scrub_text(text: &str, tree: &Node, token: &Token) -> Result<String, ScrubError> {
    let entry = tree.find(&["token"]).ok_or(ScrubError::NoToken)?;
    let (start, _) = entry.key_loc.bytes.ok_or(ScrubError::NoPosition)?;
    let (_, mut end) = entry.value.loc.bytes.ok_or(ScrubError::NoPosition)?;
    // A block scalar's span ends after its line break: keep the break.
    while end > start
        && text
            .as_bytes()
            .get(end - 1)
            .is_some_and(|b| b"\r\n ".contains(b))
    {
        end -= 1;
    }
    let head = text.get(..start).ok_or(ScrubError::NoPosition)?;
    let tail = text.get(end..).ok_or(ScrubError::NoPosition)?;
    let hash = token.sha256();
    let out = format!("{head}token-sha256: {hash}{tail}");
    check(&out, token, &hash)?;
    Ok(out)
}

fn check(out: &str, token: &Token, hash: &str) -> Result<(), ScrubError> {
    let source = Source::new("edge.yaml", Layer::Device);
    let t = tree::parse_yaml(out, &source).map_err(|e| ScrubError::Check(e.message))?;
    if t.find(&["token"]).is_some() {
        return Err(ScrubError::Check("a token key remains".into()));
    }
    if t.find(&["token-sha256"]).and_then(|e| e.value.text()) != Some(hash) {
        return Err(ScrubError::Check("token-sha256 did not come out".into()));
    }
    if out.contains(token.as_written().expose().as_str()) {
        return Err(ScrubError::Check(
            "the token still appears in the file (an anchor or a comment?)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> Result<String, ScrubError> {
        let s = Source::new("edge.yaml", Layer::Device);
        let t = tree::parse_yaml(text, &s).expect("parses");
        let v = t
            .find(&["token"])
            .and_then(|e| e.value.text())
            .unwrap_or("site-secret-token-0123")
            .to_owned();
        scrub_text(text, &t, &Token::parse_trimmed(&v).expect("token"))
    }

    const HASH: &str = "token-sha256: ";

    #[test]
    fn only_the_token_line_changes() {
        let text = "# site edge-a\r\nrole: server   # the role\r\ntoken: site-secret-token-0123  # keep me\r\nhostname: edge-a\r\n";
        let out = scrub(text).expect("scrubbed");
        let before: Vec<&str> = text.split("\r\n").collect();
        let after: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(before.len(), after.len());
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if i == 2 {
                assert!(a.starts_with(HASH) && a.ends_with("  # keep me"), "{a}");
                assert!(!a.contains("site-secret"));
            } else {
                assert_eq!(b, a);
            }
        }
    }

    #[test]
    fn quoted_flow_and_block_forms() {
        let out = scrub("role: agent\ntoken: \"site-secret-token-0123\"\nserver: https://x:6443\n")
            .expect("quoted");
        assert!(
            out.contains("\ntoken-sha256: ") && out.ends_with("\nserver: https://x:6443\n"),
            "{out}"
        );
        let out =
            scrub("{role: agent, token: site-secret-token-0123, server: \"https://x:6443\"}\n")
                .expect("flow");
        assert!(
            out.starts_with("{role: agent, token-sha256: ")
                && out.ends_with(", server: \"https://x:6443\"}\n"),
            "{out}"
        );
        let out = scrub("token: >-\n  site-secret-token-0123\nrole: agent\n").expect("block");
        assert!(
            out.ends_with("\nrole: agent\n") && !out.contains("site-secret"),
            "{out}"
        );
    }

    #[test]
    fn refuses_what_it_cannot_scrub_completely() {
        // The token also sits in a comment: the edit would leave it there.
        let e = scrub("# old token: site-secret-token-0123\ntoken: site-secret-token-0123\n")
            .expect_err("comment");
        assert!(matches!(e, ScrubError::Check(_)), "{e}");
        assert_eq!(
            scrub("role: server\n").expect_err("none"),
            ScrubError::NoToken
        );
    }
}
