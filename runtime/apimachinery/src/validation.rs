//! Object validation that does not depend on a kind's semantics: names,
//! `generateName`, labels, annotations, and strict decoding into the typed
//! k8s-openapi structs (unknown fields, `fieldValidation`).
//!
//! Owns the Kubernetes name and label syntax rules and their error wording
//! (clients print the messages as they are), which kinds use which name
//! rule, and finding unknown fields. Must not do IO, keep state, or decide
//! defaults; the randomness for `generateName` comes from the caller.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::status::{ApiError, FieldError, GroupKind};

/// The longest DNS-1123 label (and label key name part, and label value).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// The longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// The longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// The total size of all annotation keys and values of one object.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// `generateName` prefixes are cut to this length before the random suffix.
pub const MAX_GENERATED_NAME_PREFIX: usize = 58;
/// The characters of a generated suffix (no vowels, no look-alikes).
pub const GENERATE_NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// How many random characters `generateName` appends.
pub const GENERATE_NAME_RANDOM_LENGTH: usize = 5;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `msg (e.g. 'a',  or 'b', regex used for validation is 're')`, spacing as Kubernetes has it.
fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{re}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(re);
    s.push_str("')");
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            is_lower_alnum(f)
                && is_lower_alnum(l)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(matches_dns1123_label)
}

fn matches_dns1035_label(s: &str) -> bool {
    matches_dns1123_label(s) && s.as_bytes().first().is_some_and(|b| b.is_ascii_lowercase())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Checks a DNS-1123 subdomain (most object names); returns the problems.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Checks a DNS-1123 label (namespace names); returns the problems.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Checks a DNS-1035 label (starts with a letter); returns the problems.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Checks that a name can be a URL path segment; returns the problems.
pub fn is_path_segment_name(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    is_path_segment_prefix(value)
}

/// Like [`is_path_segment_name`] for a prefix (a suffix may still follow).
pub fn is_path_segment_prefix(value: &str) -> Vec<String> {
    ["/", "%"]
        .iter()
        .filter(|bad| value.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Checks a label key (a "qualified name": optional DNS prefix, `/`, name).
pub fn is_label_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(DNS1123_LABEL_MAX_LENGTH)
        ));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Checks a label value (empty is allowed); returns the problems.
pub fn is_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// The syntax a kind's object names must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Most kinds: `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.…)*`, at most 253.
    Dns1123Subdomain,
    /// Namespaces and Services: one DNS label, at most 63.
    Dns1123Label,
    /// A DNS label that starts with a letter.
    Dns1035Label,
    /// Only what a URL path segment needs (no `/`, no `%`, not `.` or `..`).
    PathSegment,
}

impl NameRule {
    /// The rule for a served kind (by `kind`, e.g. `Namespace`).
    pub fn for_kind(kind: &str) -> NameRule {
        match kind {
            "Namespace" => NameRule::Dns1123Label,
            // Kubernetes relaxed Service names from DNS-1035 to DNS-1123 labels
            // (RelaxedServiceNameValidation).
            "Service" => NameRule::Dns1123Label,
            // core/v1 Events keep their legacy rules: only the path segment is checked.
            "Event" => NameRule::PathSegment,
            _ => NameRule::Dns1123Subdomain,
        }
    }

    /// The problems with `name`; `prefix` is true for a `generateName`, which
    /// may end in `-` since random characters follow.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            NameRule::PathSegment => {
                if prefix {
                    is_path_segment_prefix(name)
                } else {
                    is_path_segment_name(name)
                }
            }
            rule => {
                let masked;
                let name = if prefix && name.len() > 1 && name.ends_with('-') {
                    masked = format!("{}a", &name[..name.len() - 1]);
                    masked.as_str()
                } else {
                    name
                };
                match rule {
                    NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
                    NameRule::Dns1123Label => is_dns1123_label(name),
                    _ => is_dns1035_label(name),
                }
            }
        }
    }
}

/// `prefix` plus five random characters from Kubernetes' alphabet, the
/// prefix first cut to 58 bytes so the result fits a 63-byte label.
pub fn generate_name<R: rand::Rng + ?Sized>(prefix: &str, rng: &mut R) -> String {
    let mut cut = prefix.len().min(MAX_GENERATED_NAME_PREFIX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + GENERATE_NAME_RANDOM_LENGTH);
    name.push_str(&prefix[..cut]);
    for _ in 0..GENERATE_NAME_RANDOM_LENGTH {
        let i = rng.random_range(0..GENERATE_NAME_ALPHABET.len());
        name.push(char::from(GENERATE_NAME_ALPHABET[i]));
    }
    name
}

/// Validates `metadata.labels` (an object of strings).
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = labels.as_object() else {
        if !labels.is_null() {
            errs.push(FieldError::invalid(
                path,
                labels.clone(),
                "must be a map of strings",
            ));
        }
        return errs;
    };
    for (k, v) in map {
        for msg in is_label_key(k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        match v {
            Value::String(v) => {
                for msg in is_label_value(v) {
                    errs.push(FieldError::invalid(path, v.as_str(), msg));
                }
            }
            other => errs.push(FieldError::invalid(path, other.clone(), "must be a string")),
        }
    }
    errs
}

/// Validates `metadata.annotations`: keys are label keys (case-insensitive)
/// and all keys and values together stay within 256 KiB.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = annotations.as_object() else {
        if !annotations.is_null() {
            errs.push(FieldError::invalid(
                path,
                annotations.clone(),
                "must be a map of strings",
            ));
        }
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for msg in is_label_key(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len();
        match v {
            Value::String(v) => total += v.len(),
            other => errs.push(FieldError::invalid(path, other.clone(), "must be a string")),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// Validates an object's `metadata`: name (or generateName) by the kind's
/// rule, namespace presence, labels and annotations. Call it after a name
/// was generated from `generateName`.
pub fn validate_object_meta(kind: &str, namespaced: bool, object: &Value) -> Vec<FieldError> {
    let rule = NameRule::for_kind(kind);
    let meta = object.get("metadata").unwrap_or(&Value::Null);
    let text = |field: &str| meta.get(field).and_then(Value::as_str).unwrap_or("");
    let mut errs = Vec::new();

    let generate_name = text("generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                msg,
            ));
        }
    }
    let name = text("name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", name, msg));
        }
    }
    let namespace = text("namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid("metadata.namespace", namespace, msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(labels) = meta.get("labels") {
        errs.extend(validate_labels(labels, "metadata.labels"));
    }
    if let Some(annotations) = meta.get("annotations") {
        errs.extend(validate_annotations(annotations, "metadata.annotations"));
    }
    errs
}

/// Runs [`validate_object_meta`] and turns any problem into a 422 `Invalid`.
pub fn check_object_meta(
    group: &str,
    kind: &str,
    namespaced: bool,
    object: &Value,
) -> Result<(), ApiError> {
    let errs = validate_object_meta(kind, namespaced, object);
    if errs.is_empty() {
        return Ok(());
    }
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(GroupKind::new(group, kind), name, &errs))
}

/// What to do with unknown fields (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn, one `Warning` header per field (the default).
    #[default]
    Warn,
    /// Refuse the request with a 400.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; `options_kind` names the options in the
    /// error (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
    pub fn parse(value: Option<&str>, options_kind: &str) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(ApiError::invalid(
                GroupKind::new("meta.k8s.io", options_kind),
                "",
                &[FieldError::not_supported(
                    "fieldValidation",
                    other,
                    &["", "Ignore", "Strict", "Warn"],
                )],
            )),
        }
    }

    /// Applies the directive to the unknown field paths: the warnings to
    /// send (as [`warning_header_value`]s), or the 400 for `Strict`.
    pub fn check(self, unknown: &[String]) -> Result<Vec<String>, ApiError> {
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            FieldValidation::Ignore => Ok(Vec::new()),
            FieldValidation::Warn => Ok(unknown.iter().map(|f| unknown_field_message(f)).collect()),
            FieldValidation::Strict => Err(strict_decoding_error(unknown)),
        }
    }
}

/// `unknown field "spec.foo"`.
pub fn unknown_field_message(path: &str) -> String {
    format!("unknown field {}", crate::status::go_quote(path))
}

/// 400 `strict decoding error: unknown field "spec.foo", unknown field "x"`.
pub fn strict_decoding_error(unknown: &[String]) -> ApiError {
    let list: Vec<String> = unknown.iter().map(|f| unknown_field_message(f)).collect();
    ApiError::bad_request(format!("strict decoding error: {}", list.join(", ")))
}

/// Prefixes an error the way create and update report an undecodable body:
/// `ConfigMap in version "v1" cannot be handled as a ConfigMap: <message>`.
pub fn cannot_handle(kind: &str, version: &str, err: ApiError) -> ApiError {
    ApiError {
        message: format!(
            "{kind} in version {} cannot be handled as a {kind}: {}",
            crate::status::go_quote(version),
            err.message
        ),
        ..err
    }
}

/// The value of a `Warning` header carrying `text`: `299 - "text"`.
pub fn warning_header_value(text: &str) -> String {
    let mut out = String::from("299 - \"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Decodes `value` into the typed k8s-openapi struct `K` and returns the
/// paths of the input fields `K` does not know (`spec.foo`,
/// `spec.containers[0].imagee`), so the handler can apply
/// [`FieldValidation`]. Fields set to `null` are not unknown. A value of the
/// wrong type is a 400 naming the field's path.
pub fn decode_strict<K: DeserializeOwned + Serialize>(
    value: &Value,
) -> Result<(K, Vec<String>), ApiError> {
    let mut text = String::new();
    let mut spans = Vec::new();
    render(value, &mut String::new(), &mut text, &mut spans);
    let typed: K =
        serde_json::from_str(&text).map_err(|e| decode_error(value, &text, &e, &spans))?;
    let back = serde_json::to_value(&typed).map_err(ApiError::internal)?;
    let mut unknown = Vec::new();
    unknown_fields(value, &back, &mut String::new(), &mut unknown);
    Ok((typed, unknown))
}

/// One rendered value: its byte range in the text and its field path.
struct Span {
    start: usize,
    end: usize,
    path: String,
}

/// Writes `value` as compact JSON, recording where each value sits.
fn render(value: &Value, path: &mut String, out: &mut String, spans: &mut Vec<Span>) {
    let start = out.len();
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                render(v, path, out, spans);
                path.truncate(len);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                render(v, path, out, spans);
                path.truncate(len);
            }
            out.push(']');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
    spans.push(Span {
        start,
        end: out.len(),
        path: path.clone(),
    });
}

fn decode_error(value: &Value, text: &str, err: &serde_json::Error, spans: &[Span]) -> ApiError {
    let full = err.to_string();
    let message = match full.rsplit_once(" at line ") {
        Some((m, _)) => m.to_owned(),
        None => full,
    };
    // serde_json's column is the count of bytes read on the line, so the
    // error sits at the last byte read: inside a value that did not fit, or
    // on the `:` or `,` before a value rejected on sight (then the culprit is
    // the value that starts right after).
    let column = err.column();
    let last = column.saturating_sub(1);
    let offset = match text.as_bytes().get(last) {
        Some(b':' | b',') => column,
        _ => last,
    };
    let path = spans
        .iter()
        .filter(|s| s.start <= offset && offset < s.end)
        .min_by_key(|s| s.end - s.start)
        .map(|s| s.path.as_str())
        .unwrap_or("");
    let detail = if path.is_empty() {
        message
    } else {
        format!("{path}: {message}")
    };
    let kind = value.get("kind").and_then(Value::as_str);
    let api_version = value.get("apiVersion").and_then(Value::as_str);
    match (kind, api_version) {
        (Some(kind), Some(api_version)) if !kind.is_empty() => {
            let version = api_version.rsplit('/').next().unwrap_or(api_version);
            cannot_handle(kind, version, ApiError::bad_request(detail))
        }
        _ => ApiError::bad_request(format!("the object cannot be decoded: {detail}")),
    }
}

/// Collects input paths missing from the typed round trip.
fn unknown_fields(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(i), Value::Object(t)) => {
            for (k, v) in i {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match t.get(k) {
                    Some(tv) => unknown_fields(v, tv, path, out),
                    None if v.is_null() => {}
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(t)) => {
            for (n, (iv, tv)) in i.iter().zip(t).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{n}]"));
                unknown_fields(iv, tv, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use rand::SeedableRng;
    use serde_json::json;

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    #[test]
    fn subdomains() {
        for ok in ["a", "abc", "a-b", "a.b", "0", "a1.b2.c3", &"a".repeat(253)] {
            assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
        }
        for bad in ["", "A", "a_b", "-a", "a-", ".a", "a.", "a..b", "a.-b", "é"] {
            assert_eq!(
                is_dns1123_subdomain(bad),
                vec![SUBDOMAIN_MSG.to_owned()],
                "{bad}"
            );
        }
        assert_eq!(
            is_dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 bytes".to_owned()]
        );
    }

    #[test]
    fn labels() {
        for ok in ["a", "a-b", "0a", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_dns1123_label("a.b"),
            vec!["must not contain dots".to_owned()]
        );
        assert_eq!(is_dns1123_label("A"), vec![LABEL_MSG.to_owned()]);
        assert_eq!(is_dns1123_label(""), vec![LABEL_MSG.to_owned()]);
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 bytes".to_owned()]
        );
        assert!(is_dns1035_label("a1").is_empty());
        assert_eq!(is_dns1035_label("1a").len(), 1);
    }

    #[test]
    fn path_segments() {
        assert!(is_path_segment_name("Any Thing:at_all").is_empty());
        assert_eq!(
            is_path_segment_name(".."),
            vec!["may not be '..'".to_owned()]
        );
        assert_eq!(is_path_segment_name("."), vec!["may not be '.'".to_owned()]);
        assert_eq!(
            is_path_segment_name("a/b%c"),
            vec![
                "may not contain '/'".to_owned(),
                "may not contain '%'".to_owned()
            ]
        );
        assert!(is_path_segment_prefix("..").is_empty());
    }

    #[test]
    fn label_keys_and_values() {
        for ok in [
            "a",
            "A.b_c-d",
            "example.com/MyName",
            "k8s.io/x",
            "node-role.kubernetes.io/control-plane",
        ] {
            assert!(is_label_key(ok).is_empty(), "{ok}");
        }
        let name_msg = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        assert_eq!(is_label_key("-a"), vec![name_msg.to_owned()]);
        assert_eq!(
            is_label_key(""),
            vec![
                "name part must be non-empty".to_owned(),
                name_msg.to_owned()
            ]
        );
        assert_eq!(
            is_label_key("/a"),
            vec!["prefix part must be non-empty".to_owned()]
        );
        assert_eq!(
            is_label_key("A_B/a"),
            vec![format!("prefix part {SUBDOMAIN_MSG}")]
        );
        assert_eq!(is_label_key("a/b/c").len(), 1);
        assert!(is_label_key("a/b/c")[0].starts_with("a valid label key must consist of"));
        assert_eq!(
            is_label_key(&"a".repeat(64)),
            vec!["name part must be no more than 63 bytes".to_owned()]
        );

        for ok in ["", "a", "A_b.c-1", &"x".repeat(63)] {
            assert!(is_label_value(ok).is_empty(), "{ok}");
        }
        assert_eq!(is_label_value("-a").len(), 1);
        assert!(is_label_value("a b")[0].starts_with("a valid label must be an empty string"));
        assert_eq!(
            is_label_value(&"x".repeat(64)),
            vec!["must be no more than 63 bytes".to_owned()]
        );
    }

    #[test]
    fn name_rules_per_kind() {
        let cases = [
            ("ConfigMap", "c1", true),
            ("ConfigMap", "a.b", true),
            ("ConfigMap", "Bad_Name", false),
            ("Namespace", "a.b", false),
            ("Namespace", "kube-system", true),
            ("Service", "my-svc", true),
            ("Service", "a.b", false),
            ("Node", "node-1.example.com", true),
            ("Node", "Node1", false),
            ("Event", "Weird Name:1.17a", true),
            ("Event", "a/b", false),
            ("Lease", "kube-controller-manager", true),
        ];
        for (kind, name, ok) in cases {
            assert_eq!(
                NameRule::for_kind(kind).check(name, false).is_empty(),
                ok,
                "{kind} {name}"
            );
        }
        // A generateName may end in '-'.
        assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("-", true).is_empty());
    }

    #[test]
    fn generated_names() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = generate_name("web-", &mut rng);
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert!(n[4..].bytes().all(|b| GENERATE_NAME_ALPHABET.contains(&b)));
        assert!(is_dns1123_subdomain(&n).is_empty());
        let long = generate_name(&"x".repeat(100), &mut rng);
        assert_eq!(long.len(), 63);
        // Cutting never splits a character.
        let wide = generate_name(&"é".repeat(40), &mut rng);
        assert!(wide.len() <= 63);
        let mut a = rand::rngs::StdRng::seed_from_u64(1);
        let mut b = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(generate_name("p-", &mut a), generate_name("p-", &mut b));
    }

    #[test]
    fn object_meta() {
        let ok = json!({"metadata": {"name": "c1", "namespace": "default", "labels": {"app": "x"}, "annotations": {"Example.com/Note": "free text"}}});
        assert!(validate_object_meta("ConfigMap", true, &ok).is_empty());

        let bad = json!({"metadata": {"name": "Bad_Name", "namespace": "default"}});
        let err = check_object_meta("", "ConfigMap", true, &bad).err();
        let err = err.as_ref().map(|e| e.message.as_str());
        assert_eq!(
            err,
            Some(format!(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}"#).as_str())
        );

        let errs =
            validate_object_meta("Namespace", false, &json!({"metadata": {"namespace": "x"}}));
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "metadata.name: Required value: name or generateName is required".to_owned(),
                "metadata.namespace: Forbidden: not allowed on this type".to_owned(),
            ]
        );

        let errs = validate_object_meta("Pod", true, &json!({"metadata": {"name": "p"}}));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "metadata.namespace: Required value");

        let errs = validate_object_meta(
            "Pod",
            true,
            &json!({"metadata": {"name": "p", "namespace": "Default", "generateName": "Web-", "labels": {"a": "b c", "-x": "1", "n": 5}}}),
        );
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.generateName",
                "metadata.namespace",
                "metadata.labels",
                "metadata.labels",
                "metadata.labels"
            ]
        );

        let big = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let errs = validate_object_meta(
            "ConfigMap",
            true,
            &json!({"metadata": {"name": "c", "namespace": "d", "annotations": {"k": big}}}),
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );

        let errs = validate_object_meta(
            "ConfigMap",
            true,
            &json!({"metadata": {"name": "c", "namespace": "d", "labels": "x", "annotations": ["x"]}}),
        );
        assert_eq!(errs.len(), 2);
        assert!(validate_object_meta("ConfigMap", true, &json!("not an object")).len() == 2);
    }

    #[test]
    fn strict_decoding_finds_unknown_fields() {
        let input = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "labels": {"a": "b"}, "bogus": 1, "uid": null},
            "spec": {
                "containers": [
                    {"name": "c", "image": "nginx", "imagee": "x", "ports": [{"containerPort": 80, "hostPorts": 1}]},
                    {"name": "d", "image": "busybox", "env": [{"name": "A", "value": "1"}]}
                ],
                "foo": {"bar": 1},
                "nodeName": null
            },
            "extra": true
        });
        let (pod, unknown): (Pod, Vec<String>) = match decode_strict(&input) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(pod.metadata.name.as_deref(), Some("p"));
        let mut unknown = unknown;
        unknown.sort();
        assert_eq!(
            unknown,
            vec![
                "extra",
                "metadata.bogus",
                "spec.containers[0].imagee",
                "spec.containers[0].ports[0].hostPorts",
                "spec.foo",
            ]
        );

        let clean = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}, "binaryData": {"x": "AAEC"}});
        let (_, unknown): (ConfigMap, _) = match decode_strict(&clean) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert!(unknown.is_empty());
    }

    #[test]
    fn type_errors_name_the_field() {
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "ports": [{"containerPort": "eighty"}]}]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: spec.containers[0].ports[0].containerPort: invalid type: string \"eighty\", expected i32",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": ["x"]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: metadata.labels: invalid type: sequence, expected a map",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "creationTimestamp": "yesterday"}}),
                "Pod in version \"v1\" cannot be handled as a Pod: metadata.creationTimestamp: ",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}}),
                "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: kind: invalid value: string \"ConfigMap\", expected Pod",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": 5}]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: spec.containers[0].name: invalid type: integer `5`, expected a string",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c", "args": ["a", 5]}]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: spec.containers[0].args[1]: invalid type: integer `5`, expected a string",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "c"}}}),
                "Pod in version \"v1\" cannot be handled as a Pod: spec.containers: invalid type: map, expected a sequence",
            ),
            (
                json!(["not", "an", "object"]),
                "the object cannot be decoded: invalid type: sequence, expected Pod",
            ),
            (
                json!(null),
                "the object cannot be decoded: invalid type: null, expected Pod",
            ),
        ];
        for (input, want) in cases {
            let err = match decode_strict::<Pod>(&input) {
                Ok(_) => panic!("decoded {input}"),
                Err(e) => e,
            };
            assert_eq!(err.code, 400);
            assert!(
                err.message.starts_with(want),
                "{} does not start with {want}",
                err.message
            );
        }
    }

    #[test]
    fn field_validation_directives() {
        let unknown = vec!["spec.foo".to_owned(), "bar".to_owned()];
        assert_eq!(
            FieldValidation::parse(None, "CreateOptions").ok(),
            Some(FieldValidation::Warn)
        );
        assert_eq!(
            FieldValidation::parse(Some("Strict"), "CreateOptions").ok(),
            Some(FieldValidation::Strict)
        );
        assert_eq!(
            FieldValidation::parse(Some("Ignore"), "CreateOptions").ok(),
            Some(FieldValidation::Ignore)
        );
        let err = FieldValidation::parse(Some("strict"), "PatchOptions").err();
        assert_eq!(err.as_ref().map(|e| e.code), Some(422));
        assert_eq!(
            err.map(|e| e.message),
            Some(r#"PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#.to_owned())
        );

        assert_eq!(FieldValidation::Ignore.check(&unknown).ok(), Some(vec![]));
        assert_eq!(
            FieldValidation::Warn.check(&unknown).ok(),
            Some(vec![
                r#"unknown field "spec.foo""#.to_owned(),
                r#"unknown field "bar""#.to_owned()
            ])
        );
        let strict = FieldValidation::Strict.check(&unknown).err();
        assert_eq!(strict.as_ref().map(|e| e.code), Some(400));
        assert_eq!(
            strict.map(|e| e.message),
            Some(
                r#"strict decoding error: unknown field "spec.foo", unknown field "bar""#
                    .to_owned()
            )
        );
        assert_eq!(FieldValidation::Strict.check(&[]).ok(), Some(vec![]));
        assert_eq!(
            warning_header_value(r#"unknown field "spec.foo""#),
            r#"299 - "unknown field \"spec.foo\"""#
        );
        assert_eq!(
            cannot_handle(
                "ConfigMap",
                "v1",
                strict_decoding_error(&["foo".to_owned()])
            )
            .message,
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo""#
        );
    }
}
