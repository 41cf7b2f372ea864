//! OpenAPI v3 documents computed from the resource table: the `/openapi/v3`
//! index and one document per served group/version (`api/v1`,
//! `apis/coordination.k8s.io/v1`, ...), shaped like kube-apiserver's so that
//! kubectl's `apply` (server-side field validation detection, strategic merge
//! patch metadata) and `explain` work unchanged.
//!
//! Owns the paths, operations, parameters and the fix-ups applied to the
//! `k8s-openapi` schemas. Must not do IO or routing: handlers call
//! [`v3_index`] and [`v3_document`], which build every document once, on
//! first use.
//!
//! `/openapi/v2` is deliberately not served (answer 404): kubectl reads v3
//! first and treats a missing v2 document as "no v2 schema", falling back to
//! its compiled-in types where it would have used one.
//!
//! What kubectl relies on, and where it is made here:
//! - every operation carries `x-kubernetes-group-version-kind` (one object)
//!   and `x-kubernetes-action`; kubectl finds a kind's document through them;
//! - the `patch` operation of a kind lists a `fieldValidation` query
//!   parameter: that is how kubectl decides to send `fieldValidation=Strict`
//!   instead of validating client-side (which needs `/openapi/v2`);
//! - the patch request body lists `application/strategic-merge-patch+json`,
//!   so `kubectl apply` computes strategic merge patches from these schemas,
//!   which therefore carry `x-kubernetes-patch-strategy` and
//!   `x-kubernetes-patch-merge-key` ([`PATCH_META`]);
//! - `components.schemas` entries of kinds carry
//!   `x-kubernetes-group-version-kind` as a list, which `kubectl explain` and
//!   the patch code search for.

use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::discovery::GIT_VERSION;
use crate::document::JsonDocument;
use crate::resources::{self, RESOURCES, ResourceType};

/// `Content-Type` of the index and of every document (only JSON is served;
/// a client accepting only protobuf gets 406).
pub const CONTENT_TYPE: &str = "application/json";

const GVK: &str = "x-kubernetes-group-version-kind";
const ACTION: &str = "x-kubernetes-action";
const PATCH_STRATEGY: &str = "x-kubernetes-patch-strategy";
const PATCH_MERGE_KEY: &str = "x-kubernetes-patch-merge-key";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// Content types a patch request body may have.
pub const PATCH_CONTENT_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// Strategic-merge-patch metadata of the list fields in the served kinds'
/// closure: `(definition, property, x-kubernetes-patch-strategy,
/// x-kubernetes-patch-merge-key)`. These are the `patchStrategy` /
/// `patchMergeKey` struct tags of the Kubernetes API types, which
/// `k8s-openapi`'s schemas do not carry. Without them kubectl would treat
/// these lists as atomic and `apply` could not remove one element (an env
/// var, a container) from a list it manages.
#[rustfmt::skip]
const PATCH_META: &[(&str, &str, &str, Option<&str>)] = &[
    (OBJECT_META, "finalizers", "merge", None),
    (OBJECT_META, "ownerReferences", "merge", Some("uid")),
    (POD_SPEC, "containers", "merge", Some("name")),
    (POD_SPEC, "initContainers", "merge", Some("name")),
    (POD_SPEC, "ephemeralContainers", "merge", Some("name")),
    (POD_SPEC, "imagePullSecrets", "merge", Some("name")),
    (POD_SPEC, "schedulingGates", "merge", Some("name")),
    (POD_SPEC, "evictionResponders", "merge", Some("name")),
    (POD_SPEC, "hostAliases", "merge", Some("ip")),
    (POD_SPEC, "topologySpreadConstraints", "merge", Some("topologyKey")),
    (POD_SPEC, "volumes", "merge,retainKeys", Some("name")),
    (POD_SPEC, "resourceClaims", "merge,retainKeys", Some("name")),
    (CONTAINER, "env", "merge", Some("name")),
    (CONTAINER, "ports", "merge", Some("containerPort")),
    (CONTAINER, "volumeMounts", "merge", Some("mountPath")),
    (CONTAINER, "volumeDevices", "merge", Some("devicePath")),
    (EPHEMERAL_CONTAINER, "env", "merge", Some("name")),
    (EPHEMERAL_CONTAINER, "ports", "merge", Some("containerPort")),
    (EPHEMERAL_CONTAINER, "volumeMounts", "merge", Some("mountPath")),
    (EPHEMERAL_CONTAINER, "volumeDevices", "merge", Some("devicePath")),
    (CONTAINER_STATUS, "volumeMounts", "merge", Some("mountPath")),
    (CONTAINER_STATUS, "allocatedResourcesStatus", "merge", Some("name")),
    (POD_STATUS, "conditions", "merge", Some("type")),
    (POD_STATUS, "podIPs", "merge", Some("ip")),
    (POD_STATUS, "hostIPs", "merge", Some("ip")),
    (POD_STATUS, "resourceClaimStatuses", "merge,retainKeys", Some("name")),
    (POD_STATUS, "nodeAllocatableResourceClaimStatuses", "merge", Some("resourceClaimName")),
    (NODE_CLAIM_STATUS, "mapping", "merge", Some("name")),
    (NODE_CLAIM_STATUS, "overhead", "merge", Some("name")),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", None),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", Some("port")),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", "merge", Some("name")),
];
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const POD_STATUS: &str = "io.k8s.api.core.v1.PodStatus";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL_CONTAINER: &str = "io.k8s.api.core.v1.EphemeralContainer";
const CONTAINER_STATUS: &str = "io.k8s.api.core.v1.ContainerStatus";
const NODE_CLAIM_STATUS: &str = "io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus";

/// Kinds whose upstream schema lists `metadata` as required. `k8s-openapi`
/// marks it required on every kind (its structs hold `ObjectMeta` by value),
/// which `kubectl explain` would print as `-required-`.
const METADATA_REQUIRED: &[&str] = &["io.k8s.api.core.v1.Event"];

/// The index key of a group/version: `api/v1`, `apis/coordination.k8s.io/v1`.
pub fn v3_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

static DOCUMENTS: LazyLock<Vec<(String, JsonDocument)>> = LazyLock::new(|| {
    resources::groups()
        .into_iter()
        .map(|(group, version)| {
            let doc = JsonDocument::new(group_version_document(group, version));
            (v3_key(group, version), doc)
        })
        .collect()
});

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL":
/// "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`, the hash being that of the
/// document's bytes. Serve with [`CONTENT_TYPE`], its `ETag`, and
/// `Cache-Control: no-cache` (clients must revalidate: the hashes change when
/// the server is upgraded).
pub fn v3_index() -> &'static JsonDocument {
    static INDEX: LazyLock<JsonDocument> = LazyLock::new(|| {
        let paths: Map<String, Value> = DOCUMENTS
            .iter()
            .map(|(key, doc)| {
                let url = format!("/openapi/v3/{key}?hash={}", doc.hash());
                (key.clone(), json!({"serverRelativeURL": url}))
            })
            .collect();
        JsonDocument::new(json!({"paths": paths}))
    });
    &INDEX
}

fn key_of(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or_default();
    let path = path.trim_start_matches('/');
    path.strip_prefix("openapi/v3/").unwrap_or(path)
}

/// `GET /openapi/v3/<key>` where `path` is the key (`api/v1`) or the request
/// path (`/openapi/v3/api/v1`). `None` means 404.
///
/// Handler advice, as kube-apiserver does it: always send
/// `ETag: <doc.etag()>` and `Vary: Accept`, and honour `If-None-Match`.
/// When the request carries `?hash=` equal to [`JsonDocument::hash`], the
/// response never changes: add `Cache-Control: public, immutable` and an
/// `Expires` a year ahead. When `?hash=` names another hash (a client with an
/// index from before an upgrade), answer `301` to [`server_relative_url`].
pub fn v3_document(path: &str) -> Option<&'static JsonDocument> {
    let key = key_of(path);
    DOCUMENTS.iter().find(|(k, _)| k == key).map(|(_, doc)| doc)
}

/// The current `serverRelativeURL` (with `?hash=`) of a document.
pub fn server_relative_url(path: &str) -> Option<String> {
    let key = key_of(path);
    v3_document(key).map(|doc| format!("/openapi/v3/{key}?hash={}", doc.hash()))
}

fn schema_ref(definition: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{definition}")})
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

/// One group/version document.
fn group_version_document(group: &str, version: &str) -> Value {
    let served: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths(&served),
        "components": {
            "schemas": schemas(group, version, &served),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "authorization",
                    "description": "Bearer Token authentication",
                },
            },
        },
        "security": [{"BearerToken": []}],
    })
}

// ---------------------------------------------------------------------------
// Schemas

/// Every definition the group/version's kinds reference, plus their `List`
/// kinds and the meta types operations refer to, with the fix-ups applied.
fn schemas(group: &str, version: &str, served: &[&ResourceType]) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    for r in served {
        (r.schema)(&mut generator);
    }
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::WatchEvent<()>>();
    generator.subschema_for::<meta::APIResourceList>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::ListMeta>();
    let mut defs = generator.take_definitions(true);

    for r in served {
        let mut list = list_schema(r);
        if let Some(Value::Object(def)) = defs.get_mut(r.definition) {
            def.insert(GVK.into(), json!([gvk(r.group, r.version, r.kind)]));
            if !METADATA_REQUIRED.contains(&r.definition) {
                unrequire(def, "metadata");
            }
            // Reuse the kind's own field docs for the list's type fields.
            for field in ["apiVersion", "kind"] {
                if let Some(doc) = def.get("properties").and_then(|p| p.get(field)) {
                    list["properties"][field] = doc.clone();
                }
            }
        }
        if r.verbs().contains(&"list") {
            defs.insert(r.list_definition.to_owned(), list);
        }
    }

    // Meta kinds, registered in every group/version like kube-apiserver does.
    let everywhere = |kind: &str| -> Value {
        let mut gvks = vec![gvk("", "v1", kind)];
        if !group.is_empty() {
            gvks.push(gvk(group, version, kind));
        }
        Value::Array(gvks)
    };
    for kind in ["DeleteOptions", "WatchEvent"] {
        if let Some(Value::Object(def)) = defs.get_mut(&format!("{META}.{kind}")) {
            def.insert(GVK.into(), everywhere(kind));
        }
    }
    for kind in ["Status", "APIResourceList"] {
        if let Some(Value::Object(def)) = defs.get_mut(&format!("{META}.{kind}")) {
            def.insert(GVK.into(), json!([gvk("", "v1", kind)]));
        }
    }

    for (definition, property, strategy, merge_key) in PATCH_META {
        let field = defs
            .get_mut(*definition)
            .and_then(|def| def.get_mut("properties"))
            .and_then(|props| props.get_mut(*property))
            .and_then(Value::as_object_mut);
        if let Some(field) = field {
            field.insert(PATCH_STRATEGY.into(), json!(strategy));
            if let Some(key) = merge_key {
                field.insert(PATCH_MERGE_KEY.into(), json!(key));
            }
        }
    }
    defs
}

fn unrequire(def: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(required)) = def.get_mut("required") {
        required.retain(|name| name != field);
        if required.is_empty() {
            def.remove("required");
        }
    }
}

fn list_schema(r: &ResourceType) -> Value {
    let list_kind = format!("{}List", r.kind);
    json!({
        "description": format!("{list_kind} is a list of {} objects.", r.kind),
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "items": {
                "description": format!("items is the list of {} objects.", r.kind),
                "type": "array",
                "items": schema_ref(r.definition),
            },
            "metadata": {
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
                "allOf": [schema_ref(&format!("{META}.ListMeta"))],
            },
        },
        "required": ["items"],
        GVK: [gvk(r.group, r.version, &list_kind)],
    })
}

// ---------------------------------------------------------------------------
// Paths and operations

fn param(location: &str, name: &str, ty: &str, description: &str) -> Value {
    let mut p = json!({
        "name": name,
        "in": location,
        "description": description,
        "schema": {"type": ty},
    });
    if location == "path" {
        p["required"] = json!(true);
    }
    p
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    param("query", name, ty, description)
}

fn pretty() -> Value {
    query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed.",
    )
}

fn namespace_param() -> Value {
    param(
        "path",
        "namespace",
        "string",
        "object name and auth scope, such as for teams and projects",
    )
}

fn name_param(kind: &str) -> Value {
    param("path", "name", "string", &format!("name of the {kind}"))
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. The only valid value is All: all dry run stages are processed and nothing is stored.",
    )
}

/// Query parameters of create and replace.
fn write_params() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "fieldManager",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes: at most 128 printable characters.",
        ),
        query(
            "fieldValidation",
            "string",
            "fieldValidation determines how the server responds to unknown or duplicate fields in the object of the request. Valid values are: - Ignore: drops them silently. - Warn: serves the request and warns about each one. - Strict: fails the request with a BadRequest naming them.",
        ),
    ]
}

fn patch_params() -> Vec<Value> {
    let mut params = write_params();
    params.push(query(
        "force",
        "boolean",
        "Force is going to \"force\" Apply requests: the request re-acquires fields owned by other field managers. It must be unset for patch types other than apply.",
    ));
    params
}

/// Selection and paging parameters shared by list and deletecollection.
fn selection_params() -> Vec<Value> {
    vec![
        query(
            "continue",
            "string",
            "The continue token returned in the metadata of a previous list response, to fetch the next page of a paginated list with otherwise identical parameters.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is the maximum number of objects to return in one list response; when more exist, the response carries a continue token.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls (Exact or NotOlderThan).",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "With watch=true, starts the watch stream with synthetic ADDED events for the current state of the objects, then a BOOKMARK event.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call, regardless of any activity or inactivity.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    let mut params = selection_params();
    params.push(query(
        "allowWatchBookmarks",
        "boolean",
        "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Ignored when this is not a watch.",
    ));
    params.push(query(
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    ));
    params
}

fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted; zero means delete immediately, unset means the default for the kind.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use propagationPolicy. Whether dependent objects should be orphaned.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection is performed: 'Orphan', 'Background' or 'Foreground'.",
        ),
    ]
}

fn content(schema: &Value, watch: bool) -> Value {
    let mut media = Map::new();
    media.insert(CONTENT_TYPE.into(), json!({"schema": schema}));
    if watch {
        media.insert(
            "application/json;stream=watch".into(),
            json!({"schema": schema}),
        );
    }
    Value::Object(media)
}

fn responses(codes: &[(&str, &str)], schema: &Value, watch: bool) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert(
            (*code).into(),
            json!({"description": description, "content": content(schema, watch)}),
        );
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

fn json_body(schema: &Value) -> Value {
    json!({"required": true, "content": content(schema, false)})
}

fn patch_body() -> Value {
    let patch = schema_ref(&format!("{META}.Patch"));
    let media: Map<String, Value> = PATCH_CONTENT_TYPES
        .iter()
        .map(|ty| ((*ty).to_owned(), json!({"schema": patch})))
        .collect();
    json!({"required": true, "content": media})
}

/// `CoreV1`, `CoordinationV1`: the group/version part of operation ids.
fn id_group_version(r: &ResourceType) -> String {
    fn upper_first(s: &str) -> String {
        let mut chars = s.chars();
        chars
            .next()
            .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
    }
    let group = if r.group.is_empty() {
        "Core".to_owned()
    } else {
        r.group
            .trim_end_matches(".k8s.io")
            .split('.')
            .map(upper_first)
            .collect()
    };
    format!("{group}{}", upper_first(r.version))
}

/// `core_v1`, `coordination_v1`.
fn tag(r: &ResourceType) -> String {
    let group = if r.group.is_empty() {
        "core"
    } else {
        r.group.trim_end_matches(".k8s.io")
    };
    format!("{}_{}", group.replace('.', "_"), r.version)
}

struct Operation {
    action: &'static str,
    id: String,
    description: String,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: Value,
}

impl Operation {
    fn render(self, r: &ResourceType) -> Value {
        let mut op = json!({
            "tags": [tag(r)],
            "description": self.description,
            "operationId": self.id,
            "parameters": self.parameters,
            "responses": self.responses,
            ACTION: self.action,
            GVK: gvk(r.group, r.version, r.kind),
        });
        if let Some(body) = self.body {
            op["requestBody"] = body;
        }
        op
    }
}

/// The paths of one resource, keyed by URL template.
fn resource_paths(r: &ResourceType) -> Vec<(String, Value)> {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let gv = id_group_version(r);
    let (scope, scoped, scope_params) = if r.namespaced {
        (
            format!("{prefix}/namespaces/{{namespace}}"),
            "Namespaced",
            vec![namespace_param()],
        )
    } else {
        (prefix.clone(), "", Vec::new())
    };
    let id = |verb: &str, suffix: &str| format!("{verb}{gv}{scoped}{}{suffix}", r.kind);
    let object = schema_ref(r.definition);
    let list = schema_ref(r.list_definition);
    let status = schema_ref(&format!("{META}.Status"));
    let delete_options = schema_ref(&format!("{META}.DeleteOptions"));
    let path_item = |params: Vec<Value>, ops: Vec<(&str, Operation)>| -> Value {
        let mut item = Map::new();
        let mut parameters = params;
        parameters.push(pretty());
        item.insert("parameters".into(), Value::Array(parameters));
        for (method, op) in ops {
            item.insert(method.into(), op.render(r));
        }
        Value::Object(item)
    };
    let verbs = r.verbs();
    let mut out = Vec::new();

    // The collection: list, create, deletecollection.
    let mut ops = vec![
        (
            "get",
            Operation {
                action: "list",
                id: id("list", ""),
                description: format!("list or watch objects of kind {}", r.kind),
                parameters: list_params(),
                body: None,
                responses: responses(&[("200", "OK")], &list, true),
            },
        ),
        (
            "post",
            Operation {
                action: "post",
                id: id("create", ""),
                description: format!("create a {}", r.kind),
                parameters: write_params(),
                body: Some(json_body(&object)),
                responses: responses(
                    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                    &object,
                    false,
                ),
            },
        ),
    ];
    // A review is created and nothing else.
    ops.retain(|(method, _)| match *method {
        "get" => verbs.contains(&"list"),
        "post" => verbs.contains(&"create"),
        _ => true,
    });
    if verbs.contains(&"deletecollection") {
        let mut parameters = delete_params();
        parameters.extend(selection_params());
        ops.push((
            "delete",
            Operation {
                action: "deletecollection",
                id: format!("delete{gv}Collection{scoped}{}", r.kind),
                description: format!("delete collection of {}", r.kind),
                parameters,
                body: Some(json!({"content": content(&delete_options, false)})),
                responses: responses(&[("200", "OK")], &status, false),
            },
        ));
    }
    let collection = format!("{scope}/{}", r.plural);
    out.push((collection.clone(), path_item(scope_params.clone(), ops)));
    if !verbs.contains(&"get") {
        return out;
    }

    // One object: read, replace, patch, delete.
    let mut item_params = vec![name_param(r.kind)];
    item_params.extend(scope_params.clone());
    // Read, replace and patch, for the object ("") and its status ("Status").
    let read_replace_patch = |suffix: &str, what: &str| {
        vec![
            (
                "get",
                Operation {
                    action: "get",
                    id: id("read", suffix),
                    description: format!("read {what}"),
                    parameters: Vec::new(),
                    body: None,
                    responses: responses(&[("200", "OK")], &object, false),
                },
            ),
            (
                "put",
                Operation {
                    action: "put",
                    id: id("replace", suffix),
                    description: format!("replace {what}"),
                    parameters: write_params(),
                    body: Some(json_body(&object)),
                    responses: responses(&[("200", "OK"), ("201", "Created")], &object, false),
                },
            ),
            (
                "patch",
                Operation {
                    action: "patch",
                    id: id("patch", suffix),
                    description: format!("partially update {what}"),
                    parameters: patch_params(),
                    body: Some(patch_body()),
                    responses: responses(&[("200", "OK"), ("201", "Created")], &object, false),
                },
            ),
        ]
    };
    let mut item_ops = read_replace_patch("", &format!("the specified {}", r.kind));
    item_ops.push((
        "delete",
        Operation {
            action: "delete",
            id: id("delete", ""),
            description: format!("delete a {}", r.kind),
            parameters: delete_params(),
            body: Some(json!({"content": content(&delete_options, false)})),
            responses: responses(&[("200", "OK"), ("202", "Accepted")], &status, false),
        },
    ));
    let item = format!("{collection}/{{name}}");
    out.push((item.clone(), path_item(item_params.clone(), item_ops)));

    // The status subresource: read, replace, patch.
    if r.has_status {
        let status_ops =
            read_replace_patch("Status", &format!("status of the specified {}", r.kind));
        out.push((format!("{item}/status"), path_item(item_params, status_ops)));
    }

    // Namespaced kinds are also listed across all namespaces.
    if r.namespaced {
        let all = Operation {
            action: "list",
            id: format!("list{gv}{}ForAllNamespaces", r.kind),
            description: format!("list or watch objects of kind {}", r.kind),
            parameters: list_params(),
            body: None,
            responses: responses(&[("200", "OK")], &list, true),
        };
        out.push((
            format!("{prefix}/{}", r.plural),
            path_item(Vec::new(), vec![("get", all)]),
        ));
    }
    out
}

fn paths(served: &[&ResourceType]) -> Map<String, Value> {
    served.iter().flat_map(|r| resource_paths(r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_documents() -> impl Iterator<Item = (&'static str, &'static Value)> {
        DOCUMENTS.iter().map(|(k, d)| (k.as_str(), d.value()))
    }

    fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .expect("local schema ref");
        &doc["components"]["schemas"][name]
    }

    /// Visits every JSON object of a value.
    fn walk<'a, F>(value: &'a Value, path: &mut Vec<String>, visit: &mut F)
    where
        F: FnMut(&[String], &'a Map<String, Value>),
    {
        match value {
            Value::Object(map) => {
                visit(path, map);
                for (k, v) in map {
                    path.push(k.clone());
                    walk(v, path, visit);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(v, path, visit);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    #[test]
    fn index_lists_each_group_version_with_its_hash() {
        let index = v3_index().value();
        let paths = index["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), resources::groups().len());
        for (group, version) in resources::groups() {
            let key = v3_key(group, version);
            let doc = v3_document(&key).expect("document");
            let url = paths[&key]["serverRelativeURL"].as_str().expect("url");
            assert_eq!(url, format!("/openapi/v3/{key}?hash={}", doc.hash()));
            assert_eq!(server_relative_url(&key).as_deref(), Some(url));
            assert!(std::ptr::eq(
                v3_document(&format!("/openapi/v3/{key}?hash=x")).expect("by request path"),
                doc
            ));
        }
        assert!(v3_document("apis/apps/v1").is_none());
        assert!(v3_document("api").is_none());
    }

    #[test]
    fn every_operation_is_tagged_for_kubectl() {
        for r in RESOURCES {
            let doc = v3_document(&v3_key(r.group, r.version))
                .expect("document")
                .value();
            let mut actions = Vec::new();
            for (path, item) in doc["paths"].as_object().expect("paths") {
                for (method, op) in item.as_object().expect("path item") {
                    if method == "parameters" || op[GVK]["kind"] != r.kind {
                        continue;
                    }
                    assert_eq!(op[GVK], gvk(r.group, r.version, r.kind), "{path} {method}");
                    assert!(op["operationId"].as_str().is_some_and(|id| !id.is_empty()));
                    let action = op[ACTION].as_str().expect("action");
                    actions.push(action);
                    let names: Vec<&str> = op["parameters"]
                        .as_array()
                        .expect("parameters")
                        .iter()
                        .filter_map(|p| p["name"].as_str())
                        .collect();
                    if ["post", "put", "patch"].contains(&action) {
                        for name in ["fieldValidation", "dryRun", "fieldManager"] {
                            assert!(names.contains(&name), "{path} {method} lacks {name}");
                        }
                    }
                    if action == "list" {
                        for name in [
                            "labelSelector",
                            "fieldSelector",
                            "limit",
                            "continue",
                            "resourceVersion",
                            "watch",
                        ] {
                            assert!(names.contains(&name), "{path} {method} lacks {name}");
                        }
                    }
                    if action == "patch" {
                        let content = op["requestBody"]["content"]
                            .as_object()
                            .expect("patch body");
                        for ty in PATCH_CONTENT_TYPES {
                            assert!(content.contains_key(ty), "{path} patch lacks {ty}");
                        }
                    }
                }
            }
            actions.sort_unstable();
            if !r.is_stored() {
                assert_eq!(actions, ["post"], "{}", r.kind);
                continue;
            }
            let mut expected = vec![
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "post",
                "put",
            ];
            if r.namespaced {
                expected.push("list");
            }
            if r.has_status {
                expected.extend(["get", "patch", "put"]);
            }
            expected.sort_unstable();
            assert_eq!(actions, expected, "{}", r.kind);
        }
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let core = v3_document("api/v1").expect("core").value();
        let paths = core["paths"].as_object().expect("paths");
        for path in [
            "/api/v1/namespaces/{namespace}/configmaps",
            "/api/v1/namespaces/{namespace}/configmaps/{name}",
            "/api/v1/configmaps",
            "/api/v1/namespaces/{namespace}/pods/{name}/status",
            "/api/v1/nodes",
            "/api/v1/nodes/{name}/status",
            "/api/v1/namespaces",
            "/api/v1/namespaces/{name}",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/nodes"));
        let op = &paths["/api/v1/namespaces/{namespace}/configmaps"]["post"];
        assert_eq!(op["operationId"], "createCoreV1NamespacedConfigMap");
        let op = &paths["/api/v1/configmaps"]["get"];
        assert_eq!(op["operationId"], "listCoreV1ConfigMapForAllNamespaces");
        let leases = v3_document("apis/coordination.k8s.io/v1")
            .expect("leases")
            .value();
        let op = &leases["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"]["delete"];
        assert_eq!(
            op["operationId"],
            "deleteCoordinationV1CollectionNamespacedLease"
        );
        assert_eq!(op[ACTION], "deletecollection");
    }

    #[test]
    fn kinds_carry_their_gvk_and_lists_exist() {
        for r in RESOURCES {
            let doc = v3_document(&v3_key(r.group, r.version))
                .expect("document")
                .value();
            let schemas = &doc["components"]["schemas"];
            assert_eq!(
                schemas[r.definition][GVK],
                json!([gvk(r.group, r.version, r.kind)])
            );
            if !r.verbs().contains(&"list") {
                assert!(r.list_definition.is_empty(), "{}", r.kind);
                continue;
            }
            let list = &schemas[r.list_definition];
            assert_eq!(list[GVK][0]["kind"], format!("{}List", r.kind));
            assert_eq!(
                resolve(
                    doc,
                    list["properties"]["items"]["items"]["$ref"]
                        .as_str()
                        .expect("ref")
                ),
                &schemas[r.definition]
            );
            let required = schemas[r.definition]["required"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                required.contains(&json!("metadata")),
                METADATA_REQUIRED.contains(&r.definition),
                "{}",
                r.kind
            );
            for meta_kind in [
                "Status",
                "DeleteOptions",
                "WatchEvent",
                "APIResourceList",
                "Patch",
                "ListMeta",
            ] {
                let name = format!("{META}.{meta_kind}");
                assert!(schemas.get(&name).is_some(), "{} lacks {name}", r.kind);
            }
        }
    }

    #[test]
    fn every_reference_resolves_and_has_no_siblings() {
        for (key, doc) in all_documents() {
            let mut problems = Vec::new();
            walk(doc, &mut Vec::new(), &mut |path, map| {
                if let Some(reference) = map.get("$ref") {
                    let target = reference.as_str().unwrap_or_default();
                    if map.len() > 1 {
                        problems.push(format!("{}: $ref with siblings", path.join("/")));
                    }
                    if resolve(doc, target).is_null() {
                        problems.push(format!("{}: dangling {target}", path.join("/")));
                    }
                }
                // OpenAPI 3.0 has no type arrays, no const, no $defs.
                if map.get("type").is_some_and(Value::is_array) {
                    problems.push(format!("{}: type array", path.join("/")));
                }
                for key in ["const", "$defs", "$schema", "examples", "prefixItems"] {
                    if path.last().is_none_or(|p| p != "properties") && map.contains_key(key) {
                        problems.push(format!("{}: {key}", path.join("/")));
                    }
                }
            });
            assert!(problems.is_empty(), "{key}: {problems:#?}");
        }
    }

    #[test]
    fn special_formats_stay_as_kubernetes_publishes_them() {
        let core = v3_document("api/v1").expect("core").value();
        let schemas = &core["components"]["schemas"];
        // No `type`: kubectl explain prints the definition's name.
        let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["x-kubernetes-int-or-string"], true);
        assert!(int_or_string.get("type").is_none());
        let quantity = &schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"];
        assert!(quantity.get("type").is_none());
        let time = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"];
        assert_eq!(
            (&time["type"], &time["format"]),
            (&json!("string"), &json!("date-time"))
        );
        let binary = &schemas["io.k8s.api.core.v1.ConfigMap"]["properties"]["binaryData"];
        assert_eq!(binary["additionalProperties"]["format"], "byte");
    }

    #[test]
    fn patch_metadata_is_attached_where_it_belongs() {
        for (definition, property, strategy, _) in PATCH_META {
            // kubectl splits the strategy on ',' and matches exact words.
            assert!(
                strategy
                    .split(',')
                    .all(|s| ["merge", "retainKeys", "replace"].contains(&s)),
                "{definition}.{property}: {strategy:?}"
            );
        }
        let mut found = vec![false; PATCH_META.len()];
        for (key, doc) in all_documents() {
            let schemas = &doc["components"]["schemas"];
            for (i, (definition, property, strategy, merge_key)) in PATCH_META.iter().enumerate() {
                let field = &schemas[*definition]["properties"][*property];
                if field.is_null() {
                    continue;
                }
                found[i] = true;
                assert_eq!(
                    field[PATCH_STRATEGY], *strategy,
                    "{key}: {definition}.{property}"
                );
                assert_eq!(field["type"], "array", "{definition}.{property} is a list");
                if let Some(merge_key) = merge_key {
                    assert_eq!(field[PATCH_MERGE_KEY], *merge_key);
                    let item = resolve(doc, field["items"]["$ref"].as_str().expect("item ref"));
                    assert!(
                        item["properties"].get(*merge_key).is_some(),
                        "{definition}.{property}: items have no {merge_key}"
                    );
                }
            }
        }
        for (entry, found) in PATCH_META.iter().zip(found) {
            assert!(found, "{entry:?} matches no served schema");
        }
        let core = v3_document("api/v1").expect("core").value();
        let containers = &core["components"]["schemas"][POD_SPEC]["properties"]["containers"];
        assert_eq!(containers[PATCH_MERGE_KEY], "name");
    }

    #[test]
    fn documents_are_stable() {
        let key = v3_key("", "v1");
        let again = JsonDocument::new(group_version_document("", "v1"));
        assert_eq!(
            v3_document(&key).map(JsonDocument::hash),
            Some(again.hash())
        );
    }
}
