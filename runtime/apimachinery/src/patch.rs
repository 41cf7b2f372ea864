//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! Kubernetes' strategic merge patch, applied to a JSON object.
//!
//! Owns the patch semantics kubectl relies on (`apply`, `edit`, `label`,
//! `annotate`, `taint`, `cordon`, `patch`): which lists merge by which key
//! for the served kinds, the `$patch`, `$setElementOrder/…`,
//! `$deleteFromPrimitiveList/…` and `$retainKeys` directives, and the
//! order of merged lists. Must not do IO, validate the patched object or
//! look at resource versions: the handler decodes and validates the result.

use serde_json::{Map, Value};

use crate::status::ApiError;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// The most operations a JSON patch may carry.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The three patch formats, told apart by the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
}

impl PatchType {
    /// Every Content-Type a PATCH may carry here.
    pub const CONTENT_TYPES: [&'static str; 3] = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];

    /// Reads a Content-Type header (parameters such as `charset` ignored);
    /// anything else, server-side apply included, is a 415.
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
            _ => Err(ApiError::unsupported_media_type(&PatchType::CONTENT_TYPES)),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => PatchType::CONTENT_TYPES[0],
            PatchType::Merge => PatchType::CONTENT_TYPES[1],
            PatchType::StrategicMerge => PatchType::CONTENT_TYPES[2],
        }
    }
}

/// Applies a patch of the given type to an object of `kind` (`Pod`, …).
pub fn apply_patch(
    kind: &str,
    original: &Value,
    patch_type: PatchType,
    patch: &Value,
) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => json_patch(original, patch),
        PatchType::Merge => merge_patch(original, patch),
        PatchType::StrategicMerge => strategic_merge_patch(kind, original, patch),
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, anything else
/// (lists included) replaces. The patch must be an object.
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "Invalid JSON Patch: a merge patch must be a JSON object",
        ));
    }
    let mut doc = original.clone();
    json_patch::merge(&mut doc, patch);
    Ok(doc)
}

/// RFC 6902: a list of operations applied in order, all or nothing. A
/// malformed list is a 400; an operation that cannot apply (a failed
/// `test`, a missing path) is a 422.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, ApiError> {
    if let Some(ops) = patch.as_array()
        && ops.len() > MAX_JSON_PATCH_OPERATIONS
    {
        return Err(ApiError::request_entity_too_large(&format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| {
        ApiError::unprocessable(format!("the JSON patch could not be applied: {e}"))
    })?;
    Ok(doc)
}

/// How a list field merges in a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original (Kubernetes' default).
    Replace,
    /// Elements are objects matched by this key and merged.
    MergeByKey(&'static str),
    /// Elements are scalars; the lists are united (finalizers, podCIDRs).
    MergeSet,
}

/// The part of an object a field belongs to, as far as merging cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    /// Nothing known below: maps merge, lists replace.
    Any,
    Pod,
    Node,
    Service,
    Namespace,
    ServiceAccount,
    /// Any other kind: only its metadata is known.
    Object,
    ObjectMeta,
    PodSpec,
    PodStatus,
    /// Containers, init containers and ephemeral containers.
    Container,
    NodeSpec,
    NodeStatus,
    ServiceSpec,
    ServiceStatus,
    NamespaceStatus,
}

#[derive(Debug, Clone, Copy)]
struct FieldMeta {
    list: ListStrategy,
    schema: Schema,
}

impl Schema {
    fn root(kind: &str) -> Schema {
        match kind {
            "Pod" => Schema::Pod,
            "Node" => Schema::Node,
            "Service" => Schema::Service,
            "Namespace" => Schema::Namespace,
            "ServiceAccount" => Schema::ServiceAccount,
            _ => Schema::Object,
        }
    }

    /// The merge keys of the served kinds, from the `patchStrategy` and
    /// `patchMergeKey` tags of the Kubernetes API types. Lists not named
    /// here are atomic: the patch replaces them.
    fn field(self, name: &str) -> FieldMeta {
        use ListStrategy::{MergeByKey, MergeSet, Replace};
        use Schema::*;
        let (list, schema) = match (self, name) {
            (Pod | Node | Service | Namespace | ServiceAccount | Object, "metadata") => {
                (Replace, ObjectMeta)
            }
            (ObjectMeta, "ownerReferences") => (MergeByKey("uid"), Any),
            (ObjectMeta, "finalizers") => (MergeSet, Any),

            (Pod, "spec") => (Replace, PodSpec),
            (Pod, "status") => (Replace, PodStatus),
            (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
                (MergeByKey("name"), Container)
            }
            (PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
                (MergeByKey("name"), Any)
            }
            (PodSpec, "hostAliases") => (MergeByKey("ip"), Any),
            (PodSpec, "topologySpreadConstraints") => (MergeByKey("topologyKey"), Any),
            (Container, "env") => (MergeByKey("name"), Any),
            (Container, "ports") => (MergeByKey("containerPort"), Any),
            (Container, "volumeMounts") => (MergeByKey("mountPath"), Any),
            (Container, "volumeDevices") => (MergeByKey("devicePath"), Any),
            (PodStatus, "conditions") => (MergeByKey("type"), Any),
            (PodStatus, "podIPs" | "hostIPs") => (MergeByKey("ip"), Any),
            (PodStatus, "resourceClaimStatuses") => (MergeByKey("name"), Any),

            (Node, "spec") => (Replace, NodeSpec),
            (Node, "status") => (Replace, NodeStatus),
            (NodeSpec, "podCIDRs") => (MergeSet, Any),
            (NodeStatus, "conditions" | "addresses") => (MergeByKey("type"), Any),

            (Service, "spec") => (Replace, ServiceSpec),
            (Service, "status") => (Replace, ServiceStatus),
            (ServiceSpec, "ports") => (MergeByKey("port"), Any),
            (ServiceStatus, "conditions") => (MergeByKey("type"), Any),

            (Namespace, "status") => (Replace, NamespaceStatus),
            (NamespaceStatus, "conditions") => (MergeByKey("type"), Any),

            (ServiceAccount, "secrets") => (MergeByKey("name"), Any),
            _ => (Replace, Any),
        };
        FieldMeta { list, schema }
    }
}

/// The merge strategy of the list at `path` (field names from the object's
/// root, list elements skipped) in an object of `kind`.
pub fn list_strategy(kind: &str, path: &[&str]) -> ListStrategy {
    let mut schema = Schema::root(kind);
    let mut list = ListStrategy::Replace;
    for name in path {
        let meta = schema.field(name);
        list = meta.list;
        schema = meta.schema;
    }
    list
}

/// Applies a strategic merge patch to an object of `kind`: maps merge,
/// `null` deletes, lists merge by their patch merge key (see
/// [`list_strategy`]) or are replaced, and the `$patch`,
/// `$setElementOrder/…`, `$deleteFromPrimitiveList/…` and `$retainKeys`
/// directives apply. Malformed patches are 400s; lists of lists 422s.
pub fn strategic_merge_patch(
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "invalid JSON document: a strategic merge patch must be a JSON object",
        ));
    };
    let original = match original {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), Schema::root(kind))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

fn no_merge_key(item: &Value, key: &str) -> ApiError {
    bad(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Splits `$prefix/field`, refusing anything else that starts with `$prefix`.
fn directive_field<'k>(key: &'k str, prefix: &str) -> Result<&'k str, ApiError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => {
            Err(bad("invalid patch format of primitive list"))
        }
        _ => Err(bad("invalid patch format of setElementOrder list")),
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Value, ApiError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        match directive.as_str() {
            // The patch is the new map, as it is (its own directives applied to nothing).
            Some("replace") => return merge_map(Map::new(), patch, schema),
            Some("delete") => return Ok(Value::Object(Map::new())),
            Some("merge") => {}
            _ => {
                return Err(bad(format!(
                    "unknown patch type: {directive} in map: {}",
                    Value::Object(patch)
                )));
            }
        }
    }

    if let Some(retain) = patch.remove(RETAIN_KEYS) {
        let Some(retain) = retain.as_array() else {
            return Err(bad("invalid patch format of retainKeys"));
        };
        let kept = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
        for (k, v) in &patch {
            let directive =
                k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
            if !v.is_null() && !directive && !kept(k) {
                return Err(bad("invalid patch format of retainKeys"));
            }
        }
        original.retain(|k, _| kept(k));
    }

    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in order_keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let field = directive_field(&key, SET_ELEMENT_ORDER)?.to_owned();
        let Value::Array(order) = order else {
            return Err(bad("invalid patch format of setElementOrder list"));
        };
        apply_element_order(
            &mut original,
            &mut patch,
            &field,
            &order,
            schema.field(&field),
        )?;
    }

    let mut deletions = Vec::new();
    for (k, v) in patch {
        if k.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            let field = directive_field(&k, DELETE_FROM_PRIMITIVE_LIST)?.to_owned();
            let Value::Array(values) = v else {
                return Err(bad("invalid patch format of primitive list"));
            };
            deletions.push((field, values));
            continue;
        }
        if v.is_null() {
            original.remove(&k);
            continue;
        }
        let meta = schema.field(&k);
        let merged = match original.remove(&k) {
            Some(o) => merge_value(o, v, meta)?,
            None => new_value(v, meta)?,
        };
        original.insert(k, merged);
    }
    for (field, values) in deletions {
        if let Some(Value::Array(items)) = original.get_mut(&field) {
            items.retain(|item| !values.iter().any(|d| json_eq(d, item)));
        }
    }
    Ok(Value::Object(original))
}

/// Handles `$setElementOrder/<field>`: merges the field's list and puts it
/// in the given order, server-only items keeping their relative places.
fn apply_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    field: &str,
    order: &[Value],
    meta: FieldMeta,
) -> Result<(), ApiError> {
    let key = match meta.list {
        ListStrategy::MergeByKey(k) => Some(k),
        ListStrategy::MergeSet => None,
        // An atomic list has no order to keep: the patched list is the order.
        ListStrategy::Replace => return Ok(()),
    };
    let patch_list = match patch.get(field) {
        Some(Value::Array(_)) => match patch.remove(field) {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        },
        // `null` or a non-list: the main merge deals with it.
        Some(_) => return Ok(()),
        None => None,
    };
    let original_list = match original.get(field) {
        Some(Value::Array(items)) => Some(items.clone()),
        _ => None,
    };
    if let Some(patch_list) = &patch_list {
        check_order(patch_list, order, key)?;
    }
    let merged = match (original_list.clone(), patch_list) {
        (Some(o), None) => o,
        (None, Some(p)) => merge_list(Vec::new(), p, meta)?,
        (Some(o), Some(p)) => merge_list(o, p, meta)?,
        (None, None) => return Ok(()),
    };
    let server_order = original_list.unwrap_or_default();
    original.insert(
        field.to_owned(),
        Value::Array(arrange(merged, order, &server_order, key)),
    );
    Ok(())
}

/// Checks that the patch's items appear in `$setElementOrder` in the same
/// relative order (items deleted by the patch are not listed there).
fn check_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), ApiError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let is_delete = |v: &Value| v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
    let listed: Vec<&Value> = patch
        .iter()
        .filter(|v| key.is_none() || !is_delete(v))
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < listed.len() && o < order.len() {
        if listed[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let equal = match key {
            Some(k) => {
                let a = listed[p].get(k).ok_or_else(|| no_merge_key(listed[p], k))?;
                if !order[o].is_object() {
                    return Err(bad(format!(
                        "invalid patch format of setElementOrder list: {} is not a map",
                        order[o]
                    )));
                }
                let b = order[o].get(k).ok_or_else(|| no_merge_key(&order[o], k))?;
                json_eq(a, b)
            }
            None => json_eq(listed[p], &order[o]),
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < listed.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Merges a value into an existing one.
fn merge_value(original: Value, patch: Value, meta: FieldMeta) -> Result<Value, ApiError> {
    match (original, patch) {
        (Value::Object(o), Value::Object(p)) => merge_map(o, p, meta.schema),
        (Value::Array(o), Value::Array(p)) => match meta.list {
            ListStrategy::Replace => new_list(p, meta),
            _ => merge_list(o, p, meta).map(Value::Array),
        },
        (_, p) => new_value(p, meta),
    }
}

/// A patch value where the original has none: the patch applied to nothing,
/// so its directives are resolved rather than stored.
fn new_value(patch: Value, meta: FieldMeta) -> Result<Value, ApiError> {
    match patch {
        Value::Object(p) => merge_map(Map::new(), p, meta.schema),
        Value::Array(p) => new_list(p, meta),
        other => Ok(other),
    }
}

fn new_list(items: Vec<Value>, meta: FieldMeta) -> Result<Value, ApiError> {
    match meta.list {
        ListStrategy::Replace => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    Value::Object(m) => merge_map(Map::new(), m, meta.schema)?,
                    other => other,
                });
            }
            Ok(Value::Array(out))
        }
        _ => merge_list(Vec::new(), items, meta).map(Value::Array),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Map,
    Text,
    Number,
    Bool,
    Null,
}

/// The one element type of both lists; lists of lists and mixed lists are errors.
fn element_type(original: &[Value], patch: &[Value]) -> Result<Option<Element>, ApiError> {
    let mut seen = None;
    for v in original.iter().chain(patch) {
        let t = match v {
            Value::Object(_) => Element::Map,
            Value::String(_) => Element::Text,
            Value::Number(_) => Element::Number,
            Value::Bool(_) => Element::Bool,
            Value::Null => Element::Null,
            Value::Array(_) => {
                return Err(ApiError::unprocessable("lists of lists are not supported"));
            }
        };
        match seen {
            None => seen = Some(t),
            Some(s) if s == t => {}
            Some(_) => {
                return Err(bad(format!(
                    "list element types are not identical: {} {}",
                    Value::Array(original.to_vec()),
                    Value::Array(patch.to_vec())
                )));
            }
        }
    }
    Ok(seen)
}

/// Merges two lists of a merging field, then orders the result: patch
/// items in patch order, server-only items where they were.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
) -> Result<Vec<Value>, ApiError> {
    let Some(element) = element_type(&original, &patch)? else {
        return Ok(original);
    };
    if element != Element::Map {
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.iter().any(|m| json_eq(m, v)) {
                merged.push(v.clone());
            }
        }
        return Ok(arrange(merged, &patch, &original, None));
    }
    let ListStrategy::MergeByKey(key) = meta.list else {
        return Err(bad("cannot merge lists without merge key for type map"));
    };

    // Directives first: deletions and a whole-list replace.
    let mut original = original;
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            items.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item.get(key).ok_or_else(|| no_merge_key(&item, key))?;
                original.retain(|o| !o.get(key).is_some_and(|v| json_eq(v, value)));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(bad("merging lists cannot yet be specified in the patch")),
            _ => {
                return Err(bad(format!(
                    "unknown patch type: {directive} in map: {item}"
                )));
            }
        }
    }
    if replace {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(new_value(
                item,
                FieldMeta {
                    list: ListStrategy::Replace,
                    schema: meta.schema,
                },
            )?);
        }
        return Ok(out);
    }

    let element_meta = FieldMeta {
        list: ListStrategy::Replace,
        schema: meta.schema,
    };
    let mut merged = original.clone();
    for item in &items {
        let value = item.get(key).ok_or_else(|| no_merge_key(item, key))?;
        match merged
            .iter()
            .position(|o| o.get(key).is_some_and(|v| json_eq(v, value)))
        {
            Some(at) => {
                let existing = std::mem::take(&mut merged[at]);
                merged[at] = merge_value(existing, item.clone(), element_meta)?;
            }
            None => merged.push(new_value(item.clone(), element_meta)?),
        }
    }
    Ok(arrange(merged, &items, &original, Some(key)))
}

/// Whether two list entries are the same entry: by merge key, or by value.
fn same_entry(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => json_eq(x, y),
            _ => false,
        },
        None => json_eq(a, b),
    }
}

fn position_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    list.iter().position(|x| same_entry(x, item, key))
}

/// Kubernetes' list order after a merge: items named by `patch_order` sorted
/// by it, the others (server-only) sorted by `server_order`, then the two
/// interleaved so each server-only item goes before the first patch item
/// that came after it on the server.
fn arrange(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position_in(patch_order, item, key).is_some());
    from_patch.sort_by_key(|item| position_in(patch_order, item, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position_in(server_order, item, key).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position_in(server_order, l, key), position_in(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(kind: &str, original: Value, patch: Value) -> Value {
        match strategic_merge_patch(kind, &original, &patch) {
            Ok(v) => v,
            Err(e) => panic!("{patch}: {e}"),
        }
    }

    fn smp_err(kind: &str, original: Value, patch: Value) -> ApiError {
        match strategic_merge_patch(kind, &original, &patch) {
            Ok(v) => panic!("{patch} applied: {v}"),
            Err(e) => e,
        }
    }

    fn names(list: &Value) -> Vec<String> {
        list.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        c.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json; charset=utf-8",
                Some(PatchType::StrategicMerge),
            ),
            ("Application/Merge-Patch+JSON", Some(PatchType::Merge)),
            ("application/apply-patch+yaml", None),
            ("application/json", None),
            ("", None),
        ];
        for (ct, want) in cases {
            let got = PatchType::from_content_type(ct);
            assert_eq!(got.as_ref().ok().copied(), want, "{ct}");
            if let Err(e) = got {
                assert_eq!(e.code, 415);
                assert!(e.message.contains("application/strategic-merge-patch+json"));
            }
        }
        for t in [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge] {
            assert_eq!(PatchType::from_content_type(t.content_type()).ok(), Some(t));
        }
    }

    #[test]
    fn merge_patches_as_kubectl_label_and_annotate_send_them() {
        let original = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}},
            "spec": {"podCIDRs": ["10.42.0.0/24"]}
        });
        let cases = [
            // kubectl label node n1 env=prod
            (
                json!({"metadata": {"labels": {"env": "prod"}}}),
                json!({"a": "1", "b": "2", "env": "prod"}),
            ),
            // kubectl label node n1 a-
            (
                json!({"metadata": {"labels": {"a": null}}}),
                json!({"b": "2"}),
            ),
            // kubectl label --overwrite node n1 b=3
            (
                json!({"metadata": {"labels": {"b": "3"}}}),
                json!({"a": "1", "b": "3"}),
            ),
        ];
        for (patch, labels) in cases {
            let got = match merge_patch(&original, &patch) {
                Ok(v) => v,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(got["metadata"]["labels"], labels, "{patch}");
            assert_eq!(got["metadata"]["annotations"], json!({"x": "y"}));
            assert_eq!(got["spec"], original["spec"]);
        }
        // kubectl annotate node n1 note='hello world'
        let got = merge_patch(
            &original,
            &json!({"metadata": {"annotations": {"note": "hello world"}}}),
        );
        assert_eq!(
            got.ok().map(|v| v["metadata"]["annotations"].clone()),
            Some(json!({"x": "y", "note": "hello world"}))
        );
        // Lists replace in a merge patch.
        let got = merge_patch(&original, &json!({"spec": {"podCIDRs": ["10.42.1.0/24"]}}));
        assert_eq!(
            got.ok().map(|v| v["spec"]["podCIDRs"].clone()),
            Some(json!(["10.42.1.0/24"]))
        );
        assert_eq!(
            merge_patch(&original, &json!([1])).err().map(|e| e.code),
            Some(400)
        );
    }

    #[test]
    fn json_patches() {
        let original = json!({"metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}});
        let ok = json_patch(
            &original,
            &json!([
                {"op": "test", "path": "/data/k", "value": "v"},
                {"op": "add", "path": "/data/n", "value": "m"},
                {"op": "remove", "path": "/metadata/labels/a"},
                {"op": "replace", "path": "/metadata/name", "value": "d"},
                {"op": "copy", "from": "/data/k", "path": "/data/k2"},
                {"op": "move", "from": "/data/n", "path": "/data/n2"}
            ]),
        );
        assert_eq!(
            ok.ok(),
            Some(
                json!({"metadata": {"name": "d", "labels": {}}, "data": {"k": "v", "k2": "v", "n2": "m"}})
            )
        );
        let failed = json_patch(
            &original,
            &json!([{"op": "test", "path": "/data/k", "value": "other"}]),
        );
        let failed = failed.err();
        assert_eq!(failed.as_ref().map(|e| e.code), Some(422));
        assert!(failed.is_some_and(|e| e.message.contains("value did not match")));
        assert_eq!(
            json_patch(&original, &json!([{"op": "remove", "path": "/nope"}]))
                .err()
                .map(|e| e.code),
            Some(422)
        );
        for bad in [
            json!({"op": "add"}),
            json!([{"op": "explode", "path": "/a"}]),
            json!("x"),
            json!([{"path": "/a"}]),
        ] {
            assert_eq!(
                json_patch(&original, &bad).err().map(|e| e.code),
                Some(400),
                "{bad}"
            );
        }
        let many = Value::Array(vec![
            json!({"op": "test", "path": "/data", "value": {}});
            MAX_JSON_PATCH_OPERATIONS + 1
        ]);
        assert_eq!(
            json_patch(&original, &many).err().map(|e| e.code),
            Some(413)
        );
        assert_eq!(
            apply_patch(
                "ConfigMap",
                &original,
                PatchType::Json,
                &json!([{"op": "add", "path": "/data/z", "value": "1"}])
            )
            .ok()
            .map(|v| v["data"]["z"].clone()),
            Some(json!("1"))
        );
    }

    #[test]
    fn kubectl_apply_update_of_a_configmap() {
        // The body kubectl-wire.md captured for `kubectl apply` on an existing ConfigMap.
        let original = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c1", "namespace": "default", "resourceVersion": "5", "labels": {"keep": "me"},
                          "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"old\":1}\n"}},
            "data": {"a": "b", "z": "y"}
        });
        let patch = json!({"data": {"a": "c"}, "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":1}\n"}}});
        let got = smp("ConfigMap", original.clone(), patch);
        assert_eq!(got["data"], json!({"a": "c", "z": "y"}));
        assert_eq!(
            got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{\"new\":1}\n"
        );
        assert_eq!(got["metadata"]["labels"], json!({"keep": "me"}));
        assert_eq!(got["metadata"]["resourceVersion"], "5");
        // A key dropped from the file: apply sends null.
        let got = smp("ConfigMap", original, json!({"data": {"z": null}}));
        assert_eq!(got["data"], json!({"a": "b"}));
    }

    #[test]
    fn kubectl_taint_and_cordon_replace_node_spec_fields() {
        let original = json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "spec": {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"],
                     "taints": [{"key": "old", "value": "x", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        // kubectl taint node n1 k=v:NoSchedule: the whole list, old taints included.
        let both = json!([{"key": "old", "value": "x", "effect": "NoSchedule"}, {"effect": "NoSchedule", "key": "k", "value": "v"}]);
        let got = smp(
            "Node",
            original.clone(),
            json!({"spec": {"taints": both.clone()}}),
        );
        assert_eq!(got["spec"]["taints"], both);
        // kubectl taint node n1 old- : the remaining list, which replaces (no merge key).
        let only = json!([{"effect": "NoSchedule", "key": "k", "value": "v"}]);
        let got = smp("Node", got, json!({"spec": {"taints": only.clone()}}));
        assert_eq!(got["spec"]["taints"], only);
        // Removing the last taint sends null.
        let got = smp("Node", got, json!({"spec": {"taints": null}}));
        assert!(got["spec"].get("taints").is_none());
        assert_eq!(got["spec"]["podCIDRs"], json!(["10.42.0.0/24"]));
        // kubectl cordon / uncordon
        let got = smp(
            "Node",
            original.clone(),
            json!({"spec": {"unschedulable": true}}),
        );
        assert_eq!(got["spec"]["unschedulable"], true);
        let got = smp("Node", got, json!({"spec": {"unschedulable": null}}));
        assert!(got["spec"].get("unschedulable").is_none());
        assert_eq!(got["status"], original["status"]);
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "finalizers": ["a/x", "b/y"],
                         "ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
            "spec": {
                "containers": [
                    {"name": "app", "image": "nginx:1.26", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}], "volumeMounts": [{"name": "v", "mountPath": "/data"}]},
                    {"name": "sidecar", "image": "busybox"}
                ],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "tolerations": [{"key": "a", "operator": "Exists"}]
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
        })
    }

    #[test]
    fn kubectl_apply_on_containers_with_set_element_order() {
        // Change an image.
        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
                   "spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                            "containers": [{"image": "nginx:1.27", "name": "app"}]}}),
        );
        let containers = &got["spec"]["containers"];
        assert_eq!(names(containers), ["app", "sidecar"]);
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(containers[0]["env"], pod()["spec"]["containers"][0]["env"]);
        assert!(got["spec"].get("$setElementOrder/containers").is_none());

        // Insert a container in the middle.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "new"}, {"name": "sidecar"}],
                            "containers": [{"image": "redis", "name": "new"}]}}),
        );
        assert_eq!(names(&got["spec"]["containers"]), ["app", "new", "sidecar"]);

        // Delete a container.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "app"}],
                            "containers": [{"$patch": "delete", "name": "sidecar"}]}}),
        );
        assert_eq!(names(&got["spec"]["containers"]), ["app"]);

        // Reorder without content changes.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}),
        );
        assert_eq!(names(&got["spec"]["containers"]), ["sidecar", "app"]);

        // Patch items out of the declared order are refused.
        let err = smp_err(
            "Pod",
            pod(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                            "containers": [{"name": "sidecar", "image": "x"}, {"name": "app", "image": "y"}]}}),
        );
        assert_eq!(err.code, 400);
        assert!(
            err.message.starts_with("The order in patch list:"),
            "{}",
            err.message
        );
    }

    #[test]
    fn nested_lists_merge_by_their_keys() {
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "app",
                "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                "volumeMounts": [{"mountPath": "/data", "readOnly": true}]}]}}),
        );
        let app = &got["spec"]["containers"][0];
        assert_eq!(
            app["env"],
            json!([{"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(
            app["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
        );
        assert_eq!(
            app["volumeMounts"],
            json!([{"name": "v", "mountPath": "/data", "readOnly": true}])
        );
        assert_eq!(app["image"], "nginx:1.26");
        assert_eq!(names(&got["spec"]["containers"]), ["app", "sidecar"]);
        // Atomic lists replace.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}),
        );
        assert_eq!(
            got["spec"]["tolerations"],
            json!([{"key": "b", "operator": "Exists"}])
        );
    }

    #[test]
    fn new_items_come_before_server_only_items_without_an_order() {
        // Kubernetes' ordering: patch items first unless the server order says otherwise.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "extra", "image": "x"}]}}),
        );
        assert_eq!(
            names(&got["spec"]["containers"]),
            ["extra", "app", "sidecar"]
        );
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "sidecar", "image": "x"}, {"name": "extra"}]}}),
        );
        assert_eq!(
            names(&got["spec"]["containers"]),
            ["app", "sidecar", "extra"]
        );
    }

    #[test]
    fn status_lists_merge_by_type() {
        let got = smp(
            "Pod",
            pod(),
            json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}}),
        );
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}, {"type": "PodScheduled", "status": "True"}])
        );

        let node = json!({"kind": "Node", "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}]}});
        let got = smp(
            "Node",
            node,
            json!({"status": {"$setElementOrder/conditions": [{"type": "Ready"}, {"type": "MemoryPressure"}],
                              "conditions": [{"type": "Ready", "status": "Unknown"}],
                              "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}),
        );
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type": "Ready", "status": "Unknown"}, {"type": "MemoryPressure", "status": "False"}])
        );
        assert_eq!(
            got["status"]["addresses"],
            json!([{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}])
        );
    }

    #[test]
    fn service_ports_owner_references_and_finalizers() {
        let svc = json!({"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let got = smp(
            "Service",
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            got["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );

        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}, {"uid": "u2", "kind": "Job", "name": "j"}]}}),
        );
        assert_eq!(
            got["metadata"]["ownerReferences"],
            json!([{"uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": true}, {"uid": "u2", "kind": "Job", "name": "j"}])
        );

        // Finalizers merge as a set; kubectl apply removes with a parallel list.
        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"finalizers": ["b/y", "c/z"]}}),
        );
        assert_eq!(got["metadata"]["finalizers"], json!(["a/x", "b/y", "c/z"]));
        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"$setElementOrder/finalizers": ["b/y", "c/z"], "$deleteFromPrimitiveList/finalizers": ["a/x"], "finalizers": ["c/z"]}}),
        );
        assert_eq!(got["metadata"]["finalizers"], json!(["b/y", "c/z"]));
        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x", "nope"]}}),
        );
        assert_eq!(got["metadata"]["finalizers"], json!(["b/y"]));
        let got = smp(
            "ConfigMap",
            json!({"metadata": {}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}}),
        );
        assert!(got["metadata"].get("finalizers").is_none());
        // Node podCIDRs are a set too.
        let got = smp(
            "Node",
            json!({"spec": {"podCIDRs": ["a"]}}),
            json!({"spec": {"podCIDRs": ["a", "b"]}}),
        );
        assert_eq!(got["spec"]["podCIDRs"], json!(["a", "b"]));
    }

    #[test]
    fn directives() {
        // $patch: replace on a map.
        let got = smp(
            "Pod",
            pod(),
            json!({"metadata": {"finalizers": {"$patch": "replace"}}}),
        );
        assert_eq!(got["metadata"]["finalizers"], json!({}));
        let got = smp(
            "ConfigMap",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"c": "3"}));
        // $patch: delete on a map empties it.
        let got = smp(
            "ConfigMap",
            json!({"data": {"a": "1"}}),
            json!({"data": {"$patch": "delete"}}),
        );
        assert_eq!(got["data"], json!({}));
        // $patch: merge on a map is the default.
        let got = smp(
            "ConfigMap",
            json!({"data": {"a": "1"}}),
            json!({"data": {"$patch": "merge", "b": "2"}}),
        );
        assert_eq!(got["data"], json!({"a": "1", "b": "2"}));
        // $patch: replace in a merging list.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}),
        );
        assert_eq!(
            got["spec"]["containers"],
            json!([{"name": "only", "image": "x"}])
        );
        // $retainKeys clears the keys a union no longer uses.
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}}),
        );
        assert_eq!(
            got["spec"]["volumes"],
            json!([{"name": "v", "configMap": {"name": "cm"}}])
        );
        // Directives in values new to the object are resolved, not stored.
        let got = smp(
            "Pod",
            json!({"spec": {}}),
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]},
                   "metadata": {"labels": {"$patch": "replace", "x": "y"}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"containers": [{"name": "a", "env": []}]}, "metadata": {"labels": {"x": "y"}}})
        );
    }

    #[test]
    fn malformed_patches_are_errors() {
        let cases = [
            (json!([1]), 400, "invalid JSON document"),
            (
                json!({"spec": {"containers": [{"image": "x"}]}}),
                400,
                "does not contain declared merge key: name",
            ),
            (
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                400,
                "does not contain declared merge key: name",
            ),
            (
                json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
                400,
                "merging lists cannot yet be specified in the patch",
            ),
            (
                json!({"spec": {"containers": [{"name": "a", "$patch": "explode"}]}}),
                400,
                "unknown patch type",
            ),
            (
                json!({"spec": {"$patch": 5}}),
                400,
                "unknown patch type: 5 in map",
            ),
            (
                json!({"spec": {"containers": [["a"]]}}),
                422,
                "lists of lists are not supported",
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}, "b"]}}),
                400,
                "list element types are not identical",
            ),
            (
                json!({"metadata": {"finalizers": ["a", {"b": 1}]}}),
                400,
                "list element types are not identical",
            ),
            (
                json!({"spec": {"$retainKeys": "x"}}),
                400,
                "invalid patch format of retainKeys",
            ),
            (
                json!({"spec": {"$retainKeys": ["a"], "b": 1}}),
                400,
                "invalid patch format of retainKeys",
            ),
            (
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
                400,
                "invalid patch format of primitive list",
            ),
            (
                json!({"metadata": {"$deleteFromPrimitiveListX/finalizers": ["a"]}}),
                400,
                "invalid patch format of primitive list",
            ),
            (
                json!({"spec": {"$setElementOrder/containers": {"name": "a"}}}),
                400,
                "invalid patch format of setElementOrder list",
            ),
            (
                json!({"spec": {"$setElementOrderX": []}}),
                400,
                "invalid patch format of setElementOrder list",
            ),
            (
                json!({"spec": {"$setElementOrder/containers": ["a"], "containers": [{"name": "a"}]}}),
                400,
                "is not a map",
            ),
            (
                json!({"spec": {"$setElementOrder/containers": [{"x": 1}], "containers": [{"name": "a"}]}}),
                400,
                "does not contain declared merge key",
            ),
            (
                json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "emptyDir": {}}]}}),
                400,
                "invalid patch format of retainKeys",
            ),
        ];
        for (patch, code, text) in cases {
            let err = smp_err("Pod", pod(), patch.clone());
            assert_eq!(err.code, code, "{patch}: {}", err.message);
            assert!(err.message.contains(text), "{patch}: {}", err.message);
        }
        // An invalid merge that isn't used by a merging list is just a value.
        let got = smp("ConfigMap", json!({}), json!({"data": {"a": [["x"]]}}));
        assert_eq!(got["data"]["a"], json!([["x"]]));
    }

    #[test]
    fn merge_key_table() {
        let cases: [(&str, &[&str], ListStrategy); 12] = [
            (
                "Pod",
                &["spec", "containers"],
                ListStrategy::MergeByKey("name"),
            ),
            (
                "Pod",
                &["spec", "initContainers", "env"],
                ListStrategy::MergeByKey("name"),
            ),
            (
                "Pod",
                &["spec", "ephemeralContainers", "ports"],
                ListStrategy::MergeByKey("containerPort"),
            ),
            (
                "Pod",
                &["spec", "containers", "volumeMounts"],
                ListStrategy::MergeByKey("mountPath"),
            ),
            (
                "Pod",
                &["spec", "volumes"],
                ListStrategy::MergeByKey("name"),
            ),
            (
                "Pod",
                &["spec", "imagePullSecrets"],
                ListStrategy::MergeByKey("name"),
            ),
            ("Pod", &["spec", "tolerations"], ListStrategy::Replace),
            ("Node", &["spec", "taints"], ListStrategy::Replace),
            (
                "Node",
                &["status", "addresses"],
                ListStrategy::MergeByKey("type"),
            ),
            (
                "Service",
                &["spec", "ports"],
                ListStrategy::MergeByKey("port"),
            ),
            ("Lease", &["metadata", "finalizers"], ListStrategy::MergeSet),
            (
                "ConfigMap",
                &["metadata", "ownerReferences"],
                ListStrategy::MergeByKey("uid"),
            ),
        ];
        for (kind, path, want) in cases {
            assert_eq!(list_strategy(kind, path), want, "{kind} {path:?}");
        }
    }

    /// Deterministic odd JSON values built from directive-laden pieces.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn value(&mut self, depth: u32) -> Value {
            let keys = [
                "name",
                "type",
                "port",
                "containers",
                "env",
                "spec",
                "status",
                "metadata",
                "finalizers",
                "conditions",
                "$patch",
                "$retainKeys",
                "$setElementOrder/containers",
                "$setElementOrder/finalizers",
                "$deleteFromPrimitiveList/finalizers",
                "$setElementOrder",
                "$deleteFromPrimitiveList",
                "ports",
                "containerPort",
                "volumes",
                "addresses",
                "taints",
            ];
            let scalars = [
                json!(null),
                json!("delete"),
                json!("replace"),
                json!("merge"),
                json!("a"),
                json!(1),
                json!(1.0),
                json!(true),
            ];
            match if depth == 0 {
                self.next() % 2
            } else {
                self.next() % 5
            } {
                0 | 1 => scalars[(self.next() as usize) % scalars.len()].clone(),
                2 | 3 => {
                    let mut m = Map::new();
                    for _ in 0..self.next() % 4 {
                        let k = keys[(self.next() as usize) % keys.len()];
                        m.insert(k.to_owned(), self.value(depth - 1));
                    }
                    Value::Object(m)
                }
                _ => Value::Array(
                    (0..self.next() % 4)
                        .map(|_| self.value(depth - 1))
                        .collect(),
                ),
            }
        }
    }

    #[test]
    fn patches_never_panic() {
        let mut g = Gen(42);
        let mut applied = 0;
        for i in 0..3000 {
            let original = g.value(4);
            let patch = g.value(4);
            let kind = ["Pod", "Node", "Service", "ConfigMap"][i % 4];
            if strategic_merge_patch(kind, &original, &patch).is_ok() {
                applied += 1;
            }
            let _ = merge_patch(&original, &patch);
            let _ = json_patch(&original, &patch);
        }
        // Also against a realistic object.
        for _ in 0..2000 {
            let patch = Value::Object(match g.value(5) {
                Value::Object(m) => m,
                other => {
                    let mut m = Map::new();
                    m.insert("spec".into(), other);
                    m
                }
            });
            let _ = strategic_merge_patch("Pod", &pod(), &patch);
        }
        assert!(applied > 300, "only {applied} patches applied");
    }
}
