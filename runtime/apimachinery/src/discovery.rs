//! API discovery documents, computed from the resource table: `/api`
//! (`APIVersions`), `/apis` (`APIGroupList`), `/api/v1` and
//! `/apis/<group>/<version>` (`APIResourceList`), aggregated discovery
//! (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) for `/api` and `/apis`,
//! and `/version`; plus the `Accept` negotiation between the legacy and the
//! aggregated forms.
//!
//! Owns the shape of those documents and the choice of representation. Must
//! not do IO or routing: handlers call these pure functions (documents are
//! built once, on first use) and write the bytes, `Content-Type` and `ETag`.
//!
//! Handler advice: answer with [`Representation::content_type`] (client-go
//! decides how to parse `/api` and `/apis` from the response `Content-Type`
//! alone), add `Vary: Accept`, send [`JsonDocument::etag`] and answer
//! `304 Not Modified` when `If-None-Match` matches (kubectl's disk cache
//! revalidates that way).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::document::JsonDocument;
use crate::resources::{self, RESOURCES, ResourceType};

/// Kubernetes minor release whose API this server speaks.
pub const MAJOR: &str = "1";
/// See [`MAJOR`].
pub const MINOR: &str = "37";
/// `gitVersion` reported by `/version`: the Kubernetes version served, with
/// our build metadata (K3s reports `v1.x.y+k3s1` the same way).
pub const GIT_VERSION: &str = "v1.37.1+edge";

/// `Content-Type` of legacy discovery and of every other JSON document.
pub const JSON: &str = "application/json";
/// `Content-Type` of aggregated discovery; client-go compares its media type
/// and its `g`, `v` and `as` parameters (in any order).
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// Which form of a discovery document to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// `APIGroupDiscoveryList` (`apidiscovery.k8s.io/v2`), from [`aggregated`].
    Aggregated,
    /// `APIVersions` / `APIGroupList` / `APIResourceList`.
    Legacy,
    /// Nothing the client accepts: answer `406 Not Acceptable`.
    NotAcceptable,
}

impl Representation {
    /// The `Content-Type` to answer with, `None` for [`Self::NotAcceptable`].
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            Self::Aggregated => Some(AGGREGATED_V2),
            Self::Legacy => Some(JSON),
            Self::NotAcceptable => None,
        }
    }
}

/// One media range of an `Accept` header.
struct MediaRange<'a> {
    essence: String,
    params: Vec<(String, &'a str)>,
    q: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(range: &'a str) -> Option<Self> {
        let mut parts = range.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('"');
            if key == "q" {
                q = value.parse().unwrap_or(0.0);
            } else {
                params.push((key, value));
            }
        }
        Some(Self { essence, params, q })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| *value)
    }

    /// What this range selects, if anything we serve.
    fn select(&self, aggregated_allowed: bool) -> Option<Representation> {
        match self.essence.as_str() {
            "application/json" => {
                let (g, v, as_) = (self.param("g"), self.param("v"), self.param("as"));
                if g.is_none() && v.is_none() && as_.is_none() {
                    Some(Representation::Legacy)
                } else if aggregated_allowed
                    && g == Some("apidiscovery.k8s.io")
                    && v == Some("v2")
                    && as_ == Some("APIGroupDiscoveryList")
                {
                    Some(Representation::Aggregated)
                } else {
                    // v2beta1 (no longer served by Kubernetes), Table, ...
                    None
                }
            }
            "application/*" | "*/*" => Some(Representation::Legacy),
            _ => None,
        }
    }
}

fn choose(accept: &str, aggregated_allowed: bool) -> Representation {
    if accept.trim().is_empty() {
        return Representation::Legacy;
    }
    let mut best: Option<(f32, Representation)> = None;
    for range in accept.split(',').filter_map(MediaRange::parse) {
        if range.q <= 0.0 {
            continue;
        }
        if let Some(chosen) = range.select(aggregated_allowed) {
            // Highest q wins; among equals, the earliest listed.
            if best.is_none_or(|(q, _)| range.q > q) {
                best = Some((range.q, chosen));
            }
        }
    }
    best.map_or(Representation::NotAcceptable, |(_, chosen)| chosen)
}

/// Chooses the representation of `/api` or `/apis` for an `Accept` header
/// (empty when absent). kubectl sends
/// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`
/// and gets the aggregated form.
pub fn negotiate(accept: &str) -> Representation {
    choose(accept, true)
}

/// Chooses the representation of `/api/v1` or `/apis/<group>/<version>`,
/// which exist only in the legacy form.
pub fn negotiate_resource_list(accept: &str) -> Representation {
    choose(accept, false)
}

/// `storageVersionHash` as kube-apiserver computes it: the first 8 bytes of
/// SHA-256 over `<group>/<version>/<kind>` (group empty for core), base64.
/// Clients only compare it for equality (the storage-version migrator).
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// `/api` in the legacy form. `server_address` is what clients inside the
/// cluster should dial (`<advertise-address>:<port>`), announced for every
/// client CIDR as kube-apiserver does.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address},
        ],
    })
}

/// `/apis` in the legacy form: every served group except core, each with its
/// one version preferred.
pub fn group_list() -> &'static JsonDocument {
    static DOC: LazyLock<JsonDocument> = LazyLock::new(|| {
        let groups: Vec<Value> = resources::groups()
            .into_iter()
            .filter(|(group, _)| !group.is_empty())
            .map(|(group, version)| {
                let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
                json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
            })
            .collect();
        JsonDocument::new(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
    });
    &DOC
}

fn served_in(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceType> {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

fn legacy_resources(group: &str, version: &str) -> Vec<Value> {
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for r in served_in(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
        });
        if r.is_stored() {
            entry["storageVersionHash"] = json!(storage_version_hash(r.group, r.version, r.kind));
        }
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        entries.insert(r.plural.to_owned(), entry);
        if r.has_status {
            let name = format!("{}/status", r.plural);
            let status = json!({
                "name": name,
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": STATUS_VERBS,
            });
            entries.insert(name, status);
        }
    }
    entries.into_values().collect()
}

/// `/api/v1` (group `""`) or `/apis/<group>/<version>`: the resources served
/// there, with `<plural>/status` subresources. `None` for a group/version
/// that is not served (answer 404).
pub fn resource_list(group: &str, version: &str) -> Option<&'static JsonDocument> {
    static DOCS: LazyLock<Vec<(&'static str, &'static str, JsonDocument)>> = LazyLock::new(|| {
        resources::groups()
            .into_iter()
            .map(|(group, version)| {
                let group_version = if group.is_empty() {
                    version.to_owned()
                } else {
                    format!("{group}/{version}")
                };
                let mut doc = json!({
                    "kind": "APIResourceList",
                    "groupVersion": group_version,
                    "resources": legacy_resources(group, version),
                });
                // kube-apiserver omits apiVersion on the core list only.
                if !group.is_empty() {
                    doc["apiVersion"] = json!("v1");
                }
                (group, version, JsonDocument::new(doc))
            })
            .collect()
    });
    DOCS.iter()
        .find(|(g, v, _)| *g == group && *v == version)
        .map(|(_, _, doc)| doc)
}

fn aggregated_group(group: &str, version: &str) -> Value {
    let mut resources: Vec<&ResourceType> = served_in(group, version).collect();
    resources.sort_by_key(|r| r.plural);
    let resources: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
            let mut entry = json!({
                "resource": r.plural,
                "responseKind": kind,
                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular,
                "verbs": r.verbs(),
            });
            if !r.short_names.is_empty() {
                entry["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                entry["categories"] = json!(r.categories);
            }
            if r.has_status {
                entry["subresources"] = json!([{
                    "subresource": "status",
                    "responseKind": kind,
                    "verbs": STATUS_VERBS,
                }]);
            }
            entry
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({})
    } else {
        json!({"name": group})
    };
    json!({
        "metadata": metadata,
        "versions": [{"version": version, "resources": resources, "freshness": "Current"}],
    })
}

/// Aggregated discovery: `legacy` true for `/api` (the core group only),
/// false for `/apis` (every other group). Serve with [`AGGREGATED_V2`].
pub fn aggregated(legacy: bool) -> &'static JsonDocument {
    fn build(legacy: bool) -> JsonDocument {
        let items: Vec<Value> = resources::groups()
            .into_iter()
            .filter(|(group, _)| group.is_empty() == legacy)
            .map(|(group, version)| aggregated_group(group, version))
            .collect();
        JsonDocument::new(json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }))
    }
    static API: LazyLock<JsonDocument> = LazyLock::new(|| build(true));
    static APIS: LazyLock<JsonDocument> = LazyLock::new(|| build(false));
    if legacy { &API } else { &APIS }
}

/// `GOARCH`-style name of the architecture this binary was built for.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `/version` (`version.Info`). `gitCommit` and `buildDate` come from the
/// `EDGE_GIT_COMMIT` and `EDGE_BUILD_DATE` variables at build time when set
/// (fixed otherwise, so builds stay reproducible). There is no Go toolchain:
/// `goVersion` and `compiler` name the Rust one, for tools that print them.
pub fn version_info() -> &'static JsonDocument {
    static DOC: LazyLock<JsonDocument> = LazyLock::new(|| {
        JsonDocument::new(json!({
            "major": MAJOR,
            "minor": MINOR,
            "emulationMajor": MAJOR,
            "emulationMinor": MINOR,
            "minCompatibilityMajor": MAJOR,
            "minCompatibilityMinor": "36",
            "gitVersion": GIT_VERSION,
            "gitCommit": option_env!("EDGE_GIT_COMMIT").unwrap_or(""),
            "gitTreeState": "clean",
            "buildDate": option_env!("EDGE_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
            "goVersion": "rust",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        }))
    });
    &DOC
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        APIGroupList, APIResourceList, APIVersions,
    };

    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn negotiation() {
        use Representation::*;
        assert_eq!(negotiate(KUBECTL_ACCEPT), Aggregated);
        assert_eq!(negotiate("application/json, */*"), Legacy);
        assert_eq!(negotiate(""), Legacy);
        assert_eq!(negotiate("*/*"), Legacy);
        assert_eq!(
            negotiate("application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io"),
            Aggregated
        );
        assert_eq!(
            negotiate(
                "application/json;q=0.9,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            ),
            Aggregated
        );
        assert_eq!(
            negotiate(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json"
            ),
            Legacy
        );
        assert_eq!(
            negotiate("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            NotAcceptable
        );
        assert_eq!(
            negotiate("application/vnd.kubernetes.protobuf"),
            NotAcceptable
        );
        assert_eq!(negotiate("application/json;q=0"), NotAcceptable);
        assert_eq!(negotiate_resource_list(KUBECTL_ACCEPT), Legacy);
        assert_eq!(
            negotiate_resource_list(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            ),
            NotAcceptable
        );
        assert_eq!(Aggregated.content_type(), Some(AGGREGATED_V2));
        assert_eq!(Legacy.content_type(), Some("application/json"));
    }

    #[test]
    fn storage_version_hashes_match_kube_apiserver() {
        // Values a real kube-apiserver reports.
        assert_eq!(storage_version_hash("", "v1", "ConfigMap"), "qFsyl6wFWjQ=");
        assert_eq!(storage_version_hash("", "v1", "Pod"), "xPOwRZ+Yhw8=");
        assert_eq!(
            storage_version_hash("coordination.k8s.io", "v1", "Lease"),
            "gqkMMb/YqFM="
        );
    }

    #[test]
    fn legacy_documents_parse_as_kubernetes_types() {
        let versions: APIVersions =
            serde_json::from_value(api_versions("10.0.0.1:6443")).expect("APIVersions");
        assert_eq!(versions.versions, ["v1"]);
        assert_eq!(
            versions.server_address_by_client_cidrs[0].server_address,
            "10.0.0.1:6443"
        );

        let groups: APIGroupList =
            serde_json::from_slice(group_list().bytes()).expect("APIGroupList");
        let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "coordination.k8s.io",
                "discovery.k8s.io",
                "authentication.k8s.io",
                "authorization.k8s.io"
            ]
        );
        assert_eq!(
            groups.groups[0]
                .preferred_version
                .as_ref()
                .map(|v| v.group_version.as_str()),
            Some("coordination.k8s.io/v1")
        );

        for r in RESOURCES {
            let doc = resource_list(r.group, r.version).expect("served group/version");
            let list: APIResourceList =
                serde_json::from_slice(doc.bytes()).expect("APIResourceList");
            assert_eq!(list.group_version, r.api_version());
            let entry = list
                .resources
                .iter()
                .find(|e| e.name == r.plural)
                .expect("resource listed");
            assert_eq!(entry.kind, r.kind);
            assert_eq!(entry.singular_name, r.singular);
            assert_eq!(entry.namespaced, r.namespaced);
            assert_eq!(
                entry.short_names.as_deref().unwrap_or_default(),
                r.short_names
            );
            assert_eq!(
                entry.categories.as_deref().unwrap_or_default(),
                r.categories
            );
            assert_eq!(entry.storage_version_hash.is_some(), r.is_stored());
            let status = list
                .resources
                .iter()
                .find(|e| e.name == format!("{}/status", r.plural));
            assert_eq!(status.is_some(), r.has_status, "{}", r.plural);
        }
        assert!(resource_list("", "v2").is_none());
        assert!(resource_list("apps", "v1").is_none());
    }

    #[test]
    fn aggregated_documents_parse_and_cover_the_table() {
        use kube::core::discovery::v2::APIGroupDiscoveryList;
        let api: APIGroupDiscoveryList =
            serde_json::from_slice(aggregated(true).bytes()).expect("core list");
        let apis: APIGroupDiscoveryList =
            serde_json::from_slice(aggregated(false).bytes()).expect("group list");
        assert_eq!(api.items.len(), 1);
        assert_eq!(apis.items.len(), 4);
        assert_eq!(aggregated(true).value()["kind"], "APIGroupDiscoveryList");
        for r in RESOURCES {
            let list = if r.group.is_empty() { &api } else { &apis };
            let group = list
                .items
                .iter()
                .find(|g| {
                    g.metadata
                        .as_ref()
                        .and_then(|m| m.name.as_deref())
                        .unwrap_or("")
                        == r.group
                })
                .expect("group present");
            let version = &group.versions[0];
            assert_eq!(version.version.as_deref(), Some(r.version));
            assert_eq!(version.freshness.as_deref(), Some("Current"));
            let entry = version
                .resources
                .iter()
                .find(|e| e.resource.as_deref() == Some(r.plural))
                .expect("resource present");
            let kind = entry.response_kind.as_ref().expect("responseKind");
            assert_eq!(kind.kind.as_deref(), Some(r.kind));
            assert_eq!(kind.group.as_deref(), Some(r.group));
            let scope = if r.namespaced {
                "Namespaced"
            } else {
                "Cluster"
            };
            assert_eq!(entry.scope.as_deref(), Some(scope));
            assert_eq!(entry.short_names, r.short_names);
            assert_eq!(entry.subresources.len(), usize::from(r.has_status));
        }
    }

    #[test]
    fn version() {
        let info = version_info().value();
        assert_eq!(info["gitVersion"], GIT_VERSION);
        assert_eq!(info["major"], "1");
        assert_eq!(info["minor"], "37");
        assert!(
            info["platform"]
                .as_str()
                .is_some_and(|p| p.starts_with("linux/"))
        );
    }
}
