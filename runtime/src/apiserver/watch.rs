//! Watch responses: a chunked stream of `{"type": …, "object": …}` lines.
//!
//! Owns the watch protocol's semantics: the initial state for a watch without
//! a resource version (synthetic ADDED events, and the `initial-events-end`
//! bookmark when `sendInitialEvents=true`), selector transitions (an object
//! that stops matching is DELETED for this watcher, one that starts matching is
//! ADDED), bookmarks, `timeoutSeconds`, Table rows for `kubectl get -w`, and
//! `410 Expired` as an ERROR event when the history was compacted. Must not
//! buffer more than one datastore batch per watcher.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::handlers::{Api, Call};
use super::storage::ObjectStore;
use edge_apimachinery::resources::ResourceType;
use edge_apimachinery::selector::{FieldSelector, LabelSelector};
use edge_apimachinery::status::ApiError;
use edge_apimachinery::table::{self, Representation, TableOptions};
use edge_datastore::{DatastoreError, EventKind, Watch};

/// How often a bookmark is sent when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// A watch with no `timeoutSeconds` ends after this long, like kube-apiserver's
/// default minimum request timeout (clients re-watch).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Stream {
    objects: ObjectStore,
    rt: &'static ResourceType,
    watch: Watch,
    labels: LabelSelector,
    fields: FieldSelector,
    representation: Representation,
    options: TableOptions,
    pending: VecDeque<Bytes>,
    deadline: Instant,
    bookmarks: bool,
    next_bookmark: Instant,
    done: bool,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

impl Stream {
    fn render(&mut self, object: &Value) -> Value {
        match self.representation {
            Representation::Json => object.clone(),
            Representation::Table(_) => {
                let t = table::object_table(
                    self.rt.kind,
                    object,
                    &self.options,
                    jiff::Timestamp::now(),
                );
                // Column definitions go with the first event only, as kube-apiserver does.
                self.options.headers = false;
                t
            }
            Representation::PartialObjectMetadata { version, .. } => {
                table::partial_object_metadata(object, version)
            }
        }
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches(object)
    }

    fn push(&mut self, kind: &str, object: &Value) {
        let rendered = self.render(object);
        self.pending.push_back(line(kind, &rendered));
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": metadata}),
        )
    }

    fn error(&mut self, e: &ApiError) {
        self.pending.push_back(line("ERROR", &e.to_status()));
        self.done = true;
    }

    /// Waits for the next lines to send; false when the stream is over.
    async fn fill(&mut self) -> bool {
        while self.pending.is_empty() && !self.done {
            let bookmark_at = if self.bookmarks {
                self.next_bookmark
            } else {
                self.deadline
            };
            tokio::select! {
                () = tokio::time::sleep_until(self.deadline) => {
                    self.done = true;
                }
                () = tokio::time::sleep_until(bookmark_at), if self.bookmarks => {
                    let b = self.bookmark(self.watch.revision(), false);
                    self.pending.push_back(b);
                    self.next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
                }
                batch = self.watch.recv() => match batch {
                    Ok(events) => {
                        for event in &events {
                            let decoded = match self.objects.decode_event(self.rt, event) {
                                Ok(d) => d,
                                Err(e) => { self.error(&e); break; }
                            };
                            let now_matches = event.kind == EventKind::Put && self.matches(&decoded.object);
                            let was = decoded.previous.as_ref().is_some_and(|p| self.matches(p));
                            match (event.kind, was, now_matches) {
                                (EventKind::Put, false, true) => self.push("ADDED", &decoded.object),
                                (EventKind::Put, true, true) => self.push("MODIFIED", &decoded.object),
                                (EventKind::Put, true, false) => self.push("DELETED", &decoded.object),
                                (EventKind::Delete, true, _) => self.push("DELETED", &decoded.object),
                                _ => {}
                            }
                        }
                    }
                    Err(DatastoreError::Compacted { requested, compact_revision }) => {
                        self.error(&ApiError::expired(format!("too old resource version: {requested} ({compact_revision})")));
                    }
                    Err(e) => {
                        self.error(&ApiError::internal(format!("watch ended: {e}")));
                    }
                },
            }
        }
        !self.pending.is_empty()
    }
}

/// Serves a watch request.
pub async fn serve(api: &Api, call: &Call<'_>) -> Result<Response, ApiError> {
    let rt = call.info.resource;
    let (labels, mut fields) = api.selectors(call)?;
    if let Some(name) = &call.info.name {
        // GET …/configmaps/c1?watch=true watches one object.
        fields = FieldSelector::parse(rt.kind, &format!("metadata.name={name}"))?;
    }
    let (representation, options) = super::handlers::representation(call)?;
    let timeout = call
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let bookmarks = matches!(
        call.query.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let send_initial = call.query.get("sendInitialEvents").map(String::as_str);
    let rv = call
        .query
        .get("resourceVersion")
        .map(String::as_str)
        .unwrap_or("");
    let from: i64 = match rv {
        "" | "0" => 0,
        rv => rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
    };
    // Without a resource version (or with sendInitialEvents), the watch starts
    // with the current state.
    let initial = send_initial == Some("true") || (send_initial.is_none() && from == 0);
    let mut pending = VecDeque::new();
    let mut stream_from = from;
    let mut initial_objects = Vec::new();
    if initial {
        let (items, revision, _) = api.list_objects(call).await?;
        initial_objects = items;
        stream_from = revision;
    }
    let watch = api
        .objects
        .watch(rt, call.info.namespace.as_deref(), stream_from)
        .await?;
    let mut stream = Stream {
        objects: api.objects.clone(),
        rt,
        watch,
        labels,
        fields,
        representation,
        options,
        pending: VecDeque::new(),
        deadline: Instant::now() + timeout,
        bookmarks,
        next_bookmark: Instant::now() + BOOKMARK_INTERVAL,
        done: false,
    };
    for object in &initial_objects {
        stream.push("ADDED", object);
    }
    if initial && send_initial == Some("true") {
        let b = stream.bookmark(stream_from, true);
        stream.pending.push_back(b);
    }
    pending.append(&mut stream.pending);
    stream.pending = pending;

    let body = futures::stream::unfold(stream, |mut s| async move {
        if s.fill().await {
            let next = s.pending.pop_front().expect("fill returned true");
            Some((Ok::<_, std::convert::Infallible>(next), s))
        } else {
            None
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(response)
}
