//! Authentication and authorization.
//!
//! Owns who a request is (client certificate, or the join token over Basic or
//! Bearer) and what they may do. The rules:
//! - anonymous: only `/cacerts`, `/ping`, `/healthz`, `/livez`, `/readyz`, `/version`;
//! - `system:masters` (the admin certificate): everything;
//! - a node (`system:node:NAME` in `system:nodes`): reads of nodes, writes of its
//!   own Node, its own Lease in `kube-node-lease`, and events;
//! - the join token: the supervisor endpoints only (server: all of them; node: the
//!   agent's), never the Kubernetes API;
//! - every certificate identity: its own self-reviews (who am I, may I), and
//!   `get` on the health and discovery paths.
//!
//! Must not log credentials; comparisons of secrets are constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use edge_apimachinery::resources::ResourceType;
use edge_apimachinery::status::{ApiError, GroupResource};

use edge_config::secret::Secret;

/// Group of the administrator certificate.
pub const MASTERS: &str = "system:masters";
/// Group of node (kubelet) certificates.
pub const NODES: &str = "system:nodes";
/// Group of a client holding the server token.
pub const TOKEN_SERVER: &str = "edge:server";
/// Group of a client holding the node (agent) token.
pub const TOKEN_AGENT: &str = "edge:agent";

/// Paths served to anyone, without credentials (the router's own routes).
pub const ANONYMOUS_PATHS: &[&str] = &[
    "/cacerts", "/ping", "/healthz", "/livez", "/readyz", "/version",
];

/// Discovery paths any certificate identity may `get` (prefixes end in `/`).
const DISCOVERY_PATHS: &[&str] = &["/api", "/api/", "/apis", "/apis/", "/openapi/"];

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node name, for a node certificate.
    pub fn node_name(&self) -> Option<&str> {
        self.in_group(NODES)
            .then(|| self.user.strip_prefix("system:node:"))
            .flatten()
    }

    /// Whether this identity came from the join token (not a certificate).
    pub fn is_token(&self) -> bool {
        self.in_group(TOKEN_SERVER) || self.in_group(TOKEN_AGENT)
    }
}

/// What the connection presented.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The verified client certificate's identity, if one was presented.
    pub certificate: Option<Identity>,
}

/// Reads CN and O from a verified client certificate (DER).
pub fn identity_from_certificate(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    Some(Identity { user, groups })
}

/// The secrets a token may carry.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The server token's secret (`--token`).
    pub server: Secret<String>,
    /// The agent token's secret (equal to the server's unless set apart).
    pub agent: Secret<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// The identity an `Authorization` header proves, or why it proves none.
    pub fn authenticate(&self, header: &str) -> Result<Identity, ApiError> {
        let (user, secret) = if let Some(b) = header.strip_prefix("Basic ") {
            let decoded = B64
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| ApiError::unauthorized("Unauthorized"))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| ApiError::unauthorized("Unauthorized"))?;
            (Some(u.to_owned()), p.to_owned())
        } else if let Some(t) = header.strip_prefix("Bearer ") {
            // A full K10 token (`K10<hash>::<user>:<secret>`) or a bare secret.
            let t = t.trim();
            match t.strip_prefix("K10").and_then(|rest| rest.split_once("::")) {
                Some((_, creds)) => match creds.split_once(':') {
                    Some((u, p)) => (Some(u.to_owned()), p.to_owned()),
                    None => (None, creds.to_owned()),
                },
                None => (None, t.to_owned()),
            }
        } else {
            return Err(ApiError::unauthorized("Unauthorized"));
        };
        let server = constant_time_eq(secret.as_bytes(), self.server.expose().as_bytes());
        let agent = constant_time_eq(secret.as_bytes(), self.agent.expose().as_bytes());
        match (user.as_deref(), server, agent) {
            (Some("node"), _, true) | (None, false, true) => Ok(Identity {
                user: "node".into(),
                groups: vec![TOKEN_AGENT.into()],
            }),
            (Some("server") | None, true, _) => Ok(Identity {
                user: "server".into(),
                groups: vec![TOKEN_SERVER.into()],
            }),
            _ => Err(ApiError::unauthorized("Unauthorized")),
        }
    }
}

/// A Kubernetes API request, for authorization. The resource need not be one
/// this server serves (a `SelfSubjectAccessReview` may ask about any).
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    /// API group, `""` for the core group.
    pub group: &'a str,
    /// The resource's plural name.
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// The attributes of a request for a served resource.
    pub fn of(
        verb: &'a str,
        rt: &'a ResourceType,
        subresource: Option<&'a str>,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Self {
        Self {
            verb,
            group: rt.group,
            resource: rt.plural,
            subresource,
            namespace,
            name,
        }
    }
}

/// Allows a request for a path that is not a resource (`kubectl auth can-i
/// get /healthz`), or says why not.
pub fn decide_non_resource(who: &Identity, verb: &str, path: &str) -> Result<(), String> {
    let matches = |paths: &[&str]| {
        paths
            .iter()
            .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
    };
    let get = verb == "get";
    if who.in_group(MASTERS)
        || (get && matches(ANONYMOUS_PATHS))
        || (get && !who.is_token() && matches(DISCOVERY_PATHS))
    {
        return Ok(());
    }
    Err(format!(
        "User \"{}\" cannot {verb} path \"{path}\"",
        who.user
    ))
}

/// Allows or forbids a Kubernetes API request: 403 with a Status saying why.
pub fn authorize(who: &Identity, a: &Attributes<'_>) -> Result<(), ApiError> {
    decide(who, a).map_err(|why| {
        ApiError::forbidden(
            GroupResource::new(a.group, a.resource),
            a.name.unwrap_or(""),
            &why,
        )
    })
}

/// Allows a Kubernetes API request, or says why not.
pub fn decide(who: &Identity, a: &Attributes<'_>) -> Result<(), String> {
    if who.in_group(MASTERS) {
        return Ok(());
    }
    let self_review = matches!(
        (a.group, a.resource),
        ("authentication.k8s.io", "selfsubjectreviews")
            | ("authorization.k8s.io", "selfsubjectaccessreviews")
    );
    if self_review && a.verb == "create" && !who.is_token() {
        return Ok(());
    }
    if let Some(node) = who.node_name() {
        let own = a.name == Some(node);
        let read = matches!(a.verb, "get" | "list" | "watch");
        let allowed = match (a.group, a.resource) {
            // A create names its object in the body: the handler checks it is the node's own.
            ("", "nodes") => {
                read || a.verb == "create" || (own && matches!(a.verb, "update" | "patch"))
            }
            // A create names its Lease in the body: the handler checks it is the node's own.
            ("coordination.k8s.io", "leases") => {
                a.namespace == Some("kube-node-lease")
                    && (a.verb == "create" || (own && matches!(a.verb, "get" | "update" | "patch")))
            }
            ("", "events") => matches!(a.verb, "create" | "update" | "patch"),
            ("", "namespaces" | "services" | "endpoints" | "configmaps") => read,
            ("discovery.k8s.io", "endpointslices") => read,
            _ => false,
        };
        if allowed {
            return Ok(());
        }
    }
    let resource = match a.subresource {
        Some(sub) => format!("{}/{sub}", a.resource),
        None => a.resource.to_owned(),
    };
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    Err(format!(
        "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        who.user, a.verb, a.group
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_apimachinery::resources::find;

    fn tokens() -> Tokens {
        Tokens {
            server: Secret::new("s3cret".into()),
            agent: Secret::new("s3cret".into()),
        }
    }

    #[test]
    fn token_forms() {
        let t = tokens();
        let basic = |s: &str| format!("Basic {}", B64.encode(s));
        assert_eq!(
            t.authenticate(&basic("server:s3cret")).expect("ok").groups,
            [TOKEN_SERVER]
        );
        assert_eq!(
            t.authenticate(&basic("node:s3cret")).expect("ok").groups,
            [TOKEN_AGENT]
        );
        assert!(t.authenticate(&basic("server:wrong")).is_err());
        assert!(t.authenticate(&basic("admin:s3cret")).is_err());
        let full = format!("Bearer K10{}::server:s3cret", "a".repeat(64));
        assert_eq!(t.authenticate(&full).expect("ok").user, "server");
        assert_eq!(t.authenticate("Bearer s3cret").expect("ok").user, "server");
        let e = t.authenticate("Bearer nope").expect_err("wrong");
        assert_eq!(e.code, 401);
        assert!(!e.message.contains("nope"));
        assert!(t.authenticate("Digest x").is_err());
    }

    #[test]
    fn nodes_touch_only_their_own() {
        let node = Identity {
            user: "system:node:edge-a".into(),
            groups: vec![NODES.into()],
        };
        let nodes = find("", "v1", "nodes").expect("nodes");
        let leases = find("coordination.k8s.io", "v1", "leases").expect("leases");
        let secrets = find("", "v1", "secrets").expect("secrets");
        let at = |verb, resource, ns, name, sub| Attributes::of(verb, resource, sub, ns, name);
        assert!(
            authorize(
                &node,
                &at("patch", nodes, None, Some("edge-a"), Some("status"))
            )
            .is_ok()
        );
        assert!(authorize(&node, &at("list", nodes, None, None, None)).is_ok());
        let e = authorize(
            &node,
            &at("patch", nodes, None, Some("edge-b"), Some("status")),
        )
        .expect_err("other node");
        assert_eq!(e.code, 403);
        assert!(
            e.message.contains("cannot patch resource \"nodes/status\""),
            "{}",
            e.message
        );
        assert!(
            authorize(
                &node,
                &at(
                    "update",
                    leases,
                    Some("kube-node-lease"),
                    Some("edge-a"),
                    None
                )
            )
            .is_ok()
        );
        assert!(
            authorize(
                &node,
                &at(
                    "update",
                    leases,
                    Some("kube-node-lease"),
                    Some("edge-b"),
                    None
                )
            )
            .is_err()
        );
        assert!(authorize(&node, &at("get", secrets, Some("default"), Some("s"), None)).is_err());
        let admin = Identity {
            user: "system:admin".into(),
            groups: vec![MASTERS.into()],
        };
        assert!(
            authorize(
                &admin,
                &at("delete", secrets, Some("default"), Some("s"), None)
            )
            .is_ok()
        );
        let token = tokens().authenticate("Bearer s3cret").expect("ok");
        assert!(
            authorize(
                &token,
                &at("get", secrets, Some("default"), Some("s"), None)
            )
            .is_err()
        );
    }

    #[test]
    fn everyone_but_tokens_may_review_themselves() {
        let node = Identity {
            user: "system:node:edge-a".into(),
            groups: vec![NODES.into()],
        };
        let token = tokens().authenticate("Bearer s3cret").expect("ok");
        for (group, resource) in [
            ("authentication.k8s.io", "selfsubjectreviews"),
            ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ] {
            let a = Attributes {
                verb: "create",
                group,
                resource,
                subresource: None,
                namespace: None,
                name: None,
            };
            assert!(authorize(&node, &a).is_ok(), "{resource}");
            assert!(authorize(&token, &a).is_err(), "{resource}");
        }
        assert!(decide_non_resource(&node, "get", "/healthz").is_ok());
        assert!(decide_non_resource(&node, "get", "/apis/apps/v1").is_ok());
        assert!(decide_non_resource(&node, "get", "/metrics").is_err());
        assert!(decide_non_resource(&node, "post", "/healthz").is_err());
        assert!(decide_non_resource(&token, "get", "/healthz").is_ok());
        assert!(decide_non_resource(&token, "get", "/api/v1").is_err());
    }
}
