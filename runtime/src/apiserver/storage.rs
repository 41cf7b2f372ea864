//! Kubernetes objects on the datastore: keys, encoding, resource versions,
//! continue tokens, and the mapping of datastore errors to API errors.
//!
//! Owns the layout `/registry/<resource>/<namespace>/<name>` (Kubernetes'
//! own), the rule that an object's `resourceVersion` is its mod revision (never
//! stored, set on read), and encryption at rest of the kinds configured for it.
//! Must not apply Kubernetes semantics (defaults, validation, finalizers):
//! that is the handlers' job.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use edge_apimachinery::resources::ResourceType;
use edge_apimachinery::status::{ApiError, GroupResource};
use edge_datastore::{
    DatastoreError, Event, EventKind, KeyRange, KeyValue, LeaseId, Revision, Store, Watch,
};

/// Encryption at rest for stored values (Secrets, when `--secrets-encryption`).
pub trait ValueTransformer: Send + Sync + std::fmt::Debug {
    /// Encrypts a value before it is written under `key`.
    fn encrypt(&self, key: &str, plaintext: &[u8]) -> Result<Vec<u8>, String>;
    /// Decrypts a value stored under `key`; values written before encryption
    /// was turned on are passed through.
    fn decrypt(&self, key: &str, stored: &[u8]) -> Result<Vec<u8>, String>;
}

/// A page of a listing.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    /// The revision the page is consistent at.
    pub revision: Revision,
    /// Token for the next page, if any.
    pub continue_token: Option<String>,
    /// Objects after this page, when known.
    pub remaining: Option<i64>,
}

/// What a watch event carries, decoded.
#[derive(Debug)]
pub struct ObjectEvent {
    pub kind: EventKind,
    /// The object after the write (for a delete: as it was, with the delete's revision).
    pub object: Value,
    /// The object before the write, when there was one.
    pub previous: Option<Value>,
    pub revision: Revision,
}

/// The object store the API handlers use.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    store: Store,
    /// Storage segments (`secrets`) whose values are encrypted.
    encrypted: Vec<&'static str>,
    transformer: Option<Arc<dyn ValueTransformer>>,
}

impl ObjectStore {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            encrypted: Vec::new(),
            transformer: None,
        }
    }

    /// Encrypts the values of `resources` (storage segments) with `transformer`.
    pub fn with_encryption(
        mut self,
        resources: &[&'static str],
        transformer: Arc<dyn ValueTransformer>,
    ) -> Self {
        self.encrypted = resources.to_vec();
        self.transformer = Some(transformer);
        self
    }

    /// The datastore underneath.
    pub fn datastore(&self) -> &Store {
        &self.store
    }

    /// `/registry/<storage>/[<namespace>/]<name>`.
    pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("/registry/{}/{ns}/{name}", rt.storage),
            None => format!("/registry/{}/{name}", rt.storage),
        }
    }

    /// The key prefix of a collection: one namespace's, or all.
    pub fn prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("/registry/{}/{ns}/", rt.storage),
            None => format!("/registry/{}/", rt.storage),
        }
    }

    fn encrypts(&self, rt: &ResourceType) -> Option<&Arc<dyn ValueTransformer>> {
        self.transformer
            .as_ref()
            .filter(|_| self.encrypted.contains(&rt.storage))
    }

    fn encode(&self, rt: &ResourceType, key: &str, object: &Value) -> Result<Vec<u8>, ApiError> {
        let mut object = object.clone();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("selfLink");
        }
        let bytes = serde_json::to_vec(&object).map_err(ApiError::internal)?;
        match self.encrypts(rt) {
            Some(t) => t
                .encrypt(key, &bytes)
                .map_err(|e| ApiError::internal(format!("cannot encrypt {key}: {e}"))),
            None => Ok(bytes),
        }
    }

    fn decode(&self, rt: &ResourceType, kv: &KeyValue) -> Result<Value, ApiError> {
        let plain;
        let bytes = match self.encrypts(rt) {
            Some(t) => {
                plain = t
                    .decrypt(&kv.key, &kv.value)
                    .map_err(|e| ApiError::internal(format!("cannot decrypt {}: {e}", kv.key)))?;
                &plain
            }
            None => &kv.value,
        };
        let mut object: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key))
        })?;
        set_resource_version(&mut object, kv.mod_revision);
        Ok(object)
    }

    fn error(&self, rt: &ResourceType, name: &str, e: DatastoreError) -> ApiError {
        let resource = GroupResource::new(rt.group, rt.plural);
        match e {
            DatastoreError::KeyExists { .. } => ApiError::already_exists(resource, name),
            DatastoreError::NotFound { .. } => ApiError::not_found(resource, name),
            DatastoreError::Conflict { .. } => ApiError::conflict_modified(resource, name),
            DatastoreError::Compacted {
                requested,
                compact_revision,
            } => ApiError::expired(format!(
                "too old resource version: {requested} ({compact_revision})"
            )),
            DatastoreError::FutureRevision { requested, current } => ApiError::too_many_requests(
                &format!("Too large resource version: {requested}, current: {current}"),
                1,
            ),
            e if e.is_unavailable() => {
                ApiError::service_unavailable(format!("the datastore is unavailable: {e}"))
            }
            DatastoreError::InvalidRequest(m) => ApiError::bad_request(m),
            other => ApiError::internal(other),
        }
    }

    /// The object, or 404.
    pub async fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = Self::key(rt, namespace, name);
        let (_, kv) = self
            .store
            .get(&key)
            .await
            .map_err(|e| self.error(rt, name, e))?;
        match kv {
            Some(kv) => self.decode(rt, &kv),
            None => Err(ApiError::not_found(
                GroupResource::new(rt.group, rt.plural),
                name,
            )),
        }
    }

    /// The object if present.
    pub async fn try_get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        match self.get(rt, namespace, name).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of a collection. `continue_token` resumes a previous listing at
    /// its revision; `revision` (when no token) asks for a past revision.
    pub async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        limit: usize,
        continue_token: Option<&str>,
        revision: Option<Revision>,
    ) -> Result<Page, ApiError> {
        let prefix = Self::prefix(rt, namespace);
        let (range, at) = match continue_token {
            Some(token) => {
                let (rev, start) = decode_continue(token)?;
                (
                    KeyRange::prefix_from(&prefix, &format!("{prefix}{start}")),
                    Some(rev),
                )
            }
            None => (KeyRange::prefix(&prefix), revision),
        };
        let result = self
            .store
            .list(&range, limit, at)
            .await
            .map_err(|e| match e {
                DatastoreError::Compacted { .. } if continue_token.is_some() => ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter.",
                ),
                e => self.error(rt, "", e),
            })?;
        let mut items = Vec::with_capacity(result.kvs.len());
        for kv in &result.kvs {
            items.push(self.decode(rt, kv)?);
        }
        let continue_token = match (result.more, result.kvs.last()) {
            (true, Some(last)) => {
                let suffix = last.key.strip_prefix(&prefix).unwrap_or(&last.key);
                Some(encode_continue(result.revision, &format!("{suffix}\0")))
            }
            _ => None,
        };
        Ok(Page {
            items,
            revision: result.revision,
            continue_token,
            remaining: None,
        })
    }

    /// Stores a new object; 409 AlreadyExists if the name is taken.
    pub async fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
        lease: LeaseId,
    ) -> Result<Value, ApiError> {
        let key = Self::key(rt, namespace, name);
        let value = self.encode(rt, &key, object)?;
        let kv = self
            .store
            .create(&key, value, lease)
            .await
            .map_err(|e| self.error(rt, name, e))?;
        let mut object = object.clone();
        set_resource_version(&mut object, kv.mod_revision);
        Ok(object)
    }

    /// Replaces an object if it is still at `expected`; 409 Conflict otherwise.
    pub async fn update(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
        expected: Revision,
    ) -> Result<Value, ApiError> {
        let key = Self::key(rt, namespace, name);
        let value = self.encode(rt, &key, object)?;
        let kv = self
            .store
            .update(&key, value, expected, 0)
            .await
            .map_err(|e| self.error(rt, name, e))?;
        let mut object = object.clone();
        set_resource_version(&mut object, kv.mod_revision);
        Ok(object)
    }

    /// Deletes an object (if still at `expected`, when given); returns it as it was.
    pub async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        expected: Option<Revision>,
    ) -> Result<Value, ApiError> {
        let key = Self::key(rt, namespace, name);
        let (revision, prev) = self
            .store
            .delete(&key, expected)
            .await
            .map_err(|e| self.error(rt, name, e))?;
        let mut object = self.decode(rt, &prev)?;
        set_resource_version(&mut object, revision);
        Ok(object)
    }

    /// Watches a collection from `from` (exclusive, like Kubernetes'
    /// resourceVersion; 0 = from now).
    pub async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        from: Revision,
    ) -> Result<Watch, ApiError> {
        let start = if from == 0 { 0 } else { from + 1 };
        self.store
            .watch(KeyRange::prefix(&Self::prefix(rt, namespace)), start)
            .await
            .map_err(|e| self.error(rt, "", e))
    }

    /// Decodes a datastore event into objects.
    pub fn decode_event(&self, rt: &ResourceType, event: &Event) -> Result<ObjectEvent, ApiError> {
        let previous = event
            .prev
            .as_ref()
            .map(|p| self.decode(rt, p))
            .transpose()?;
        let object = match event.kind {
            EventKind::Put => self.decode(rt, &event.kv)?,
            EventKind::Delete => {
                let mut o = previous
                    .clone()
                    .ok_or_else(|| ApiError::internal("delete event without the deleted object"))?;
                set_resource_version(&mut o, event.revision());
                o
            }
        };
        Ok(ObjectEvent {
            kind: event.kind,
            object,
            previous,
            revision: event.revision(),
        })
    }

    /// The datastore's current revision.
    pub async fn current_revision(&self) -> Result<Revision, ApiError> {
        self.store.current_revision().await.map_err(|e| {
            ApiError::service_unavailable(format!("the datastore is unavailable: {e}"))
        })
    }
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, revision: Revision) {
    if let Some(obj) = object.as_object_mut() {
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
        }
    }
}

/// An object's resource version, if it carries a valid one.
pub fn resource_version(object: &Value) -> Result<Option<Revision>, ApiError> {
    match object.pointer("/metadata/resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse::<Revision>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}"))),
        Some(other) => Err(ApiError::bad_request(format!(
            "metadata.resourceVersion must be a string, not {other}"
        ))),
    }
}

/// Kubernetes-style continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"…"}`.
pub fn encode_continue(revision: Revision, start: &str) -> String {
    B64.encode(json!({"v": "meta.k8s.io/v1", "rv": revision, "start": start}).to_string())
}

/// Reads a continue token; a malformed one is a 400.
pub fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = B64.decode(token.trim_end_matches('=')).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rev = v
        .get("rv")
        .and_then(Value::as_i64)
        .filter(|r| *r > 0)
        .ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rev, start.to_owned()))
}

impl ValueTransformer for edge_pki::encryption::AesGcmProvider {
    fn encrypt(&self, key: &str, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        edge_pki::encryption::AesGcmProvider::encrypt(self, key, plaintext)
            .map_err(|e| e.to_string())
    }

    fn decrypt(&self, key: &str, stored: &[u8]) -> Result<Vec<u8>, String> {
        edge_pki::encryption::AesGcmProvider::decrypt(self, key, stored).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(42, "default/cm-7\0");
        assert_eq!(
            decode_continue(&t).expect("valid"),
            (42, "default/cm-7\0".into())
        );
        for bad in [
            "",
            "!!!",
            &B64.encode("{}"),
            &B64.encode(r#"{"rv":0,"start":""}"#),
        ] {
            assert_eq!(decode_continue(bad).expect_err(bad).code, 400);
        }
    }

    #[test]
    fn resource_versions() {
        let mut o = json!({"metadata": {"name": "x"}});
        assert_eq!(resource_version(&o).expect("ok"), None);
        set_resource_version(&mut o, 7);
        assert_eq!(o["metadata"]["resourceVersion"], "7");
        assert_eq!(resource_version(&o).expect("ok"), Some(7));
        let bad = json!({"metadata": {"resourceVersion": "abc"}});
        assert_eq!(resource_version(&bad).expect_err("bad").code, 400);
    }
}
