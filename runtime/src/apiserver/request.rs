//! What a Kubernetes API request asks for: the resource, namespace, name,
//! subresource and verb, read from the method, the path and the query.
//!
//! Owns the URL grammar (`/api/v1/...`, `/apis/<group>/<version>/...`,
//! `namespaces/<ns>/<resource>/<name>/<subresource>`, and the `status` and
//! `finalize` subresources of namespaces, as Kubernetes parses them). Must not
//! touch storage.

use std::collections::HashMap;

use http::Method;

use edge_apimachinery::resources::{self, ResourceType};
use edge_apimachinery::status::ApiError;

/// The verb, as Kubernetes authorization names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }
}

/// A parsed resource request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

/// What a path under `/api` or `/apis` names.
#[derive(Debug, Clone)]
pub enum Target {
    /// A discovery document (`/api`, `/apis`, `/api/v1`, `/apis/<g>`, `/apis/<g>/<v>`).
    Discovery {
        group: Option<String>,
        version: Option<String>,
    },
    /// A resource request.
    Resource(RequestInfo),
}

/// What the apiserver answers for a path it does not serve.
pub fn path_not_found() -> ApiError {
    ApiError {
        code: 404,
        reason: edge_apimachinery::status::Reason::NotFound,
        message: "the server could not find the requested resource".into(),
        details: None,
    }
}

/// Query parameters, decoded (last value wins).
pub fn query_map(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1"))
}

/// Parses `method path?query` into a target.
pub fn parse(
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Target, ApiError> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let not_found = path_not_found;
    let (group, version, rest): (&str, &str, &[&str]) = match parts.as_slice() {
        ["api"] => {
            return Ok(Target::Discovery {
                group: None,
                version: None,
            });
        }
        ["api", v] => {
            return Ok(Target::Discovery {
                group: Some(String::new()),
                version: Some((*v).to_owned()),
            });
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis"] => {
            return Ok(Target::Discovery {
                group: None,
                version: None,
            });
        }
        ["apis", g] => {
            return Ok(Target::Discovery {
                group: Some((*g).to_owned()),
                version: None,
            });
        }
        ["apis", g, v] => {
            return Ok(Target::Discovery {
                group: Some((*g).to_owned()),
                version: Some((*v).to_owned()),
            });
        }
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    // The legacy watch prefix: /api/v1/watch/...
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (namespace, rest): (Option<String>, &[&str]) = match rest {
        ["namespaces", ns, rest @ ..]
            if !rest.is_empty() && !matches!(rest[0], "status" | "finalize") =>
        {
            (Some((*ns).to_owned()), rest)
        }
        rest => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_owned()), None),
        [plural, name, sub] => (*plural, Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return Err(not_found()),
    };
    let resource = resources::find(group, version, plural).ok_or_else(not_found)?;
    if namespace.is_some() && !resource.namespaced {
        return Err(not_found());
    }
    match subresource.as_deref() {
        None => {}
        Some("status") if resource.has_status => {}
        Some("finalize") if resource.plural == "namespaces" => {}
        Some(_) => return Err(not_found()),
    }
    let watch = legacy_watch || is_true(query.get("watch"));
    let verb = match (method.as_str(), name.is_some()) {
        ("GET" | "HEAD", _) if watch => Verb::Watch,
        ("GET" | "HEAD", true) => Verb::Get,
        ("GET" | "HEAD", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        _ => {
            return Err(ApiError::method_not_supported(
                edge_apimachinery::status::GroupResource::new(resource.group, resource.plural),
                method.as_str(),
            ));
        }
    };
    if !resource.verbs().contains(&verb.as_str()) {
        return Err(ApiError::method_not_supported(
            edge_apimachinery::status::GroupResource::new(resource.group, resource.plural),
            method.as_str(),
        ));
    }
    if subresource.is_some() && !matches!(verb, Verb::Get | Verb::Update | Verb::Patch) {
        return Err(ApiError::method_not_supported(
            edge_apimachinery::status::GroupResource::new(resource.group, resource.plural),
            method.as_str(),
        ));
    }
    Ok(Target::Resource(RequestInfo {
        resource,
        namespace,
        name,
        subresource,
        verb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: Method, path: &str, query: &str) -> Result<RequestInfo, ApiError> {
        match parse(&method, path, &query_map(Some(query)))? {
            Target::Resource(r) => Ok(r),
            Target::Discovery { .. } => panic!("{path} parsed as discovery"),
        }
    }

    #[test]
    fn paths() {
        let r = resource(Method::GET, "/api/v1/namespaces/default/configmaps/c1", "").expect("ok");
        assert_eq!(
            (
                r.resource.plural,
                r.namespace.as_deref(),
                r.name.as_deref(),
                r.verb
            ),
            ("configmaps", Some("default"), Some("c1"), Verb::Get)
        );
        let r = resource(Method::GET, "/api/v1/configmaps", "watch=true").expect("ok");
        assert_eq!((r.namespace, r.verb), (None, Verb::Watch));
        let r = resource(Method::GET, "/api/v1/namespaces/kube-system", "").expect("ok");
        assert_eq!(
            (r.resource.plural, r.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let r = resource(Method::PUT, "/api/v1/namespaces/x/finalize", "").expect("ok");
        assert_eq!(
            (r.resource.plural, r.subresource.as_deref(), r.verb),
            ("namespaces", Some("finalize"), Verb::Update)
        );
        let r = resource(Method::PATCH, "/api/v1/nodes/edge-a/status", "").expect("ok");
        assert_eq!(
            (r.subresource.as_deref(), r.verb),
            (Some("status"), Verb::Patch)
        );
        let r = resource(
            Method::PUT,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
            "",
        )
        .expect("ok");
        assert_eq!(r.resource.kind, "Lease");
        let r = resource(Method::DELETE, "/api/v1/namespaces/default/pods", "").expect("ok");
        assert_eq!(r.verb, Verb::DeleteCollection);
        assert!(matches!(
            parse(&Method::GET, "/apis/discovery.k8s.io/v1", &HashMap::new()),
            Ok(Target::Discovery { .. })
        ));
    }

    #[test]
    fn bad_paths() {
        assert_eq!(
            resource(Method::GET, "/api/v1/widgets", "")
                .expect_err("unknown")
                .code,
            404
        );
        assert_eq!(
            resource(Method::GET, "/api/v1/namespaces/x/nodes", "")
                .expect_err("cluster-scoped")
                .code,
            404
        );
        assert_eq!(
            resource(Method::GET, "/api/v1/configmaps/a/status", "")
                .expect_err("no status")
                .code,
            404
        );
        assert_eq!(
            resource(Method::POST, "/api/v1/namespaces/d/configmaps/c1", "")
                .expect_err("post item")
                .code,
            405
        );
        assert_eq!(
            resource(Method::GET, "/api/v1/namespaces/d/configmaps/c/x/y", "")
                .expect_err("deep")
                .code,
            404
        );
    }
}
