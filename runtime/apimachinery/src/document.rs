//! A JSON document the API server computes once and serves many times:
//! the value, the exact bytes sent on the wire and a content hash of those
//! bytes (used in URLs and as the `ETag`).
//!
//! Owns the serialisation and hashing rule, so the hash always names the
//! bytes that are served. Must not know what the documents mean.

use serde_json::Value;
use sha2::{Digest, Sha512};

/// A serialised JSON document with its content hash.
#[derive(Debug, Clone)]
pub struct JsonDocument {
    value: Value,
    bytes: Vec<u8>,
    hash: String,
}

impl JsonDocument {
    /// Serialises `value` compactly and hashes the result.
    ///
    /// The hash is the upper-case hex SHA-512 of the bytes, the form
    /// kube-apiserver uses for OpenAPI v3 `?hash=` and `ETag` values.
    pub fn new(value: Value) -> Self {
        // `Value`'s Display is infallible and compact; object keys are sorted
        // (serde_json without `preserve_order`), so the bytes are stable.
        let bytes = value.to_string().into_bytes();
        let hash = hex::encode_upper(Sha512::digest(&bytes));
        Self { value, bytes, hash }
    }

    /// The document as a JSON value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The exact bytes to send as the response body.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Content hash of [`Self::bytes`], unquoted (for `?hash=`).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The `ETag` header value: the hash in double quotes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.hash)
    }

    /// Whether an `If-None-Match` header value names this document (so the
    /// handler may answer `304 Not Modified`).
    pub fn matches_if_none_match(&self, header: &str) -> bool {
        header
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_names_the_served_bytes() {
        let doc = JsonDocument::new(json!({"b": 1, "a": [true, null]}));
        assert_eq!(doc.bytes(), br#"{"a":[true,null],"b":1}"#);
        assert_eq!(doc.hash().len(), 128);
        assert!(
            doc.hash()
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(
            doc.hash(),
            hex::encode_upper(Sha512::digest(doc.bytes())).as_str()
        );
        assert_eq!(doc.etag(), format!("\"{}\"", doc.hash()));
    }

    #[test]
    fn if_none_match() {
        let doc = JsonDocument::new(json!({}));
        assert!(doc.matches_if_none_match(&doc.etag()));
        assert!(doc.matches_if_none_match(&format!("\"x\", W/{}", doc.etag())));
        assert!(doc.matches_if_none_match("*"));
        assert!(!doc.matches_if_none_match("\"other\""));
    }
}
