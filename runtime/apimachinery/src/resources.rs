//! The resource types the API server serves: one table every part of the
//! server reads (routing, discovery, OpenAPI, storage keys, tables, RBAC).
//! Most are stored objects with every verb; the self-reviews
//! (`SelfSubjectAccessReview`, `SelfSubjectReview`) are create-only and
//! answered from the request, never stored.
//!
//! Owns the list of kinds and their static properties. Must not hold
//! behaviour that differs per kind beyond data (function pointers to the
//! kind's schema are data).

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::status::{ApiError, GroupKind, GroupResource};

/// Decodes a body into a kind: the normalised object and its unknown field paths.
pub type DecodeFn = fn(&Value) -> Result<(Value, Vec<String>), ApiError>;

/// One served resource (a kind under a group/version).
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment: `configmaps`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Whether `<name>/status` is served.
    pub has_status: bool,
    /// The OpenAPI definition name: `io.k8s.api.core.v1.ConfigMap`.
    pub definition: &'static str,
    /// The `List` kind's definition name.
    pub list_definition: &'static str,
    /// Adds the kind's schema (and its dependencies) to a generator.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Decodes a request body through the kind's typed struct: the normalised
    /// object (unknown fields dropped) and the paths of the unknown fields.
    pub decode: DecodeFn,
    /// The storage key segment (`/registry/<segment>/…`), as Kubernetes
    /// names it; empty for a kind that is never stored.
    pub storage: &'static str,
    /// The verbs served on the collection and items.
    pub verbs: &'static [&'static str],
}

/// The verbs of a stored kind.
pub const STORED_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of a review: a create answered from the request.
pub const REVIEW_VERBS: &[&str] = &["create"];

impl ResourceType {
    /// `v1` or `coordination.k8s.io/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs served on the collection and items.
    pub fn verbs(&self) -> &'static [&'static str] {
        self.verbs
    }

    /// Whether objects of this kind live in the datastore (false for reviews).
    pub fn is_stored(&self) -> bool {
        !self.storage.is_empty()
    }
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn decode_as<T: DeserializeOwned + Serialize>(
    value: &Value,
) -> Result<(Value, Vec<String>), ApiError> {
    let (typed, unknown) = crate::validation::decode_strict::<T>(value)?;
    let normalised = serde_json::to_value(&typed).map_err(ApiError::internal)?;
    Ok((normalised, unknown))
}

macro_rules! resource {
    (
        $group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal,
        namespaced: $ns:literal, short: [$($short:literal),*], categories: [$($cat:literal),*],
        status: $status:literal, ty: $ty:ty, definition: $def:literal, storage: $storage:literal
    ) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            has_status: $status,
            definition: $def,
            list_definition: concat!($def, "List"),
            schema: schema_of::<$ty>,
            decode: decode_as::<$ty>,
            storage: $storage,
            verbs: STORED_VERBS,
        }
    };
}

/// A cluster-scoped, create-only kind answered from the request itself.
macro_rules! review {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal,
     ty: $ty:ty, definition: $def:literal) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: false,
            short_names: &[],
            categories: &[],
            has_status: false,
            definition: $def,
            list_definition: "",
            schema: schema_of::<$ty>,
            decode: decode_as::<$ty>,
            storage: "",
            verbs: REVIEW_VERBS,
        }
    };
}

use k8s_openapi::api::authentication::v1 as authentication;
use k8s_openapi::api::authorization::v1 as authorization;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;

/// Every served resource, core group first.
pub static RESOURCES: &[ResourceType] = &[
    resource!("", "v1", "Namespace", "namespaces", "namespace",
        namespaced: false, short: ["ns"], categories: [], status: true,
        ty: core::Namespace, definition: "io.k8s.api.core.v1.Namespace", storage: "namespaces"),
    resource!("", "v1", "Node", "nodes", "node",
        namespaced: false, short: ["no"], categories: [], status: true,
        ty: core::Node, definition: "io.k8s.api.core.v1.Node", storage: "minions"),
    resource!("", "v1", "Pod", "pods", "pod",
        namespaced: true, short: ["po"], categories: ["all"], status: true,
        ty: core::Pod, definition: "io.k8s.api.core.v1.Pod", storage: "pods"),
    resource!("", "v1", "Service", "services", "service",
        namespaced: true, short: ["svc"], categories: ["all"], status: true,
        ty: core::Service, definition: "io.k8s.api.core.v1.Service", storage: "services/specs"),
    resource!("", "v1", "Endpoints", "endpoints", "endpoints",
        namespaced: true, short: ["ep"], categories: [], status: false,
        ty: core::Endpoints, definition: "io.k8s.api.core.v1.Endpoints", storage: "services/endpoints"),
    resource!("", "v1", "ConfigMap", "configmaps", "configmap",
        namespaced: true, short: ["cm"], categories: [], status: false,
        ty: core::ConfigMap, definition: "io.k8s.api.core.v1.ConfigMap", storage: "configmaps"),
    resource!("", "v1", "Secret", "secrets", "secret",
        namespaced: true, short: [], categories: [], status: false,
        ty: core::Secret, definition: "io.k8s.api.core.v1.Secret", storage: "secrets"),
    resource!("", "v1", "Event", "events", "event",
        namespaced: true, short: ["ev"], categories: [], status: false,
        ty: core::Event, definition: "io.k8s.api.core.v1.Event", storage: "events"),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount",
        namespaced: true, short: ["sa"], categories: [], status: false,
        ty: core::ServiceAccount, definition: "io.k8s.api.core.v1.ServiceAccount", storage: "serviceaccounts"),
    resource!("coordination.k8s.io", "v1", "Lease", "leases", "lease",
        namespaced: true, short: [], categories: [], status: false,
        ty: coordination::Lease, definition: "io.k8s.api.coordination.v1.Lease", storage: "leases"),
    resource!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice",
        namespaced: true, short: [], categories: [], status: false,
        ty: discovery::EndpointSlice, definition: "io.k8s.api.discovery.v1.EndpointSlice", storage: "endpointslices"),
    review!("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
        "selfsubjectreview", ty: authentication::SelfSubjectReview,
        definition: "io.k8s.api.authentication.v1.SelfSubjectReview"),
    review!("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
        "selfsubjectaccessreview", ty: authorization::SelfSubjectAccessReview,
        definition: "io.k8s.api.authorization.v1.SelfSubjectAccessReview"),
];

/// The API groups served, in discovery order, each with its one version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES {
        if !out.iter().any(|(g, v)| *g == r.group && *v == r.version) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Finds a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by group and kind.
pub fn find_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// A served kind names itself in errors by its plural (`leases.coordination.k8s.io`).
impl<'a> From<&'a ResourceType> for GroupResource<'a> {
    fn from(r: &'a ResourceType) -> Self {
        GroupResource {
            group: r.group,
            resource: r.plural,
        }
    }
}

/// …and by its kind (`Lease.coordination.k8s.io`).
impl<'a> From<&'a ResourceType> for GroupKind<'a> {
    fn from(r: &'a ResourceType) -> Self {
        GroupKind {
            group: r.group,
            kind: r.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for r in RESOURCES {
            assert!(r.definition.ends_with(r.kind), "{}", r.kind);
            assert_eq!(
                find(r.group, r.version, r.plural).map(|f| f.kind),
                Some(r.kind)
            );
        }
        assert_eq!(groups()[0], ("", "v1"));
        assert_eq!(groups().len(), 5);
        for r in RESOURCES.iter().filter(|r| !r.is_stored()) {
            assert_eq!(r.verbs(), REVIEW_VERBS, "{}", r.kind);
            assert!(!r.namespaced && !r.has_status, "{}", r.kind);
        }
    }

    #[test]
    fn schemas_generate() {
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        for r in RESOURCES {
            let schema = (r.schema)(&mut generator);
            assert!(
                schema.as_object().is_some() || schema.as_bool().is_some(),
                "{}",
                r.kind
            );
        }
        assert!(generator.definitions().len() > 20);
    }

    #[test]
    fn resource_table_entries_name_themselves() {
        let lease = find("coordination.k8s.io", "v1", "leases").map(GroupResource::from);
        assert_eq!(
            lease.map(|g| g.to_string()),
            Some("leases.coordination.k8s.io".into())
        );
        let cm = find("", "v1", "configmaps").map(GroupKind::from);
        assert_eq!(cm.map(|g| g.to_string()), Some("ConfigMap".into()));
    }
}
