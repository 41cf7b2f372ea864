//! API errors and their wire form, `metav1.Status`.
//!
//! Owns [`ApiError`] (HTTP code, `reason`, message, details), the
//! constructors that phrase messages the way the Kubernetes API server does
//! (clients such as kubectl print them verbatim, and some match on them),
//! the field-level validation errors ([`FieldError`]) that become the
//! `causes` of a 422 `Invalid`, and [`ApiError::to_status`].
//!
//! Must not do IO, know about HTTP frameworks, or decide which error a
//! request deserves: handlers pick the constructor, this module only shapes
//! it.

use std::fmt;

use http::StatusCode;
use serde_json::{Map, Value, json};

/// The machine-readable `reason` of a failed request (`metav1.StatusReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    BadRequest,
    Unauthorized,
    Forbidden,
    MethodNotAllowed,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    NotAcceptable,
    /// The resource is gone and no forwarding address is known.
    Gone,
    /// The requested content has expired (a resource version too old).
    Expired,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    /// The request did not complete in time (504).
    Timeout,
    /// The server could not complete the operation in time; retry (500).
    ServerTimeout,
}

impl Reason {
    /// The string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotFound => "NotFound",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Invalid => "Invalid",
            Reason::BadRequest => "BadRequest",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::Gone => "Gone",
            Reason::Expired => "Expired",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::InternalError => "InternalError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Timeout => "Timeout",
            Reason::ServerTimeout => "ServerTimeout",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource named the way error messages name it: `configmaps`, or
/// `leases.coordination.k8s.io` outside the core group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupResource<'a> {
    pub group: &'a str,
    /// The plural resource name.
    pub resource: &'a str,
}

impl<'a> GroupResource<'a> {
    pub fn new(group: &'a str, resource: &'a str) -> Self {
        GroupResource { group, resource }
    }
}

impl fmt::Display for GroupResource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A kind named the way `Invalid` messages name it: `ConfigMap`, or
/// `Lease.coordination.k8s.io` outside the core group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupKind<'a> {
    pub group: &'a str,
    pub kind: &'a str,
}

impl<'a> GroupKind<'a> {
    pub fn new(group: &'a str, kind: &'a str) -> Self {
        GroupKind { group, kind }
    }
}

impl fmt::Display for GroupKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// What kind of problem a [`FieldError`] reports (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
}

impl FieldErrorType {
    /// The cause type on the wire: `FieldValueInvalid`, …
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
            FieldErrorType::Internal => "InternalError",
        }
    }

    /// The human phrase that starts the message: `Invalid value`, …
    pub fn phrase(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::Internal => "Internal error",
        }
    }

    /// Whether the message shows the offending value.
    fn shows_value(self) -> bool {
        !matches!(
            self,
            FieldErrorType::Required
                | FieldErrorType::Forbidden
                | FieldErrorType::TooLong
                | FieldErrorType::Internal
        )
    }
}

/// One field-level validation error: `metadata.name: Invalid value: "x": …`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorType,
    /// The field path: `metadata.name`, `spec.containers[0].image`.
    pub field: String,
    /// The offending value, shown for the types that show one.
    pub value: Value,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: FieldErrorType,
        field: impl Into<String>,
        value: Value,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError::new(FieldErrorType::Invalid, field, value.into(), detail)
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError::new(FieldErrorType::Required, field, Value::Null, detail)
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError::new(FieldErrorType::Forbidden, field, Value::Null, detail)
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        FieldError::new(FieldErrorType::Duplicate, field, value.into(), "")
    }

    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        valid: &[&str],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(FieldErrorType::NotSupported, field, value.into(), detail)
    }

    /// `Too long: may not be more than N bytes`; the value is not shown.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        FieldError::new(
            FieldErrorType::TooLong,
            field,
            Value::Null,
            format!("may not be more than {max_bytes} bytes"),
        )
    }

    /// The message without the field path (the cause's `message`).
    pub fn body(&self) -> String {
        let mut s = self.kind.phrase().to_owned();
        if self.kind.shows_value() {
            s.push_str(": ");
            match &self.value {
                Value::String(v) => s.push_str(&go_quote(v)),
                Value::Null => s.push_str("null"),
                Value::Bool(_) | Value::Number(_) => s.push_str(&self.value.to_string()),
                other => s.push_str(&other.to_string()),
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cause {
    /// The cause type (`FieldValueInvalid`), empty when there is none.
    pub reason: String,
    pub message: String,
    /// The field path, empty when the cause is not about a field.
    pub field: String,
}

/// `details` of a Status: which object, and why, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    /// The resource (plural) for most errors, the kind for `Invalid`.
    pub kind: String,
    pub uid: String,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<i32>,
}

impl Details {
    fn for_resource(resource: GroupResource<'_>, name: &str) -> Self {
        Details {
            name: name.to_owned(),
            group: resource.group.to_owned(),
            kind: resource.resource.to_owned(),
            ..Details::default()
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.name.is_empty() {
            m.insert("name".into(), Value::String(self.name.clone()));
        }
        if !self.group.is_empty() {
            m.insert("group".into(), Value::String(self.group.clone()));
        }
        if !self.kind.is_empty() {
            m.insert("kind".into(), Value::String(self.kind.clone()));
        }
        if !self.uid.is_empty() {
            m.insert("uid".into(), Value::String(self.uid.clone()));
        }
        if !self.causes.is_empty() {
            let causes = self
                .causes
                .iter()
                .map(|c| {
                    let mut cm = Map::new();
                    if !c.reason.is_empty() {
                        cm.insert("reason".into(), Value::String(c.reason.clone()));
                    }
                    if !c.message.is_empty() {
                        cm.insert("message".into(), Value::String(c.message.clone()));
                    }
                    if !c.field.is_empty() {
                        cm.insert("field".into(), Value::String(c.field.clone()));
                    }
                    Value::Object(cm)
                })
                .collect();
            m.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = self.retry_after_seconds.filter(|s| *s != 0) {
            m.insert("retryAfterSeconds".into(), Value::from(secs));
        }
        Value::Object(m)
    }
}

/// A failed API request: what the client gets back as a `metav1.Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status code.
    pub code: u16,
    pub reason: Reason,
    pub message: String,
    pub details: Option<Box<Details>>,
}

fn boxed(details: Details) -> Option<Box<Details>> {
    Some(Box::new(details))
}

impl ApiError {
    fn plain(code: u16, reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// `configmaps "c1" not found` (404).
    pub fn not_found(resource: GroupResource<'_>, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: Reason::NotFound,
            message: format!("{resource} {} not found", go_quote(name)),
            details: boxed(Details::for_resource(resource, name)),
        }
    }

    /// `namespaces "x" already exists` (409).
    pub fn already_exists(resource: GroupResource<'_>, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: Reason::AlreadyExists,
            message: format!("{resource} {} already exists", go_quote(name)),
            details: boxed(Details::for_resource(resource, name)),
        }
    }

    /// A name made from `generateName` collided with an existing object (409).
    pub fn generate_name_conflict(
        resource: GroupResource<'_>,
        name: &str,
        retry_after_seconds: i32,
    ) -> Self {
        let mut details = Details::for_resource(resource, name);
        details.retry_after_seconds = Some(retry_after_seconds);
        ApiError {
            code: 409,
            reason: Reason::AlreadyExists,
            message: format!(
                "{resource} {} already exists, the server was not able to generate a unique name for the object",
                go_quote(name)
            ),
            details: boxed(details),
        }
    }

    /// `Operation cannot be fulfilled on configmaps "c1": <why>` (409).
    pub fn conflict(resource: GroupResource<'_>, name: &str, why: &str) -> Self {
        ApiError {
            code: 409,
            reason: Reason::Conflict,
            message: format!(
                "Operation cannot be fulfilled on {resource} {}: {why}",
                go_quote(name)
            ),
            details: boxed(Details::for_resource(resource, name)),
        }
    }

    /// The optimistic-concurrency failure: the object's resourceVersion moved.
    pub fn conflict_modified(resource: GroupResource<'_>, name: &str) -> Self {
        ApiError::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `ConfigMap "x" is invalid: <field errors>` (422) with one cause per field error.
    pub fn invalid(kind: GroupKind<'_>, name: &str, errors: &[FieldError]) -> Self {
        // Like the apiserver's aggregate: duplicates once, one error bare, several in brackets.
        let mut messages: Vec<String> = Vec::new();
        for e in errors {
            let m = e.to_string();
            if !messages.contains(&m) {
                messages.push(m);
            }
        }
        let message = match messages.len() {
            0 => format!("{kind} {} is invalid", go_quote(name)),
            1 => format!("{kind} {} is invalid: {}", go_quote(name), messages[0]),
            _ => format!(
                "{kind} {} is invalid: [{}]",
                go_quote(name),
                messages.join(", ")
            ),
        };
        let causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.kind.cause_type().to_owned(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        ApiError {
            code: 422,
            reason: Reason::Invalid,
            message,
            details: boxed(Details {
                name: name.to_owned(),
                group: kind.group.to_owned(),
                kind: kind.kind.to_owned(),
                causes,
                ..Details::default()
            }),
        }
    }

    /// A 422 `Invalid` without an object (a patch that cannot be applied).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::plain(422, Reason::Invalid, message)
    }

    /// A malformed request (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::plain(400, Reason::BadRequest, message)
    }

    /// No or wrong credentials (401); an empty message becomes `not authorized`.
    pub fn unauthorized(message: &str) -> Self {
        let message = if message.is_empty() {
            "not authorized"
        } else {
            message
        };
        ApiError::plain(401, Reason::Unauthorized, message)
    }

    /// `configmaps "c1" is forbidden: <why>` (403); `name` may be empty.
    pub fn forbidden(resource: GroupResource<'_>, name: &str, why: &str) -> Self {
        let message = if resource.resource.is_empty() && resource.group.is_empty() {
            format!("forbidden: {why}")
        } else if name.is_empty() {
            format!("{resource} is forbidden: {why}")
        } else {
            format!("{resource} {} is forbidden: {why}", go_quote(name))
        };
        ApiError {
            code: 403,
            reason: Reason::Forbidden,
            message,
            details: boxed(Details::for_resource(resource, name)),
        }
    }

    /// `<action> is not supported on resources of kind "configmaps"` (405).
    pub fn method_not_supported(resource: GroupResource<'_>, action: &str) -> Self {
        ApiError {
            code: 405,
            reason: Reason::MethodNotAllowed,
            message: format!(
                "{action} is not supported on resources of kind {}",
                go_quote(&resource.to_string())
            ),
            details: boxed(Details::for_resource(resource, "")),
        }
    }

    /// `Request entity too large: <what>` (413).
    pub fn request_entity_too_large(what: &str) -> Self {
        ApiError::plain(
            413,
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: {what}"),
        )
    }

    /// The request body's Content-Type is not one the endpoint reads (415).
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        ApiError::plain(
            415,
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// None of the types in the Accept header can be produced (406).
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        ApiError::plain(
            406,
            Reason::NotAcceptable,
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 `Gone`.
    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::plain(410, Reason::Gone, message)
    }

    /// 410 `Expired`: e.g. `too old resource version: 5 (120)`.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::plain(410, Reason::Expired, message)
    }

    /// `Too many requests: <why>` (429), with a retry hint.
    pub fn too_many_requests(why: &str, retry_after_seconds: i32) -> Self {
        ApiError {
            code: 429,
            reason: Reason::TooManyRequests,
            message: format!("Too many requests: {why}"),
            details: boxed(Details {
                retry_after_seconds: Some(retry_after_seconds),
                ..Details::default()
            }),
        }
    }

    /// `Internal error occurred: <err>` (500), the error repeated as the cause.
    pub fn internal(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError {
            code: 500,
            reason: Reason::InternalError,
            message: format!("Internal error occurred: {err}"),
            details: boxed(Details {
                causes: vec![Cause {
                    message: err,
                    ..Cause::default()
                }],
                ..Details::default()
            }),
        }
    }

    /// 503 `ServiceUnavailable`.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        ApiError::plain(503, Reason::ServiceUnavailable, message)
    }

    /// `Timeout: <what>` (504), with a retry hint.
    pub fn timeout(what: &str, retry_after_seconds: i32) -> Self {
        ApiError {
            code: 504,
            reason: Reason::Timeout,
            message: format!("Timeout: {what}"),
            details: boxed(Details {
                retry_after_seconds: Some(retry_after_seconds),
                ..Details::default()
            }),
        }
    }

    /// The operation could not finish in time on the server's side (500 `ServerTimeout`).
    pub fn server_timeout(
        resource: GroupResource<'_>,
        operation: &str,
        retry_after_seconds: i32,
    ) -> Self {
        let mut details = Details::for_resource(resource, operation);
        details.retry_after_seconds = Some(retry_after_seconds);
        ApiError {
            code: 500,
            reason: Reason::ServerTimeout,
            message: format!(
                "The {operation} operation against {resource} could not be completed at this time, please try again."
            ),
            details: boxed(details),
        }
    }

    /// The HTTP status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        if !self.message.is_empty() {
            m.insert("message".into(), Value::String(self.message.clone()));
        }
        m.insert(
            "reason".into(),
            Value::String(self.reason.as_str().to_owned()),
        );
        if let Some(details) = &self.details {
            m.insert("details".into(), details.to_json());
        }
        m.insert("code".into(), Value::from(self.code));
        Value::Object(m)
    }
}

/// Quotes a string the way Go's `%q` does for the characters names and
/// messages contain: backslash escapes for `"`, `\` and control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm() -> GroupResource<'static> {
        GroupResource::new("", "configmaps")
    }

    #[test]
    fn messages_are_phrased_like_the_apiserver() {
        let cases: Vec<(ApiError, u16, &str, &str)> = vec![
            (
                ApiError::not_found(cm(), "c1"),
                404,
                "NotFound",
                r#"configmaps "c1" not found"#,
            ),
            (
                ApiError::already_exists(GroupResource::new("", "namespaces"), "x"),
                409,
                "AlreadyExists",
                r#"namespaces "x" already exists"#,
            ),
            (
                ApiError::conflict_modified(cm(), "c1"),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
            (
                ApiError::not_found(GroupResource::new("coordination.k8s.io", "leases"), "l"),
                404,
                "NotFound",
                r#"leases.coordination.k8s.io "l" not found"#,
            ),
            (ApiError::bad_request("bad"), 400, "BadRequest", "bad"),
            (
                ApiError::unauthorized(""),
                401,
                "Unauthorized",
                "not authorized",
            ),
            (
                ApiError::forbidden(
                    GroupResource::new("", "pods"),
                    "",
                    "User \"u\" cannot list resource \"pods\"",
                ),
                403,
                "Forbidden",
                r#"pods is forbidden: User "u" cannot list resource "pods""#,
            ),
            (
                ApiError::forbidden(GroupResource::new("", "pods"), "p", "no"),
                403,
                "Forbidden",
                r#"pods "p" is forbidden: no"#,
            ),
            (
                ApiError::forbidden(GroupResource::new("", ""), "", "no"),
                403,
                "Forbidden",
                "forbidden: no",
            ),
            (
                ApiError::method_not_supported(
                    GroupResource::new("", "events"),
                    "deletecollection",
                ),
                405,
                "MethodNotAllowed",
                r#"deletecollection is not supported on resources of kind "events""#,
            ),
            (
                ApiError::request_entity_too_large("limit is 3145728"),
                413,
                "RequestEntityTooLarge",
                "Request entity too large: limit is 3145728",
            ),
            (
                ApiError::unsupported_media_type(&["application/json"]),
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json",
            ),
            (
                ApiError::not_acceptable(&["application/json"]),
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json",
            ),
            (ApiError::gone("gone"), 410, "Gone", "gone"),
            (
                ApiError::expired("too old resource version: 1 (5)"),
                410,
                "Expired",
                "too old resource version: 1 (5)",
            ),
            (
                ApiError::too_many_requests("slow down", 1),
                429,
                "TooManyRequests",
                "Too many requests: slow down",
            ),
            (
                ApiError::internal("disk on fire"),
                500,
                "InternalError",
                "Internal error occurred: disk on fire",
            ),
            (
                ApiError::service_unavailable("starting"),
                503,
                "ServiceUnavailable",
                "starting",
            ),
            (
                ApiError::timeout("request did not complete within 60s", 2),
                504,
                "Timeout",
                "Timeout: request did not complete within 60s",
            ),
            (
                ApiError::server_timeout(cm(), "create", 2),
                500,
                "ServerTimeout",
                "The create operation against configmaps could not be completed at this time, please try again.",
            ),
            (
                ApiError::generate_name_conflict(cm(), "c-abcde", 1),
                409,
                "AlreadyExists",
                r#"configmaps "c-abcde" already exists, the server was not able to generate a unique name for the object"#,
            ),
        ];
        for (err, code, reason, message) in cases {
            assert_eq!(err.code, code, "{message}");
            assert_eq!(err.reason.as_str(), reason, "{message}");
            assert_eq!(err.message, message);
            assert_eq!(err.to_string(), message);
            assert_eq!(err.status_code().as_u16(), code);
            let status = err.to_status();
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["apiVersion"], "v1");
            assert_eq!(status["metadata"], json!({}));
            assert_eq!(status["status"], "Failure");
            assert_eq!(status["reason"], reason);
            assert_eq!(status["code"], code);
            assert_eq!(status["message"], message);
        }
    }

    #[test]
    fn not_found_status_matches_the_wire() {
        let status = ApiError::not_found(cm(), "c1").to_status();
        assert_eq!(
            status,
            json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "configmaps \"c1\" not found",
                "reason": "NotFound",
                "details": {"name": "c1", "kind": "configmaps"},
                "code": 404
            })
        );
        let lease = ApiError::not_found(GroupResource::new("coordination.k8s.io", "leases"), "l")
            .to_status();
        assert_eq!(
            lease["details"],
            json!({"name": "l", "group": "coordination.k8s.io", "kind": "leases"})
        );
    }

    #[test]
    fn invalid_carries_causes_with_field_paths() {
        let one = ApiError::invalid(
            GroupKind::new("", "ConfigMap"),
            "Bad_Name",
            &[FieldError::invalid(
                "metadata.name",
                "Bad_Name",
                "a lowercase RFC 1123 subdomain must consist of …",
            )],
        );
        assert_eq!(one.code, 422);
        assert_eq!(
            one.message,
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of …"#
        );
        let status = one.to_status();
        assert_eq!(
            status["details"],
            json!({
                "name": "Bad_Name",
                "kind": "ConfigMap",
                "causes": [{
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of …",
                    "field": "metadata.name"
                }]
            })
        );

        let two = ApiError::invalid(
            GroupKind::new("coordination.k8s.io", "Lease"),
            "l",
            &[
                FieldError::required("metadata.name", "name or generateName is required"),
                FieldError::forbidden("metadata.namespace", "not allowed on this type"),
                FieldError::forbidden("metadata.namespace", "not allowed on this type"),
            ],
        );
        assert_eq!(
            two.message,
            r#"Lease.coordination.k8s.io "l" is invalid: [metadata.name: Required value: name or generateName is required, metadata.namespace: Forbidden: not allowed on this type]"#
        );
        assert_eq!(
            two.to_status()["details"]["causes"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
        assert_eq!(two.to_status()["details"]["group"], "coordination.k8s.io");

        let none = ApiError::invalid(GroupKind::new("", "Pod"), "p", &[]);
        assert_eq!(none.message, r#"Pod "p" is invalid"#);
    }

    #[test]
    fn field_error_bodies() {
        let cases = [
            (
                FieldError::invalid("a", 5, "too big"),
                "a: Invalid value: 5: too big",
            ),
            (FieldError::invalid("a", true, ""), "a: Invalid value: true"),
            (
                FieldError::invalid("a", Value::Null, "x"),
                "a: Invalid value: null: x",
            ),
            (
                FieldError::invalid("a", json!(["x"]), "x"),
                r#"a: Invalid value: ["x"]: x"#,
            ),
            (FieldError::required("a", ""), "a: Required value"),
            (
                FieldError::duplicate("a", "x"),
                r#"a: Duplicate value: "x""#,
            ),
            (
                FieldError::not_supported("spec.type", "Foo", &["ClusterIP", "NodePort"]),
                r#"spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "NodePort""#,
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::invalid("a", "q\"\n", ""),
                r#"a: Invalid value: "q\"\n""#,
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn internal_and_retry_details() {
        let s = ApiError::internal("boom").to_status();
        assert_eq!(s["details"], json!({"causes": [{"message": "boom"}]}));
        let s = ApiError::too_many_requests("x", 3).to_status();
        assert_eq!(s["details"], json!({"retryAfterSeconds": 3}));
        let s = ApiError::bad_request("x").to_status();
        assert!(s.get("details").is_none());
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a"), "\"a\"");
        assert_eq!(go_quote("a\\b\u{1}"), "\"a\\\\b\\x01\"");
    }
}
