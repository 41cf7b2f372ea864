//! The Kubernetes REST verbs: get, list, watch, create, update, patch,
//! delete and deletecollection over the object store, with namespace
//! lifecycle, finalizers, dry runs, field validation, selectors and
//! pagination as the Kubernetes API conventions define them.
//!
//! Owns the order of operations of each verb. Must not know the wire details
//! of its helpers: decoding and semantics ([`edge_apimachinery::semantics`]), selectors,
//! patches, tables and errors live in their own modules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::auth::{self, Attributes, Identity};
use super::request::{RequestInfo, Verb};
use super::storage::{ObjectStore, resource_version, set_resource_version};
use super::watch;
use edge_apimachinery::patch::{PatchType, apply_patch};
use edge_apimachinery::protobuf;
use edge_apimachinery::resources::{self, ResourceType};
use edge_apimachinery::selector::{FieldSelector, LabelSelector};
use edge_apimachinery::semantics::{self, time_string};
use edge_apimachinery::status::{ApiError, FieldError, GroupKind, GroupResource};
use edge_apimachinery::table::{self, IncludeObject, Representation, TableOptions, TableVersion};
use edge_apimachinery::validation::{self, FieldValidation};
use edge_config::types::Cidr;
use edge_datastore::LeaseId;

/// Attempts of a patch that loses compare-and-swap races.
const PATCH_ATTEMPTS: usize = 8;

/// What the verbs share.
#[derive(Debug)]
pub struct Api {
    pub objects: ObjectStore,
    pub service_cidr: Cidr,
    pub cluster_cidr: Cidr,
    /// Events share a lease per minute, as kube-apiserver's lease manager does.
    pub(super) event_lease: Mutex<Option<(LeaseId, Instant)>>,
}

/// One API request.
#[derive(Debug)]
pub struct Call<'a> {
    pub who: &'a Identity,
    pub info: RequestInfo,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub method: &'a Method,
    pub body: Bytes,
}

impl Call<'_> {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    pub(crate) fn accept(&self) -> &str {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
    }

    fn namespace(&self) -> Option<&str> {
        self.info.namespace.as_deref()
    }

    fn group_resource(&self) -> GroupResource<'static> {
        GroupResource::new(self.info.resource.group, self.info.resource.plural)
    }
}

/// Builds a JSON response.
pub fn json_response(code: StatusCode, body: &Value, warnings: &[String]) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&validation::warning_header_value(w)) {
            response.headers_mut().append("warning", v);
        }
    }
    response
}

/// The `metav1.Status` response for an error.
pub fn error_response(e: &ApiError) -> Response {
    json_response(e.status_code(), &e.to_status(), &[])
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// What the client asked to get back, and how to build a Table if that.
pub(crate) fn representation(call: &Call<'_>) -> Result<(Representation, TableOptions), ApiError> {
    let representation = table::negotiate(Some(call.accept()), true)?;
    let version = match representation {
        Representation::Table(v) | Representation::PartialObjectMetadata { version: v, .. } => v,
        Representation::Json => TableVersion::V1,
    };
    let options = TableOptions {
        version,
        include_object: IncludeObject::parse(call.param("includeObject"))?,
        headers: true,
    };
    Ok((representation, options))
}

impl Api {
    pub fn new(objects: ObjectStore, service_cidr: Cidr, cluster_cidr: Cidr) -> Self {
        Self {
            objects,
            service_cidr,
            cluster_cidr,
            event_lease: Mutex::new(None),
        }
    }

    /// The verbs over the datastore's in-memory twin, for unit tests of
    /// everything built on them (no database, no listener).
    #[cfg(test)]
    pub(crate) fn in_memory(
        backend: &std::sync::Arc<edge_datastore::MemoryBackend>,
        service_cidr: &str,
        cluster_cidr: &str,
    ) -> Self {
        let store = edge_datastore::Store::in_memory(
            backend,
            edge_datastore::StoreOptions {
                expire_leases: false,
                ..Default::default()
            },
        );
        Self::new(
            ObjectStore::new(store),
            service_cidr.parse().expect("service CIDR"),
            cluster_cidr.parse().expect("cluster CIDR"),
        )
    }

    /// Serves one resource request.
    pub async fn handle(&self, call: Call<'_>) -> Response {
        let attributes = Attributes::of(
            call.info.verb.as_str(),
            call.info.resource,
            call.info.subresource.as_deref(),
            call.info.namespace.as_deref(),
            call.info.name.as_deref(),
        );
        if let Err(e) = auth::authorize(call.who, &attributes) {
            return error_response(&e);
        }
        let result = match call.info.verb {
            Verb::Get => self.get(&call).await,
            Verb::List => self.list(&call).await,
            Verb::Watch => watch::serve(self, &call).await,
            Verb::Create => self.create(&call).await,
            Verb::Update => self.update(&call).await,
            Verb::Patch => self.patch(&call).await,
            Verb::Delete => self.delete(&call).await,
            Verb::DeleteCollection => self.delete_collection(&call).await,
        };
        match result {
            Ok(response) => response,
            Err(e) => {
                if e.code >= 500 {
                    tracing::warn!(verb = call.info.verb.as_str(), resource = call.info.resource.plural, error = %e.message, "request failed");
                }
                error_response(&e)
            }
        }
    }

    /// Renders one object as JSON or, if asked, as a Table or metadata.
    fn object_response(
        &self,
        call: &Call<'_>,
        code: StatusCode,
        object: &Value,
        warnings: &[String],
    ) -> Result<Response, ApiError> {
        let (representation, options) = representation(call)?;
        let body = match representation {
            Representation::Json => object.clone(),
            Representation::Table(_) => {
                table::object_table(call.info.resource.kind, object, &options, now())
            }
            Representation::PartialObjectMetadata { version, .. } => {
                table::partial_object_metadata(object, version)
            }
        };
        Ok(json_response(code, &body, warnings))
    }

    async fn get(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let name = call.info.name.as_deref().unwrap_or_default();
        let object = self
            .objects
            .get(call.info.resource, call.namespace(), name)
            .await?;
        self.object_response(call, StatusCode::OK, &object, &[])
    }

    /// The selectors of a list, watch or deletecollection.
    pub(crate) fn selectors(
        &self,
        call: &Call<'_>,
    ) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = match call.param("labelSelector") {
            Some(s) => LabelSelector::parse(s)?,
            None => LabelSelector::everything(),
        };
        let fields = FieldSelector::parse(
            call.info.resource.kind,
            call.param("fieldSelector").unwrap_or(""),
        )?;
        Ok((labels, fields))
    }

    /// Lists a collection with selectors, limit and continue.
    pub(crate) async fn list_objects(
        &self,
        call: &Call<'_>,
    ) -> Result<(Vec<Value>, i64, Option<String>), ApiError> {
        let rt = call.info.resource;
        let (labels, fields) = self.selectors(call)?;
        let limit: usize = match call.param("limit") {
            Some(l) => l
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
            None => 0,
        };
        let revision =
            match (
                call.param("resourceVersion"),
                call.param("resourceVersionMatch"),
            ) {
                (Some(rv), Some("Exact")) => Some(rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?),
                _ => None,
            };
        // A field selector naming one object is a get.
        if let Some(name) = fields.exact_match("metadata.name") {
            let found = self.objects.try_get(rt, call.namespace(), name).await?;
            let revision = self.objects.current_revision().await?;
            let items = found
                .into_iter()
                .filter(|o| labels.matches_object(o) && fields.matches(o))
                .collect();
            return Ok((items, revision, None));
        }
        let mut token = call.param("continue").map(str::to_owned);
        let mut items = Vec::new();
        let filtering = !labels.is_empty() || !fields.is_empty();
        loop {
            let want = if limit == 0 {
                0
            } else {
                (limit - items.len()).max(if filtering { 100 } else { 1 })
            };
            let page = self
                .objects
                .list(rt, call.namespace(), want, token.as_deref(), revision)
                .await?;
            for item in page.items {
                if labels.matches_object(&item) && fields.matches(&item) {
                    items.push(item);
                }
            }
            token = page.continue_token;
            if token.is_none() || (limit != 0 && items.len() >= limit) {
                // When filtering overshoots the limit, continue after the last kept item.
                if limit != 0 && items.len() > limit {
                    items.truncate(limit);
                    let last = items.last().and_then(|o| {
                        let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
                        let name = o.pointer("/metadata/name").and_then(Value::as_str)?;
                        Some(match (call.namespace(), ns) {
                            (None, Some(ns)) if rt.namespaced => format!("{ns}/{name}\0"),
                            _ => format!("{name}\0"),
                        })
                    });
                    token =
                        last.map(|start| super::storage::encode_continue(page.revision, &start));
                }
                return Ok((items, page.revision, token));
            }
        }
    }

    async fn list(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let rt = call.info.resource;
        let (items, revision, token) = self.list_objects(call).await?;
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if let Some(t) = token {
            metadata["continue"] = json!(t);
        }
        let list = json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": metadata,
            "items": items,
        });
        let (representation, options) = representation(call)?;
        let body = match representation {
            Representation::Json => list,
            Representation::Table(_) => table::list_table(rt.kind, &list, &options, now()),
            Representation::PartialObjectMetadata { version, .. } => {
                table::partial_object_metadata_list(&list, version)
            }
        };
        Ok(json_response(StatusCode::OK, &body, &[]))
    }

    /// Decodes a request body (JSON, YAML or protobuf) and checks its kind.
    fn decode_body(
        &self,
        call: &Call<'_>,
        options_kind: &str,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let rt = call.info.resource;
        let content_type = call
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        let raw: Value = if protobuf::is_protobuf(mime) {
            protobuf::decode(&call.body, rt)?
        } else if mime == "application/json" || mime.is_empty() {
            serde_json::from_slice(&call.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))?
        } else if mime == "application/yaml" {
            let text = std::str::from_utf8(&call.body)
                .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
            serde_saphyr::from_str(text).map_err(|e| {
                ApiError::bad_request(format!(
                    "error decoding YAML: {}",
                    e.to_string().lines().next().unwrap_or("")
                ))
            })?
        } else {
            return Err(ApiError::unsupported_media_type(&[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ]));
        };
        if !raw.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if let Some(v) = raw.get("apiVersion").and_then(Value::as_str)
            && v != rt.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
        if let Some(k) = raw.get("kind").and_then(Value::as_str)
            && k != rt.kind
            && !(call.info.subresource.is_some() && k == rt.kind)
        {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        let validation_mode = FieldValidation::parse(call.param("fieldValidation"), options_kind)?;
        let (object, unknown) =
            (rt.decode)(&raw).map_err(|e| validation::cannot_handle(rt.kind, rt.version, e))?;
        let warnings = validation_mode.check(&unknown)?;
        Ok((object, warnings))
    }

    /// Refuses objects in a namespace that does not exist or is terminating.
    async fn check_namespace(&self, namespace: &str) -> Result<(), ApiError> {
        let ns_type = resources::find("", "v1", "namespaces").expect("namespaces are served");
        match self.objects.try_get(ns_type, None, namespace).await? {
            None => Err(ApiError::not_found(
                GroupResource::new("", "namespaces"),
                namespace,
            )),
            Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => {
                Err(ApiError::forbidden(
                    GroupResource::new("", "namespaces"),
                    namespace,
                    &format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    async fn create(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let rt = call.info.resource;
        let (object, warnings) = self.decode_body(call, "CreateOptions")?;
        if !rt.is_stored() {
            let answered = super::review::answer(rt, call.who, object)?;
            return self.object_response(call, StatusCode::CREATED, &answered, &warnings);
        }
        // Node restriction: a node may create only its own Node and Lease.
        if let Some(node) = call.who.node_name()
            && matches!(rt.kind, "Node" | "Lease")
        {
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name != node {
                return Err(ApiError::forbidden(
                    call.group_resource(),
                    name,
                    &format!("node \"{node}\" may only create its own {} object", rt.kind),
                ));
            }
        }
        let created = self
            .create_object(rt, call.namespace(), object, call.dry_run())
            .await?;
        self.object_response(call, StatusCode::CREATED, &created, &warnings)
    }

    /// Creates a decoded object: namespace checks, name generation, defaults,
    /// validation, allocations, storage. Also used by the server's own controllers.
    pub async fn create_object(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if let Some(ns) = namespace {
            let body_ns = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            self.check_namespace(ns).await?;
        }
        let generate = object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let has_name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let name_attempts = if has_name || generate.is_none() { 1 } else { 5 };
        for attempt in 0..name_attempts {
            if !has_name && let Some(prefix) = &generate {
                object["metadata"]["name"] =
                    json!(validation::generate_name(prefix, &mut rand::rng()));
            }
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if name.is_empty() {
                return Err(ApiError::invalid(
                    GroupKind::new(rt.group, rt.kind),
                    "",
                    &[FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ));
            }
            let mut prepared = semantics::on_create(rt, namespace, object.clone(), now())?;
            validation::check_object_meta(rt.group, rt.kind, rt.namespaced, &prepared)?;
            let lease = self.allocate(rt, &mut prepared, dry_run).await?;
            if dry_run {
                return Ok(prepared);
            }
            match self
                .objects
                .create(rt, namespace, &name, &prepared, lease)
                .await
            {
                Ok(created) => return Ok(created),
                Err(e) => {
                    self.release(rt, &prepared).await;
                    if e.code == 409
                        && generate.is_some()
                        && !has_name
                        && attempt + 1 < name_attempts
                    {
                        continue;
                    }
                    if e.code == 409 && generate.is_some() && !has_name {
                        return Err(ApiError::generate_name_conflict(
                            GroupResource::new(rt.group, rt.plural),
                            &name,
                            1,
                        ));
                    }
                    return Err(e);
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn update(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let rt = call.info.resource;
        let name = call.info.name.as_deref().unwrap_or_default();
        let (body, warnings) = self.decode_body(call, "UpdateOptions")?;
        if let Some(n) = body.pointer("/metadata/name").and_then(Value::as_str)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let old = match self.objects.try_get(rt, call.namespace(), name).await? {
            Some(old) => old,
            // Endpoints and events may be created by a PUT, as in Kubernetes.
            None if matches!(rt.kind, "Endpoints" | "Event") && call.info.subresource.is_none() => {
                let created = self
                    .create_object(rt, call.namespace(), body, call.dry_run())
                    .await?;
                return self.object_response(call, StatusCode::CREATED, &created, &warnings);
            }
            None => return Err(ApiError::not_found(call.group_resource(), name)),
        };
        if let Some(rv) = resource_version(&body)?
            && Some(rv) != resource_version(&old)?
        {
            return Err(ApiError::conflict_modified(call.group_resource(), name));
        }
        let stored = self.replace(call, &old, body).await?;
        self.object_response(call, StatusCode::OK, &stored, &warnings)
    }

    /// Applies an update of `old` to `new`, honouring the subresource.
    async fn replace(
        &self,
        call: &Call<'_>,
        old: &Value,
        mut new: Value,
    ) -> Result<Value, ApiError> {
        let rt = call.info.resource;
        let name = call.info.name.as_deref().unwrap_or_default();
        if call.info.subresource.as_deref() == Some("finalize") {
            // Only the namespace's spec.finalizers change through /finalize.
            let finalizers = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            new = old.clone();
            new["spec"]["finalizers"] = finalizers;
        } else {
            new = semantics::on_update(rt, old, new, call.info.subresource.as_deref())?;
        }
        validation::check_object_meta(rt.group, rt.kind, rt.namespaced, &new)?;
        let old_rv = resource_version(old)?.unwrap_or_default();
        let mut unchanged = new.clone();
        set_resource_version(&mut unchanged, old_rv);
        if &unchanged == old {
            return Ok(old.clone());
        }
        if call.dry_run() {
            return Ok(new);
        }
        let stored = self
            .objects
            .update(rt, call.namespace(), name, &new, old_rv)
            .await?;
        self.finish_deletion(rt, call.namespace(), name, &stored)
            .await
    }

    /// An object marked for deletion whose finalizers are all gone is deleted.
    async fn finish_deletion(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
    ) -> Result<Value, ApiError> {
        let marked = object.pointer("/metadata/deletionTimestamp").is_some();
        let empty = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        };
        let finalized =
            empty("/metadata/finalizers") && (rt.kind != "Namespace" || empty("/spec/finalizers"));
        if marked && finalized {
            let rv = resource_version(object)?;
            match self.objects.delete(rt, namespace, name, rv).await {
                Ok(deleted) => {
                    self.release(rt, &deleted).await;
                    return Ok(deleted);
                }
                Err(e) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(object.clone())
    }

    async fn patch(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let rt = call.info.resource;
        let name = call.info.name.as_deref().unwrap_or_default();
        let content_type = call
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let patch_type = PatchType::from_content_type(content_type)?;
        let patch: Value = serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let validation_mode =
            FieldValidation::parse(call.param("fieldValidation"), "PatchOptions")?;
        let precondition = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for _ in 0..PATCH_ATTEMPTS {
            let old = self.objects.get(rt, call.namespace(), name).await?;
            if let Some(rv) = &precondition
                && resource_version(&old)?.map(|r| r.to_string()).as_deref() != Some(rv.as_str())
            {
                return Err(ApiError::conflict_modified(call.group_resource(), name));
            }
            let patched = apply_patch(rt.kind, &old, patch_type, &patch)?;
            let (patched, unknown) = (rt.decode)(&patched)
                .map_err(|e| validation::cannot_handle(rt.kind, rt.version, e))?;
            let warnings = validation_mode.check(&unknown)?;
            match self.replace(call, &old, patched).await {
                Ok(stored) => {
                    return self.object_response(call, StatusCode::OK, &stored, &warnings);
                }
                Err(e) if e.code == 409 && precondition.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::conflict(
            call.group_resource(),
            name,
            "too many concurrent writers; try again",
        ))
    }

    async fn delete(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let name = call.info.name.as_deref().unwrap_or_default();
        let options: Value = if call.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&call.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        };
        let dry_run = call.dry_run()
            || options
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v == "All"));
        let deleted = self
            .delete_object(
                call.info.resource,
                call.namespace(),
                name,
                &options,
                dry_run,
            )
            .await?;
        self.object_response(call, StatusCode::OK, &deleted, &[])
    }

    /// Deletes an object, or marks it for deletion when finalizers hold it.
    pub async fn delete_object(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let gr = GroupResource::new(rt.group, rt.plural);
        let old = self.objects.get(rt, namespace, name).await?;
        if let Some(uid) = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            && old.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
        {
            return Err(ApiError::conflict(
                gr,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old.pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            && old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                != Some(rv)
        {
            return Err(ApiError::conflict(
                gr,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    old.pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            ));
        }
        if rt.kind == "Namespace" && semantics::SYSTEM_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                gr,
                name,
                "this namespace may not be deleted",
            ));
        }
        let has_finalizers = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let rv = resource_version(&old)?;
        if rt.kind == "Namespace" || has_finalizers {
            if old.pointer("/metadata/deletionTimestamp").is_some() || dry_run {
                return Ok(old);
            }
            let mut marked = old.clone();
            marked["metadata"]["deletionTimestamp"] = json!(time_string(now()));
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if rt.kind == "Namespace" {
                marked["status"]["phase"] = json!("Terminating");
            }
            return self
                .objects
                .update(rt, namespace, name, &marked, rv.unwrap_or_default())
                .await;
        }
        if dry_run {
            return Ok(old);
        }
        let deleted = self.objects.delete(rt, namespace, name, rv).await?;
        self.release(rt, &deleted).await;
        Ok(deleted)
    }

    /// Read-modify-write of an object by the server itself (no authorization,
    /// no client-facing semantics: controllers may write status and spec).
    /// `change` returns false to leave the object alone. Retries lost races.
    pub async fn update_with(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        mut change: impl FnMut(&mut Value) -> bool,
    ) -> Result<Option<Value>, ApiError> {
        for _ in 0..PATCH_ATTEMPTS {
            let Some(old) = self.objects.try_get(rt, namespace, name).await? else {
                return Ok(None);
            };
            let mut new = old.clone();
            if !change(&mut new) {
                return Ok(Some(old));
            }
            let rv = resource_version(&old)?.unwrap_or_default();
            match self.objects.update(rt, namespace, name, &new, rv).await {
                Ok(stored) => {
                    return self
                        .finish_deletion(rt, namespace, name, &stored)
                        .await
                        .map(Some);
                }
                Err(e) if e.code == 409 => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::conflict(
            GroupResource::new(rt.group, rt.plural),
            name,
            "too many concurrent writers",
        ))
    }

    async fn delete_collection(&self, call: &Call<'_>) -> Result<Response, ApiError> {
        let rt = call.info.resource;
        let (items, _, _) = self.list_objects(call).await?;
        let mut deleted = Vec::new();
        for item in items {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match self
                .delete_object(rt, ns.as_deref(), &name, &json!({}), call.dry_run())
                .await
            {
                Ok(d) => deleted.push(d),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let revision = self.objects.current_revision().await?;
        let list = json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": {"resourceVersion": revision.to_string()},
            "items": deleted,
        });
        Ok(json_response(StatusCode::OK, &list, &[]))
    }
}
