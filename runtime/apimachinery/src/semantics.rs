//! Kubernetes object semantics the server applies on writes: system metadata
//! (uid, creationTimestamp, generation), the fields a client may not change,
//! the split between an object and its status subresource, and per-kind
//! defaults (namespaces, services, secrets, pods).
//!
//! Pure: takes objects and returns objects. Allocation of cluster IPs needs
//! the datastore and lives with the handlers; this module only says where the
//! allocated address goes. Must not do IO.

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::status::{ApiError, FieldError, GroupKind};

/// The namespaces the API server creates at start and refuses to delete,
/// as kube-apiserver does.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Kubernetes' `metav1.Time` text for a time: seconds, UTC.
pub fn time_string(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metav1.MicroTime` text.
pub fn micro_time_string(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("just made an object")
}

/// Fields of the object proper (for kinds with a status subresource, a
/// change of anything but metadata and status bumps the generation).
fn spec_part(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("kind");
        m.remove("apiVersion");
    }
    o
}

/// Prepares a new object: system metadata and per-kind defaults.
pub fn on_create(
    rt: &ResourceType,
    namespace: Option<&str>,
    mut object: Value,
    now: jiff::Timestamp,
) -> Result<Value, ApiError> {
    object["apiVersion"] = Value::String(rt.api_version());
    object["kind"] = Value::String(rt.kind.to_owned());
    let meta = meta_mut(&mut object);
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert("creationTimestamp".into(), Value::String(time_string(now)));
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(k);
    }
    match namespace {
        Some(ns) => {
            meta.insert("namespace".into(), Value::String(ns.to_owned()));
        }
        None => {
            meta.remove("namespace");
        }
    }
    if rt.has_status {
        meta.insert("generation".into(), json!(1));
    }
    match (rt.group, rt.kind) {
        ("", "Namespace") => {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
            object["status"] = json!({"phase": "Active"});
        }
        ("", "Secret") => default_secret(&mut object)?,
        ("", "Service") => default_service(&mut object),
        ("", "Pod") => default_pod(&mut object),
        _ => {}
    }
    Ok(object)
}

/// Merges an update into the stored object: system metadata is kept, and
/// either the object without its status or only the status is taken,
/// depending on whether the request was to the status subresource.
pub fn on_update(
    rt: &ResourceType,
    old: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    let kind = GroupKind::new(rt.group, rt.kind);
    let name = old
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let new_name = new.pointer("/metadata/name").and_then(Value::as_str);
    if new_name.is_some_and(|n| n != name) {
        return Err(ApiError::invalid(
            kind,
            name,
            &[FieldError::invalid(
                "metadata.name",
                json!(new_name),
                "field is immutable",
            )],
        ));
    }
    if subresource == Some("status") {
        // Only the status (and nothing else) changes.
        let mut out = old.clone();
        out["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        if out["status"].is_null() {
            out.as_object_mut().expect("object").remove("status");
        }
        return Ok(out);
    }
    new["apiVersion"] = Value::String(rt.api_version());
    new["kind"] = Value::String(rt.kind.to_owned());
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    {
        let meta = meta_mut(&mut new);
        for k in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(k) {
                Some(v) => {
                    meta.insert(k.into(), v.clone());
                }
                None => {
                    meta.remove(k);
                }
            }
        }
        meta.remove("selfLink");
        meta.remove("managedFields");
    }
    if rt.has_status {
        // A write to the object proper cannot change its status.
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        if spec_part(old) != spec_part(&new) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
    }
    match (rt.group, rt.kind) {
        ("", "Secret") => {
            default_secret(&mut new)?;
            check_immutable(kind, name, old, &new, &["data", "type"])?;
        }
        ("", "ConfigMap") => check_immutable(kind, name, old, &new, &["data", "binaryData"])?,
        ("", "Service") => {
            // The cluster IP is immutable once allocated.
            let old_ip = old.pointer("/spec/clusterIP").cloned();
            if let Some(ip) = old_ip {
                let asked = new.pointer("/spec/clusterIP").cloned();
                if asked.as_ref().is_some_and(|a| a != &ip && a != "") {
                    return Err(ApiError::invalid(
                        kind,
                        name,
                        &[FieldError::invalid(
                            "spec.clusterIP",
                            asked.unwrap_or_default(),
                            "field is immutable",
                        )],
                    ));
                }
                new["spec"]["clusterIP"] = ip.clone();
                new["spec"]["clusterIPs"] = json!([ip]);
            }
            default_service(&mut new);
        }
        // A namespace's finalizers change only through /finalize.
        ("", "Namespace") if old.pointer("/metadata/deletionTimestamp").is_none() => {
            new["spec"] = old.get("spec").cloned().unwrap_or_else(|| json!({}));
        }
        _ => {}
    }
    Ok(new)
}

/// `stringData` is write-only: merged into `data` (base64) and dropped.
/// A Secret or ConfigMap marked `immutable: true` keeps its content and
/// stays immutable (its metadata may still change), as kube-apiserver rules.
fn check_immutable(
    kind: GroupKind<'_>,
    name: &str,
    old: &Value,
    new: &Value,
    fields: &[&str],
) -> Result<(), ApiError> {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return Ok(());
    }
    let mut errors = Vec::new();
    if new.get("immutable") != Some(&Value::Bool(true)) {
        errors.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in fields {
        if old.get(*field) != new.get(*field) {
            errors.push(FieldError::forbidden(
                *field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, name, &errors))
    }
}

fn default_secret(object: &mut Value) -> Result<(), ApiError> {
    use base64::Engine as _;
    if object.get("type").is_none() {
        object["type"] = json!("Opaque");
    }
    if let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        if !object.get("data").is_some_and(Value::is_object) {
            object["data"] = json!({});
        }
        for (k, v) in string_data {
            let s = v
                .as_str()
                .ok_or_else(|| ApiError::bad_request(format!("stringData.{k} must be a string")))?;
            object["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
        }
    }
    Ok(())
}

fn default_service(object: &mut Value) {
    let spec = &mut object["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec.get("type").is_none() {
        spec["type"] = json!("ClusterIP");
    }
    if spec.get("sessionAffinity").is_none() {
        spec["sessionAffinity"] = json!("None");
    }
    if spec.get("ipFamilies").is_none() {
        spec["ipFamilies"] = json!(["IPv4"]);
    }
    if spec.get("ipFamilyPolicy").is_none() {
        spec["ipFamilyPolicy"] = json!("SingleStack");
    }
    if spec.get("internalTrafficPolicy").is_none() {
        spec["internalTrafficPolicy"] = json!("Cluster");
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if p.get("protocol").is_none() {
                p["protocol"] = json!("TCP");
            }
            if p.get("targetPort").is_none()
                && let Some(port) = p.get("port").cloned()
            {
                p["targetPort"] = port;
            }
        }
    }
    if object.get("status").is_none() {
        object["status"] = json!({"loadBalancer": {}});
    }
}

fn default_pod(object: &mut Value) {
    let spec = &mut object["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("serviceAccountName", json!("default")),
        ("securityContext", json!({})),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
    ] {
        if spec.get(k).is_none() {
            spec[k] = v;
        }
    }
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                if c.get("imagePullPolicy").is_none() {
                    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                    let tag = image.rsplit('/').next().unwrap_or(image);
                    let latest = !tag.contains(':') || tag.ends_with(":latest");
                    c["imagePullPolicy"] = json!(if latest && !image.contains('@') {
                        "Always"
                    } else {
                        "IfNotPresent"
                    });
                }
                if c.get("terminationMessagePath").is_none() {
                    c["terminationMessagePath"] = json!("/dev/termination-log");
                }
                if c.get("terminationMessagePolicy").is_none() {
                    c["terminationMessagePolicy"] = json!("File");
                }
                if c.get("resources").is_none() {
                    c["resources"] = json!({});
                }
            }
        }
    }
    if object.get("status").is_none() {
        object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    fn now() -> jiff::Timestamp {
        "2026-11-25T10:00:00Z".parse().expect("time")
    }

    #[test]
    fn create_sets_system_metadata_and_defaults() {
        let ns = find("", "v1", "namespaces").expect("ns");
        let o = on_create(
            ns,
            None,
            json!({"metadata": {"name": "x", "resourceVersion": "9"}}),
            now(),
        )
        .expect("ok");
        assert_eq!(o["status"]["phase"], "Active");
        assert_eq!(o["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(o["metadata"]["creationTimestamp"], "2026-11-25T10:00:00Z");
        assert!(o["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        assert!(o["metadata"].get("resourceVersion").is_none());

        let secret = find("", "v1", "secrets").expect("secrets");
        let o = on_create(
            secret,
            Some("d"),
            json!({"metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}}),
            now(),
        )
        .expect("ok");
        assert_eq!(o["data"]["pw"], "aHVudGVyMg==");
        assert_eq!(o["type"], "Opaque");
        assert!(o.get("stringData").is_none());
        assert_eq!(o["metadata"]["namespace"], "d");

        let svc = find("", "v1", "services").expect("services");
        let o = on_create(
            svc,
            Some("d"),
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}),
            now(),
        )
        .expect("ok");
        assert_eq!(o["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(o["spec"]["type"], "ClusterIP");
    }

    #[test]
    fn update_keeps_what_clients_cannot_change() {
        let cm = find("", "v1", "configmaps").expect("cm");
        let old = on_create(
            cm,
            Some("d"),
            json!({"metadata": {"name": "c"}, "data": {"a": "1"}}),
            now(),
        )
        .expect("ok");
        let new = on_update(cm, &old, json!({"metadata": {"name": "c", "uid": "forged", "labels": {"x": "y"}}, "data": {"a": "2"}}), None).expect("ok");
        assert_eq!(new["metadata"]["uid"], old["metadata"]["uid"]);
        assert_eq!(new["metadata"]["labels"]["x"], "y");
        assert_eq!(new["data"]["a"], "2");
        let renamed =
            on_update(cm, &old, json!({"metadata": {"name": "other"}}), None).expect_err("rename");
        assert_eq!(renamed.code, 422);

        let node = find("", "v1", "nodes").expect("nodes");
        let old = on_create(
            node,
            None,
            json!({"metadata": {"name": "n"}, "spec": {}, "status": {"phase": "x"}}),
            now(),
        )
        .expect("ok");
        let new = on_update(node, &old, json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}, "status": {"phase": "forged"}}), None).expect("ok");
        assert_eq!(
            new["status"]["phase"], "x",
            "status changes only through /status"
        );
        assert_eq!(new["metadata"]["generation"], 2);
        let status = on_update(
            node,
            &new,
            json!({"metadata": {"name": "n"}, "spec": {}, "status": {"phase": "y"}}),
            Some("status"),
        )
        .expect("ok");
        assert_eq!(status["status"]["phase"], "y");
        assert_eq!(
            status["spec"]["unschedulable"], true,
            "spec changes only through the object"
        );
    }
}
