//! Server-side printing: `meta.k8s.io` `Table` responses, the columns and
//! cells kubectl shows for each served kind, ages formatted like kubectl,
//! and the `Accept` header negotiation that decides whether a client wants
//! a Table, `PartialObjectMetadata` or plain JSON.
//!
//! Owns what `kubectl get` prints (the columns, their priorities, how each
//! cell is computed from an object). Must not do IO or read the clock: the
//! caller passes `now`, so output is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::status::{ApiError, go_quote};

/// `meta.k8s.io` versions a Table (or PartialObjectMetadata) can be served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1Beta1,
}

impl TableVersion {
    pub fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1Beta1 => "meta.k8s.io/v1beta1",
        }
    }

    fn parse(v: &str) -> Option<Self> {
        match v {
            "v1" => Some(TableVersion::V1),
            "v1beta1" => Some(TableVersion::V1Beta1),
            _ => None,
        }
    }
}

/// What the client asked for in its `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The object (or list) itself, as JSON.
    Json,
    /// A `Table` (`application/json;as=Table;v=v1;g=meta.k8s.io`).
    Table(TableVersion),
    /// Only metadata: `as=PartialObjectMetadata` (or `…List` when `list`).
    PartialObjectMetadata { version: TableVersion, list: bool },
}

/// One media range of an Accept header.
#[derive(Debug, Clone)]
struct MediaRange {
    essence: String,
    params: BTreeMap<String, String>,
    q: f32,
}

fn parse_accept(header: &str) -> Vec<MediaRange> {
    let mut out: Vec<MediaRange> = Vec::new();
    for clause in header.split(',') {
        let mut parts = clause.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if essence.is_empty() {
            continue;
        }
        let mut params = BTreeMap::new();
        let mut q = 1.0f32;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_owned();
            if k == "q" {
                q = v
                    .parse::<f32>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0);
            } else {
                params.insert(k, v);
            }
        }
        out.push(MediaRange { essence, params, q });
    }
    // Preference: q, then specific types before wildcards, then more parameters.
    let wildcards = |m: &MediaRange| m.essence.matches('*').count();
    out.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then(wildcards(a).cmp(&wildcards(b)))
            .then(b.params.len().cmp(&a.params.len()))
    });
    out
}

/// Picks the representation for a response from the `Accept` header. A
/// missing or empty header means JSON; `table_allowed` says whether this
/// endpoint can answer with a Table (reads: get, list, watch). When nothing
/// offered is acceptable the answer is a 406 `NotAcceptable`.
pub fn negotiate(accept: Option<&str>, table_allowed: bool) -> Result<Representation, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Representation::Json);
    };
    for range in parse_accept(accept) {
        if range.q <= 0.0
            || !matches!(
                range.essence.as_str(),
                "application/json" | "application/*" | "*/*"
            )
        {
            continue;
        }
        let Some(target) = range.params.get("as") else {
            return Ok(Representation::Json);
        };
        let meta = range.params.get("g").map(String::as_str) == Some("meta.k8s.io");
        let Some(version) = range.params.get("v").and_then(|v| TableVersion::parse(v)) else {
            continue;
        };
        if !meta {
            continue;
        }
        match target.as_str() {
            "Table" if table_allowed => return Ok(Representation::Table(version)),
            "PartialObjectMetadata" => {
                return Ok(Representation::PartialObjectMetadata {
                    version,
                    list: false,
                });
            }
            "PartialObjectMetadataList" => {
                return Ok(Representation::PartialObjectMetadata {
                    version,
                    list: true,
                });
            }
            _ => {}
        }
    }
    let mut offered = vec!["application/json"];
    if table_allowed {
        offered.push("application/json;as=Table;v=v1;g=meta.k8s.io");
    }
    Err(ApiError::not_acceptable(&offered))
}

/// Which object each Table row carries (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object (`"object": null`).
    None,
    /// A `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(ApiError::bad_request(format!(
                "unrecognized includeObject value: {}",
                go_quote(other)
            ))),
        }
    }
}

/// How to build a Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    pub version: TableVersion,
    pub include_object: IncludeObject,
    /// Whether to send `columnDefinitions` (a watch sends them once).
    pub headers: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            version: TableVersion::V1,
            include_object: IncludeObject::Metadata,
            headers: true,
        }
    }
}

/// A column of a Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `boolean`, …
    pub kind: &'static str,
    /// `name` for the column naming the object, else empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 is always shown; 1 only with `-o wide`.
    pub priority: i32,
}

impl Column {
    const fn new(name: &'static str, description: &'static str) -> Self {
        Column {
            name,
            kind: "string",
            format: "",
            description,
            priority: 0,
        }
    }

    const fn wide(self) -> Self {
        Column {
            priority: 1,
            ..self
        }
    }

    const fn named(self) -> Self {
        Column {
            format: "name",
            ..self
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const NAME: Column = Column::new(
    "Name",
    "Name must be unique within a namespace. It is the object's identity for clients and the API.",
)
.named();
const AGE: Column = Column::new(
    "Age",
    "How long ago the object was created (from metadata.creationTimestamp).",
);

/// The columns `kubectl get` shows for a kind, wide ones at priority 1.
pub fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            NAME,
            Column::new(
                "Ready",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            Column::new(
                "Status",
                "The aggregate status of the containers in this pod.",
            ),
            Column::new(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            Column::new("IP", "The IP address allocated to the pod.").wide(),
            Column::new("Node", "The node the pod is bound to.").wide(),
            Column::new(
                "Nominated Node",
                "The node the scheduler nominated for the pod.",
            )
            .wide(),
            Column::new(
                "Readiness Gates",
                "How many of the pod's readiness gates are true.",
            )
            .wide(),
        ],
        "Node" => vec![
            NAME,
            Column::new("Status", "The status of the node"),
            Column::new("Roles", "The roles of the node"),
            AGE,
            Column::new("Version", "The kubelet version the node reports."),
            Column::new("Internal-IP", "The node's first InternalIP address.").wide(),
            Column::new("External-IP", "The node's first ExternalIP address.").wide(),
            Column::new("OS-Image", "The OS image the node reports.").wide(),
            Column::new("Kernel-Version", "The kernel version the node reports.").wide(),
            Column::new(
                "Container-Runtime",
                "The container runtime and version the node reports.",
            )
            .wide(),
        ],
        "Namespace" => vec![
            NAME,
            Column::new("Status", "The status of the namespace"),
            AGE,
        ],
        "Service" => vec![
            NAME,
            Column::new("Type", "How the Service is exposed."),
            Column::new(
                "Cluster-IP",
                "The IP address of the service inside the cluster.",
            ),
            Column::new(
                "External-IP",
                "The addresses the service is reachable at from outside the cluster.",
            ),
            Column::new("Port(s)", "The ports the service exposes."),
            AGE,
            Column::new("Selector", "The labels of the pods the service routes to.").wide(),
        ],
        "Endpoints" => vec![
            NAME,
            Column::new("Endpoints", "The addresses and ports of the endpoints."),
            AGE,
        ],
        "EndpointSlice" => vec![
            NAME,
            Column::new("AddressType", "The type of address carried by the slice."),
            Column::new("Ports", "The ports of the slice."),
            Column::new("Endpoints", "The addresses of the endpoints."),
            AGE,
        ],
        "ConfigMap" => vec![
            NAME,
            Column::new("Data", "The number of data and binaryData keys."),
            AGE,
        ],
        "Secret" => vec![
            NAME,
            Column::new("Type", "The type of the secret."),
            Column::new("Data", "The number of data keys."),
            AGE,
        ],
        "ServiceAccount" => vec![
            NAME,
            Column::new(
                "Secrets",
                "The number of secrets the service account lists.",
            ),
            AGE,
        ],
        "Event" => vec![
            Column::new("Last Seen", "When the event was last observed."),
            Column::new("Type", "The type of the event (Normal, Warning)."),
            Column::new("Reason", "Why the event happened, in one word."),
            Column::new("Object", "The object the event is about."),
            Column::new("Subobject", "The part of the object the event is about.").wide(),
            Column::new("Source", "The component that reported the event.").wide(),
            Column::new("Message", "What happened."),
            Column::new("First Seen", "When the event was first observed.").wide(),
            Column::new("Count", "How many times the event was observed.").wide(),
            NAME.wide(),
        ],
        "Lease" => vec![
            NAME,
            Column::new("Holder", "The identity of the lease's holder."),
            AGE,
        ],
        _ => vec![NAME, AGE],
    }
}

/// Go's `duration.HumanDuration`: a short age with 2-3 significant figures
/// (`5s`, `3m20s`, `12m`, `4h5m`, `3d4h`, `2y10d`). More than a second in
/// the future is `<invalid>`.
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn parse_time(value: Option<&Value>) -> Option<Timestamp> {
    value
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// The age of an RFC 3339 timestamp at `now`, `<unknown>` when unset.
pub fn age(timestamp: Option<&Value>, now: Timestamp) -> String {
    match parse_time(timestamp) {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_owned(),
    }
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn text<'v>(v: &'v Value, path: &[&str]) -> &'v str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

fn list<'v>(v: &'v Value, path: &[&str]) -> &'v [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn count(v: &Value, path: &[&str]) -> i64 {
    match at(v, path) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s.to_owned()
    }
}

/// `a=b,c=d`, sorted, or `<none>`.
fn format_labels(labels: Option<&Value>) -> String {
    let pairs: Vec<String> = labels
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    }
}

fn condition<'v>(object: &'v Value, kind: &str) -> Option<&'v Value> {
    list(object, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == kind)
}

fn condition_true(object: &Value, kind: &str) -> bool {
    condition(object, kind).is_some_and(|c| text(c, &["status"]) == "True")
}

/// The cells of one row for an object of `kind`, computed as kubectl's
/// printers do (every column, wide ones included).
pub fn cells(kind: &str, object: &Value, now: Timestamp) -> Vec<Value> {
    let name = Value::from(text(object, &["metadata", "name"]));
    let created = age(at(object, &["metadata", "creationTimestamp"]), now);
    match kind {
        "Pod" => pod_cells(object, now),
        "Node" => node_cells(object, now),
        "Namespace" => vec![
            name,
            text(object, &["status", "phase"]).into(),
            created.into(),
        ],
        "Service" => service_cells(object, now),
        "Endpoints" => vec![name, format_endpoints(object).into(), created.into()],
        "EndpointSlice" => vec![
            name,
            text(object, &["addressType"]).into(),
            format_slice_ports(object).into(),
            format_slice_endpoints(object).into(),
            created.into(),
        ],
        "ConfigMap" => vec![
            name,
            (count(object, &["data"]) + count(object, &["binaryData"])).into(),
            created.into(),
        ],
        "Secret" => vec![
            name,
            text(object, &["type"]).into(),
            count(object, &["data"]).into(),
            created.into(),
        ],
        "ServiceAccount" => vec![name, count(object, &["secrets"]).into(), created.into()],
        "Event" => event_cells(object, now),
        "Lease" => vec![
            name,
            text(object, &["spec", "holderIdentity"]).into(),
            created.into(),
        ],
        _ => vec![name, created.into()],
    }
}

/// The latest `lastState.terminated.finishedAt` of a container status.
fn later_restart(status: &Value, latest: Option<Timestamp>) -> Option<Timestamp> {
    match parse_time(at(status, &["lastState", "terminated", "finishedAt"])) {
        Some(t) if latest.is_none_or(|l| l < t) => Some(t),
        _ => latest,
    }
}

fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    let reason = text(terminated, &["reason"]);
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = at(terminated, &["signal"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        let code = at(terminated, &["exitCode"])
            .and_then(Value::as_i64)
            .unwrap_or(0);
        format!("{prefix}ExitCode:{code}")
    }
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = list(pod, &["spec", "initContainers"]);
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| text(c, &["name"]) == name && text(c, &["restartPolicy"]) == "Always")
    };
    let total = list(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| text(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = text(pod, &["status", "phase"]);
    let mut reason = match text(pod, &["status", "reason"]) {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    if list(pod, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".to_owned();
    }

    let mut initializing = false;
    for (i, status) in list(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = at(status, &["restartCount"])
            .and_then(Value::as_i64)
            .unwrap_or(0);
        restarts += count;
        last_restart = later_restart(status, last_restart);
        let sidecar = restartable(text(status, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later_restart(status, last_sidecar_restart);
        }
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = text(status, &["state", "waiting", "reason"]);
        if terminated
            .is_some_and(|t| at(t, &["exitCode"]).and_then(Value::as_i64).unwrap_or(0) == 0)
        {
            continue;
        }
        if sidecar && at(status, &["started"]).and_then(Value::as_bool) == Some(true) {
            if at(status, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            terminated_reason(t, "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += at(status, &["restartCount"])
                .and_then(Value::as_i64)
                .unwrap_or(0);
            last_restart = later_restart(status, last_restart);
            let waiting_reason = text(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if at(status, &["ready"]).and_then(Value::as_bool) == Some(true)
                && at(status, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".to_owned()
            } else {
                "NotReady".to_owned()
            };
        }
    }

    if at(pod, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null()) {
        if text(pod, &["status", "reason"]) == "NodeLost" {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", human_duration(now.duration_since(t)))
        }
        _ => restarts.to_string(),
    };

    let pod_ip = list(pod, &["status", "podIPs"])
        .first()
        .map(|ip| text(ip, &["ip"]))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| text(pod, &["status", "podIP"]));
    let gates = list(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let true_gates = gates
            .iter()
            .filter(|g| {
                condition(pod, text(g, &["conditionType"]))
                    .is_some_and(|c| text(c, &["status"]) == "True")
            })
            .count();
        format!("{true_gates}/{}", gates.len())
    };
    vec![
        text(pod, &["metadata", "name"]).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        age(at(pod, &["metadata", "creationTimestamp"]), now).into(),
        or_none(pod_ip).into(),
        or_none(text(pod, &["spec", "nodeName"])).into(),
        or_none(text(pod, &["status", "nominatedNodeName"])).into(),
        readiness_gates.into(),
    ]
}

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let mut status = Vec::new();
    match condition(node, "Ready") {
        Some(c) if text(c, &["status"]) == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = at(node, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_owned());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v.to_owned());
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let address = |kind: &str| {
        list(node, &["status", "addresses"])
            .iter()
            .find(|a| text(a, &["type"]) == kind)
            .map(|a| text(a, &["address"]).to_owned())
            .unwrap_or_else(|| "<none>".to_owned())
    };
    let info = |field: &str| match text(node, &["status", "nodeInfo", field]) {
        "" => "<unknown>".to_owned(),
        v => v.to_owned(),
    };
    vec![
        text(node, &["metadata", "name"]).into(),
        status.join(",").into(),
        or_none(&roles).into(),
        age(at(node, &["metadata", "creationTimestamp"]), now).into(),
        text(node, &["status", "nodeInfo", "kubeletVersion"]).into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let kind = match text(svc, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = list(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| text(svc, &["spec", "clusterIP"]));
    let external: Vec<&str> = list(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external_ip = match kind {
        "ClusterIP" | "NodePort" => or_none(&external.join(",")),
        "LoadBalancer" => {
            let ingress: BTreeSet<&str> = list(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .filter_map(|i| {
                    let ip = text(i, &["ip"]);
                    let host = text(i, &["hostname"]);
                    if !ip.is_empty() {
                        Some(ip)
                    } else if !host.is_empty() {
                        Some(host)
                    } else {
                        None
                    }
                })
                .collect();
            let mut all: Vec<&str> = ingress.into_iter().collect();
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = list(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = at(p, &["port"]).and_then(Value::as_i64).unwrap_or(0);
            let protocol = match text(p, &["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            match at(p, &["nodePort"])
                .and_then(Value::as_i64)
                .filter(|n| *n > 0)
            {
                Some(node_port) => format!("{port}:{node_port}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        text(svc, &["metadata", "name"]).into(),
        kind.into(),
        or_none(cluster_ip).into(),
        external_ip.into(),
        or_none(&ports.join(",")).into(),
        age(at(svc, &["metadata", "creationTimestamp"]), now).into(),
        format_labels(at(svc, &["spec", "selector"])).into(),
    ]
}

/// `ip:port` joined, IPv6 in brackets.
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Up to three entries, then `+ N more...`.
fn first_three(items: &[String], total: usize) -> String {
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if total > 3 {
        format!("{shown} + {} more...", total - 3)
    } else {
        shown
    }
}

fn format_endpoints(ep: &Value) -> String {
    let subsets = list(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut items = Vec::new();
    for subset in subsets {
        let addresses = list(subset, &["addresses"]);
        let ports = list(subset, &["ports"]);
        if ports.is_empty() {
            items.extend(addresses.iter().map(|a| text(a, &["ip"]).to_owned()));
        } else {
            for port in ports {
                let p = at(port, &["port"]).and_then(Value::as_i64).unwrap_or(0);
                items.extend(addresses.iter().map(|a| host_port(text(a, &["ip"]), p)));
            }
        }
    }
    first_three(&items, items.len())
}

fn unset_if_empty(s: String) -> String {
    if s.is_empty() {
        "<unset>".to_owned()
    } else {
        s
    }
}

fn format_slice_ports(slice: &Value) -> String {
    let items: Vec<String> = list(slice, &["ports"])
        .iter()
        .map(|p| match at(p, &["port"]).and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => match at(p, &["name"]).and_then(Value::as_str) {
                Some(name) => name.to_owned(),
                None => "*".to_owned(),
            },
        })
        .collect();
    unset_if_empty(first_three(&items, items.len()))
}

fn format_slice_endpoints(slice: &Value) -> String {
    let items: Vec<String> = list(slice, &["endpoints"])
        .iter()
        .flat_map(|e| {
            list(e, &["addresses"])
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    unset_if_empty(first_three(&items, items.len()))
}

fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let first_seen = if parse_time(at(event, &["firstTimestamp"])).is_some() {
        age(at(event, &["firstTimestamp"]), now)
    } else {
        age(at(event, &["eventTime"]), now)
    };
    let mut last_seen = if parse_time(at(event, &["lastTimestamp"])).is_some() {
        age(at(event, &["lastTimestamp"]), now)
    } else {
        first_seen.clone()
    };
    let mut count = at(event, &["count"]).and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = at(event, &["series"]).filter(|s| s.is_object()) {
        last_seen = age(at(series, &["lastObservedTime"]), now);
        count = at(series, &["count"]).and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = text(event, &["involvedObject", "kind"]).to_lowercase();
    let name = text(event, &["involvedObject", "name"]);
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = match text(event, &["source", "component"]) {
        "" => text(event, &["reportingComponent"]),
        c => c,
    };
    let host = match text(event, &["source", "host"]) {
        "" => text(event, &["reportingInstance"]),
        h => h,
    };
    let source = if host.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {host}")
    };
    vec![
        last_seen.into(),
        text(event, &["type"]).into(),
        text(event, &["reason"]).into(),
        target.into(),
        text(event, &["involvedObject", "fieldPath"]).into(),
        source.into(),
        text(event, &["message"]).trim().into(),
        first_seen.into(),
        count.into(),
        text(event, &["metadata", "name"]).into(),
    ]
}

/// An object's metadata as a `PartialObjectMetadata`.
pub fn partial_object_metadata(object: &Value, version: TableVersion) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": version.api_version(),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list's items as a `PartialObjectMetadataList`, list metadata kept.
pub fn partial_object_metadata_list(list: &Value, version: TableVersion) -> Value {
    let items: Vec<Value> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| partial_object_metadata(i, version))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": version.api_version(),
        "metadata": list_meta(list.get("metadata")),
        "items": items,
    })
}

/// The `ListMeta` fields a Table keeps: resourceVersion, continue, remainingItemCount.
fn list_meta(meta: Option<&Value>) -> Value {
    let mut out = Map::new();
    if let Some(meta) = meta {
        for field in ["resourceVersion", "continue", "remainingItemCount"] {
            match meta.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(v) => {
                    out.insert(field.to_owned(), v.clone());
                }
            }
        }
    }
    Value::Object(out)
}

fn row(kind: &str, object: &Value, options: &TableOptions, now: Timestamp) -> Value {
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells(kind, object, now)));
    if kind == "Pod" {
        let (reason, message) = match text(object, &["status", "phase"]) {
            "Succeeded" => ("Succeeded", "The pod has completed successfully."),
            "Failed" => ("Failed", "The pod failed."),
            _ => ("", ""),
        };
        if !reason.is_empty() {
            r.insert(
                "conditions".into(),
                json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]),
            );
        }
    }
    let carried = match options.include_object {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => partial_object_metadata(object, options.version),
        IncludeObject::Object => object.clone(),
    };
    r.insert("object".into(), carried);
    Value::Object(r)
}

fn table(
    kind: &str,
    meta: Value,
    objects: &[Value],
    options: &TableOptions,
    now: Timestamp,
) -> Value {
    let mut t = Map::new();
    t.insert("kind".into(), json!("Table"));
    t.insert("apiVersion".into(), json!(options.version.api_version()));
    t.insert("metadata".into(), meta);
    if options.headers {
        t.insert(
            "columnDefinitions".into(),
            Value::Array(columns(kind).iter().map(Column::to_json).collect()),
        );
    }
    t.insert(
        "rows".into(),
        Value::Array(objects.iter().map(|o| row(kind, o, options, now)).collect()),
    );
    Value::Object(t)
}

/// The Table for a list (`kubectl get pods`): one row per item, the list's
/// resourceVersion, continue token and remaining count kept.
pub fn list_table(kind: &str, list: &Value, options: &TableOptions, now: Timestamp) -> Value {
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    table(kind, list_meta(list.get("metadata")), items, options, now)
}

/// The Table for one object (`kubectl get pod p`), carrying its resourceVersion.
pub fn object_table(kind: &str, object: &Value, options: &TableOptions, now: Timestamp) -> Value {
    let rv = text(object, &["metadata", "resourceVersion"]);
    let meta = if rv.is_empty() {
        json!({})
    } else {
        json!({"resourceVersion": rv})
    };
    table(kind, meta, std::slice::from_ref(object), options, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        match "2026-03-01T12:00:00Z".parse() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// A timestamp `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        match now().checked_sub(SignedDuration::from_secs(secs)) {
            Ok(t) => t.to_string(),
            Err(e) => panic!("{e}"),
        }
    }

    fn strings(cells: &[Value]) -> Vec<String> {
        cells
            .iter()
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn human_durations_like_kubectl() {
        let m = 60;
        let h = 3600;
        let d = 24 * h;
        let y = 365 * d;
        let cases = [
            (-3, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (9 * m + 59, "9m59s"),
            (10 * m, "10m"),
            (12 * m + 30, "12m"),
            (3 * h - 1, "179m"),
            (3 * h, "3h"),
            (4 * h + 5 * m, "4h5m"),
            (8 * h, "8h"),
            (47 * h + 59 * m, "47h"),
            (2 * d, "2d"),
            (3 * d + 4 * h, "3d4h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d, "8d"),
            (2 * y - d, "729d"),
            (2 * y, "2y"),
            (2 * y + 10 * d, "2y10d"),
            (8 * y - d, "7y364d"),
            (8 * y, "8y"),
            (30 * y + 100 * d, "30y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(secs)),
                want,
                "{secs}s"
            );
        }
        // Fractions truncate toward zero.
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
        assert_eq!(human_duration(SignedDuration::from_millis(5999)), "5s");
        assert_eq!(age(Some(&json!(ago(5))), now()), "5s");
        assert_eq!(
            age(Some(&json!("2026-03-01T11:59:55.123456Z")), now()),
            "4s"
        );
        assert_eq!(age(None, now()), "<unknown>");
        assert_eq!(age(Some(&json!("garbage")), now()), "<unknown>");
    }

    #[test]
    fn negotiation() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        let cases: Vec<(Option<&str>, bool, Option<Representation>)> = vec![
            (None, true, Some(Representation::Json)),
            (Some(""), true, Some(Representation::Json)),
            (
                Some(kubectl),
                true,
                Some(Representation::Table(TableVersion::V1)),
            ),
            (Some(kubectl), false, Some(Representation::Json)),
            (
                Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io"),
                true,
                Some(Representation::Table(TableVersion::V1Beta1)),
            ),
            (
                Some("application/json;g=meta.k8s.io;v=v1;as=Table"),
                true,
                Some(Representation::Table(TableVersion::V1)),
            ),
            (
                Some("application/json, */*"),
                true,
                Some(Representation::Json),
            ),
            (Some("*/*"), true, Some(Representation::Json)),
            (Some("application/*"), true, Some(Representation::Json)),
            (
                Some("application/json;stream=watch"),
                true,
                Some(Representation::Json),
            ),
            (
                Some("application/vnd.kubernetes.protobuf, application/json"),
                true,
                Some(Representation::Json),
            ),
            (
                Some("application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io;q=0.9"),
                true,
                Some(Representation::Table(TableVersion::V1)),
            ),
            (
                Some("application/json;as=Table;v=v2;g=meta.k8s.io, application/json"),
                true,
                Some(Representation::Json),
            ),
            (
                Some("application/json;as=Table;v=v1;g=other.io, */*"),
                true,
                Some(Representation::Json),
            ),
            (
                Some(
                    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json",
                ),
                true,
                Some(Representation::PartialObjectMetadata {
                    version: TableVersion::V1,
                    list: true,
                }),
            ),
            (
                Some("application/json;as=PartialObjectMetadata;v=v1beta1;g=meta.k8s.io"),
                false,
                Some(Representation::PartialObjectMetadata {
                    version: TableVersion::V1Beta1,
                    list: false,
                }),
            ),
            // kubectl's discovery requests: aggregated discovery is not offered here.
            (
                Some(
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                ),
                false,
                Some(Representation::Json),
            ),
            (
                Some("application/json, */*"),
                false,
                Some(Representation::Json),
            ),
            (Some("application/yaml"), true, None),
            (Some("application/vnd.kubernetes.protobuf"), true, None),
            (
                Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
                false,
                None,
            ),
            (Some("application/json;q=0"), true, None),
            (Some("text/html, image/png"), true, None),
            (Some(",,;;,"), true, None),
        ];
        for (accept, table_ok, want) in cases {
            let got = negotiate(accept, table_ok);
            match (&got, want) {
                (Ok(g), Some(w)) => assert_eq!(*g, w, "{accept:?}"),
                (Err(e), None) => {
                    assert_eq!(e.code, 406, "{accept:?}");
                    assert!(e.message.starts_with(
                        "only the following media types are accepted: application/json"
                    ));
                }
                _ => panic!("{accept:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn include_object_values() {
        assert_eq!(
            IncludeObject::parse(None).ok(),
            Some(IncludeObject::Metadata)
        );
        assert_eq!(
            IncludeObject::parse(Some("None")).ok(),
            Some(IncludeObject::None)
        );
        assert_eq!(
            IncludeObject::parse(Some("Object")).ok(),
            Some(IncludeObject::Object)
        );
        assert_eq!(
            IncludeObject::parse(Some("all"))
                .err()
                .map(|e| (e.code, e.message)),
            Some((400, "unrecognized includeObject value: \"all\"".to_owned()))
        );
    }

    fn node(name: &str, ready: &str, extra: Value) -> Value {
        let mut n = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "creationTimestamp": ago(4 * 3600 + 5 * 60), "resourceVersion": "42",
                         "labels": {"node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/control-plane": "true", "kubernetes.io/hostname": name}},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": "10.0.0.5"}],
                "nodeInfo": {"kubeletVersion": "v1.37.1+edge", "osImage": "Debian GNU/Linux 13", "kernelVersion": "6.12.0", "containerRuntimeVersion": "containerd://2.1.0"}
            }
        });
        if let (Some(n), Value::Object(extra)) = (n.as_object_mut(), extra) {
            for (k, v) in extra {
                n.insert(k, v);
            }
        }
        n
    }

    #[test]
    fn node_rows() {
        let n = node("edge-1", "True", json!({}));
        assert_eq!(
            strings(&cells("Node", &n, now())),
            [
                "edge-1",
                "Ready",
                "control-plane,master",
                "4h5m",
                "v1.37.1+edge",
                "10.0.0.5",
                "<none>",
                "Debian GNU/Linux 13",
                "6.12.0",
                "containerd://2.1.0"
            ]
        );
        let cordoned = node("edge-2", "False", json!({"spec": {"unschedulable": true}}));
        assert_eq!(
            strings(&cells("Node", &cordoned, now()))[1],
            "NotReady,SchedulingDisabled"
        );
        let bare = json!({"metadata": {"name": "n", "labels": {"kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}}});
        assert_eq!(
            strings(&cells("Node", &bare, now())),
            [
                "n",
                "Unknown",
                "worker",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]
        );
        let none = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert_eq!(
            strings(&cells("Node", &none, now()))[1..3],
            ["Unknown,SchedulingDisabled", "<none>"]
        );
    }

    #[test]
    fn node_list_table_matches_kubectl_get_nodes() {
        let list = json!({
            "kind": "NodeList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "99", "continue": ""},
            "items": [node("edge-1", "True", json!({})), node("edge-2", "Unknown", json!({}))]
        });
        let t = list_table("Node", &list, &TableOptions::default(), now());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "99"}));
        let headers: Vec<(String, i64)> = t["columnDefinitions"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or("").to_uppercase(),
                            c["priority"].as_i64().unwrap_or(-1),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let shown: Vec<&str> = headers
            .iter()
            .filter(|(_, p)| *p == 0)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(shown, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
        let wide: Vec<&str> = headers
            .iter()
            .filter(|(_, p)| *p == 1)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            wide,
            [
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME"
            ]
        );
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][0]["type"], "string");
        let rows = t["rows"].as_array().map(Vec::len);
        assert_eq!(rows, Some(2));
        assert_eq!(t["rows"][1]["cells"][1], "NotReady");
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": list["items"][0]["metadata"]})
        );

        let beta = TableOptions {
            version: TableVersion::V1Beta1,
            include_object: IncludeObject::Object,
            headers: false,
        };
        let t = list_table("Node", &list, &beta, now());
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
        assert!(t.get("columnDefinitions").is_none());
        assert_eq!(t["rows"][0]["object"], list["items"][0]);
        let none = TableOptions {
            include_object: IncludeObject::None,
            ..TableOptions::default()
        };
        assert_eq!(
            list_table("Node", &list, &none, now())["rows"][0]["object"],
            Value::Null
        );

        let one = object_table("Node", &list["items"][0], &TableOptions::default(), now());
        assert_eq!(one["metadata"], json!({"resourceVersion": "42"}));
        assert_eq!(one["rows"].as_array().map(Vec::len), Some(1));

        let paged = json!({"metadata": {"resourceVersion": "7", "continue": "tok", "remainingItemCount": 3}, "items": []});
        let t = list_table("Pod", &paged, &TableOptions::default(), now());
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "7", "continue": "tok", "remainingItemCount": 3})
        );
        assert_eq!(t["rows"], json!([]));
    }

    fn pod(status: Value, spec: Value) -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(200)},
            "spec": spec,
            "status": status,
        })
    }

    fn two_containers() -> Value {
        json!({"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "edge-1"})
    }

    #[test]
    fn pod_rows() {
        let running = pod(
            json!({"phase": "Running", "podIPs": [{"ip": "10.42.0.7"}], "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [
                       {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                       {"name": "b", "ready": true, "restartCount": 2, "state": {"running": {}},
                        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(65)}}}]}),
            two_containers(),
        );
        assert_eq!(
            strings(&cells("Pod", &running, now())),
            [
                "p",
                "2/2",
                "Running",
                "2 (65s ago)",
                "3m20s",
                "10.42.0.7",
                "edge-1",
                "<none>",
                "<none>"
            ]
        );

        let cases: Vec<(Value, Value, [&str; 4])> = vec![
            // Pending, unscheduled.
            (
                json!({"phase": "Pending"}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "Pending", "0", "<none>"],
            ),
            // Scheduling gates.
            (
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "SchedulingGated", "0", "<none>"],
            ),
            // A waiting reason wins.
            (
                json!({"phase": "Pending", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "ContainerCreating", "0", "<none>"],
            ),
            // Crash loop.
            (
                json!({"phase": "Running", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "CrashLoopBackOff", "5", "<none>"],
            ),
            // Terminated without a reason: exit code or signal.
            (
                json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 3}}}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "ExitCode:3", "0", "<none>"],
            ),
            (
                json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "Signal:9", "0", "<none>"],
            ),
            (
                json!({"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "Completed", "0", "<none>"],
            ),
            // A completed container beside a running one.
            (
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [
                    {"name": "a", "ready": true, "state": {"running": {}}},
                    {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                two_containers(),
                ["1/2", "NotReady", "0", "<none>"],
            ),
            // Init containers.
            (
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"terminated": {"exitCode": 0}}}, {"name": "i2", "state": {"running": {}}}]}),
                json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]}),
                ["0/1", "Init:1/2", "0", "<none>"],
            ),
            (
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                json!({"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]}),
                ["0/1", "Init:CrashLoopBackOff", "3", "<none>"],
            ),
            (
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"terminated": {"exitCode": 2}}}]}),
                json!({"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]}),
                ["0/1", "Init:ExitCode:2", "0", "<none>"],
            ),
            (
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                json!({"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]}),
                ["0/1", "Init:0/1", "0", "<none>"],
            ),
            // A started sidecar counts as a container and does not block.
            (
                json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                       "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
                       "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}),
                json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "a"}]}),
                ["2/2", "Running", "1", "<none>"],
            ),
            // Readiness gates.
            (
                json!({"phase": "Running", "conditions": [{"type": "g1", "status": "True"}, {"type": "g2", "status": "False"}]}),
                json!({"containers": [], "readinessGates": [{"conditionType": "g1"}, {"conditionType": "g2"}, {"conditionType": "g3"}]}),
                ["0/0", "Running", "0", "1/3"],
            ),
            // Evicted: the pod's own reason.
            (
                json!({"phase": "Failed", "reason": "Evicted"}),
                json!({"containers": [{"name": "a"}]}),
                ["0/1", "Evicted", "0", "<none>"],
            ),
        ];
        for (status, spec, [ready, reason, restarts, gates]) in cases {
            let c = strings(&cells("Pod", &pod(status.clone(), spec), now()));
            assert_eq!(
                [c[1].as_str(), c[2].as_str(), c[3].as_str(), c[8].as_str()],
                [ready, reason, restarts, gates],
                "{status}"
            );
        }

        let mut deleting = pod(
            json!({"phase": "Running"}),
            json!({"containers": [{"name": "a"}]}),
        );
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(strings(&cells("Pod", &deleting, now()))[2], "Terminating");
        deleting["status"]["reason"] = json!("NodeLost");
        assert_eq!(strings(&cells("Pod", &deleting, now()))[2], "Unknown");
        let mut done = pod(
            json!({"phase": "Succeeded", "reason": ""}),
            json!({"containers": []}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(strings(&cells("Pod", &done, now()))[2], "Succeeded");

        let t = object_table("Pod", &done, &TableOptions::default(), now());
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        );
        let headers: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            headers,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
    }

    #[test]
    fn service_rows() {
        let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s", "creationTimestamp": ago(12 * 60 + 5)}, "spec": spec, "status": status});
        let cases = [
            (
                svc(
                    json!({"type": "ClusterIP", "clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"], "ports": [{"port": 443, "protocol": "TCP"}]}),
                    json!({}),
                ),
                vec![
                    "s",
                    "ClusterIP",
                    "10.43.0.1",
                    "<none>",
                    "443/TCP",
                    "12m",
                    "<none>",
                ],
            ),
            (
                svc(
                    json!({"type": "NodePort", "clusterIP": "10.43.0.9", "selector": {"b": "2", "a": "1"},
                           "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "externalIPs": ["1.2.3.4"]}),
                    json!({}),
                ),
                vec![
                    "s",
                    "NodePort",
                    "10.43.0.9",
                    "1.2.3.4",
                    "80:30080/TCP,53/UDP",
                    "12m",
                    "a=1,b=2",
                ],
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIP": "10.43.0.2", "ports": [{"port": 80}]}),
                    json!({}),
                ),
                vec![
                    "s",
                    "LoadBalancer",
                    "10.43.0.2",
                    "<pending>",
                    "80/TCP",
                    "12m",
                    "<none>",
                ],
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIP": "10.43.0.2", "externalIPs": ["9.9.9.9"], "ports": [{"port": 80}]}),
                    json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}, {"hostname": "lb.example"}]}}),
                ),
                vec![
                    "s",
                    "LoadBalancer",
                    "10.43.0.2",
                    "192.168.1.10,lb.example,9.9.9.9",
                    "80/TCP",
                    "12m",
                    "<none>",
                ],
            ),
            (
                svc(
                    json!({"type": "ExternalName", "externalName": "db.example.com"}),
                    json!({}),
                ),
                vec![
                    "s",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "12m",
                    "<none>",
                ],
            ),
            (
                svc(json!({"clusterIP": "None"}), json!({})),
                vec![
                    "s",
                    "ClusterIP",
                    "None",
                    "<none>",
                    "<none>",
                    "12m",
                    "<none>",
                ],
            ),
        ];
        for (s, want) in cases {
            assert_eq!(strings(&cells("Service", &s, now())), want);
        }
    }

    #[test]
    fn other_kinds() {
        let created = ago(3 * 86400 + 4 * 3600);
        let meta = json!({"name": "x", "creationTimestamp": created});
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "Namespace",
                json!({"metadata": meta, "status": {"phase": "Active"}}),
                vec!["x", "Active", "3d4h"],
            ),
            (
                "ConfigMap",
                json!({"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                vec!["x", "3", "3d4h"],
            ),
            (
                "ConfigMap",
                json!({"metadata": meta}),
                vec!["x", "0", "3d4h"],
            ),
            (
                "Secret",
                json!({"metadata": meta, "type": "Opaque", "data": {"a": "MQ=="}}),
                vec!["x", "Opaque", "1", "3d4h"],
            ),
            (
                "ServiceAccount",
                json!({"metadata": meta}),
                vec!["x", "0", "3d4h"],
            ),
            (
                "Lease",
                json!({"metadata": meta, "spec": {"holderIdentity": "edge-1_abc"}}),
                vec!["x", "edge-1_abc", "3d4h"],
            ),
            (
                "Lease",
                json!({"metadata": meta, "spec": {}}),
                vec!["x", "", "3d4h"],
            ),
            ("Something", json!({"metadata": meta}), vec!["x", "3d4h"]),
            (
                "Endpoints",
                json!({"metadata": meta}),
                vec!["x", "<none>", "3d4h"],
            ),
            (
                "Endpoints",
                json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "ports": [{"port": 6443}]}]}),
                vec!["x", "10.0.0.1:6443,[fd00::1]:6443", "3d4h"],
            ),
            (
                "Endpoints",
                json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}, {"ip": "d"}, {"ip": "e"}], "ports": [{"port": 1}]}]}),
                vec!["x", "a:1,b:1,c:1 + 2 more...", "3d4h"],
            ),
            (
                "Endpoints",
                json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}),
                vec!["x", "10.0.0.1", "3d4h"],
            ),
            (
                "EndpointSlice",
                json!({"metadata": meta, "addressType": "IPv4", "ports": [{"port": 443}, {"name": "dns"}, {}],
                       "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}),
                vec!["x", "IPv4", "443,dns,*", "10.0.0.1,10.0.0.2", "3d4h"],
            ),
            (
                "EndpointSlice",
                json!({"metadata": meta, "addressType": "IPv4"}),
                vec!["x", "IPv4", "<unset>", "<unset>", "3d4h"],
            ),
        ];
        for (kind, obj, want) in cases {
            let got = strings(&cells(kind, &obj, now()));
            assert_eq!(got, want, "{kind} {obj}");
            assert_eq!(got.len(), columns(kind).len(), "{kind}");
        }
        // Counts are integers on the wire.
        assert_eq!(
            cells("Secret", &json!({"data": {"a": "b"}}), now())[2],
            json!(1)
        );
        let headers = |kind: &str| {
            columns(kind)
                .iter()
                .map(|c| c.name.to_uppercase())
                .collect::<Vec<_>>()
        };
        assert_eq!(headers("Namespace"), ["NAME", "STATUS", "AGE"]);
        assert_eq!(
            headers("Service"),
            [
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
                "SELECTOR"
            ]
        );
        assert_eq!(headers("ConfigMap"), ["NAME", "DATA", "AGE"]);
        assert_eq!(headers("Secret"), ["NAME", "TYPE", "DATA", "AGE"]);
        assert_eq!(headers("Lease"), ["NAME", "HOLDER", "AGE"]);
        assert_eq!(headers("Widget"), ["NAME", "AGE"]);
    }

    #[test]
    fn event_rows() {
        let event = json!({
            "metadata": {"name": "p.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "reason": "Pulled", "type": "Normal", "message": "  Pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "edge-1"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 4
        });
        assert_eq!(
            strings(&cells("Event", &event, now())),
            [
                "30s",
                "Normal",
                "Pulled",
                "pod/p",
                "spec.containers{a}",
                "kubelet, edge-1",
                "Pulled image \"nginx\"",
                "10m",
                "4",
                "p.17a"
            ]
        );
        let new_style = json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Node"},
            "reason": "Starting", "type": "Warning", "message": "m",
            "eventTime": "2026-03-01T11:59:00.000000Z", "reportingComponent": "edged", "reportingInstance": "edge-1"
        });
        assert_eq!(
            strings(&cells("Event", &new_style, now())),
            [
                "60s",
                "Warning",
                "Starting",
                "node",
                "",
                "edged, edge-1",
                "m",
                "60s",
                "1",
                "e"
            ]
        );
        let series = json!({
            "metadata": {"name": "s"}, "involvedObject": {"kind": "Pod", "name": "p"},
            "eventTime": ago(3600), "series": {"count": 9, "lastObservedTime": ago(2)}, "reportingComponent": "c"
        });
        let c = strings(&cells("Event", &series, now()));
        assert_eq!(
            [c[0].as_str(), c[5].as_str(), c[7].as_str(), c[8].as_str()],
            ["2s", "c", "60m", "9"]
        );
        let headers: Vec<String> = columns("Event")
            .iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name.to_uppercase())
            .collect();
        assert_eq!(
            headers,
            ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        );
    }

    #[test]
    fn partial_metadata_lists() {
        let list = json!({"metadata": {"resourceVersion": "5"}, "items": [{"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "y"}}]});
        assert_eq!(
            partial_object_metadata_list(&list, TableVersion::V1),
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "5"},
                   "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "a"}}]})
        );
    }

    #[test]
    fn odd_objects_do_not_panic() {
        let odd = [
            json!(null),
            json!([]),
            json!("x"),
            json!({"metadata": 5, "status": [], "spec": "s"}),
            json!({"status": {"containerStatuses": [null, 1, {"state": 5}], "initContainerStatuses": [{"state": {"terminated": "x"}}], "conditions": "c"}}),
            json!({"spec": {"ports": [null, {"port": "80"}]}, "subsets": [{"addresses": 3}]}),
        ];
        for kind in [
            "Pod",
            "Node",
            "Namespace",
            "Service",
            "Endpoints",
            "EndpointSlice",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Event",
            "Lease",
            "X",
        ] {
            for o in &odd {
                assert_eq!(
                    cells(kind, o, now()).len(),
                    columns(kind).len(),
                    "{kind} {o}"
                );
                let _ = object_table(kind, o, &TableOptions::default(), now());
                let _ = list_table(
                    kind,
                    &json!({"items": [o]}),
                    &TableOptions::default(),
                    now(),
                );
            }
        }
    }
}
