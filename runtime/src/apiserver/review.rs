//! The self-reviews, answered from the request and never stored:
//! `SelfSubjectReview` (`kubectl auth whoami`: who the server takes the
//! caller for) and `SelfSubjectAccessReview` (`kubectl auth can-i`: whether
//! the caller may do something), both through [`super::auth`]'s rules.
//!
//! Owns the mapping between those objects and the authorizer. Must not do IO
//! or decide anything the authorizer does not.

use serde_json::{Value, json};

use super::auth::{self, Attributes, Identity};
use edge_apimachinery::resources::ResourceType;
use edge_apimachinery::status::{ApiError, FieldError, GroupKind};

/// Every authenticated identity is also in this group (as in Kubernetes).
const AUTHENTICATED: &str = "system:authenticated";

/// Answers a decoded review object of kind `rt` for `who`: the object with
/// its `status` filled in.
pub fn answer(rt: &ResourceType, who: &Identity, mut review: Value) -> Result<Value, ApiError> {
    let status = match rt.kind {
        "SelfSubjectReview" => who_am_i(who),
        "SelfSubjectAccessReview" => may_i(rt, who, &review["spec"])?,
        other => return Err(ApiError::internal(format!("{other} is not a review"))),
    };
    review["apiVersion"] = json!(rt.api_version());
    review["kind"] = json!(rt.kind);
    if !review["metadata"].is_object() {
        review["metadata"] = json!({});
    }
    review["status"] = status;
    Ok(review)
}

fn who_am_i(who: &Identity) -> Value {
    let mut groups = who.groups.clone();
    if !groups.iter().any(|g| g == AUTHENTICATED) {
        groups.push(AUTHENTICATED.to_owned());
    }
    json!({"userInfo": {"username": who.user, "groups": groups}})
}

fn may_i(rt: &ResourceType, who: &Identity, spec: &Value) -> Result<Value, ApiError> {
    let text = |v: &Value, field: &str| v[field].as_str().unwrap_or_default().to_owned();
    let some = |s: &str| (!s.is_empty()).then_some(s.to_owned());
    let decision = match (
        spec.get("resourceAttributes").filter(|v| v.is_object()),
        spec.get("nonResourceAttributes").filter(|v| v.is_object()),
    ) {
        (Some(r), None) => {
            let (verb, group, resource) = (text(r, "verb"), text(r, "group"), text(r, "resource"));
            let (subresource, namespace, name) = (
                some(&text(r, "subresource")),
                some(&text(r, "namespace")),
                some(&text(r, "name")),
            );
            auth::decide(
                who,
                &Attributes {
                    verb: &verb,
                    group: &group,
                    resource: &resource,
                    subresource: subresource.as_deref(),
                    namespace: namespace.as_deref(),
                    name: name.as_deref(),
                },
            )
        }
        (None, Some(n)) => auth::decide_non_resource(who, &text(n, "verb"), &text(n, "path")),
        (r, _) => {
            let detail = "exactly one of resourceAttributes or nonResourceAttributes must be set";
            let error = match r {
                Some(_) => FieldError::forbidden("spec.nonResourceAttributes", detail),
                None => FieldError::required("spec.resourceAttributes", detail),
            };
            return Err(ApiError::invalid(GroupKind::from(rt), "", &[error]));
        }
    };
    Ok(match decision {
        Ok(()) => json!({"allowed": true}),
        Err(why) => json!({"allowed": false, "reason": why}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::auth::{MASTERS, NODES};
    use edge_apimachinery::resources::find;

    fn node() -> Identity {
        Identity {
            user: "system:node:edge-a".into(),
            groups: vec![NODES.into()],
        }
    }

    fn access(who: &Identity, spec: Value) -> Result<Value, ApiError> {
        let rt = find("authorization.k8s.io", "v1", "selfsubjectaccessreviews").expect("served");
        answer(rt, who, json!({"spec": spec})).map(|r| r["status"].clone())
    }

    #[test]
    fn who_am_i_names_the_user_and_groups() {
        let rt = find("authentication.k8s.io", "v1", "selfsubjectreviews").expect("served");
        let review = answer(rt, &node(), json!({"metadata": {}})).expect("answer");
        assert_eq!(review["kind"], "SelfSubjectReview");
        assert_eq!(review["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(
            review["status"]["userInfo"],
            json!({"username": "system:node:edge-a", "groups": [NODES, AUTHENTICATED]})
        );
    }

    #[test]
    fn may_i_follows_the_authorizer() {
        let admin = Identity {
            user: "system:admin".into(),
            groups: vec![MASTERS.into()],
        };
        let anything = json!({"resourceAttributes": {"verb": "*", "group": "*", "resource": "*"}});
        assert_eq!(
            access(&admin, anything.clone()).expect("ok")["allowed"],
            true
        );
        let status = access(&node(), anything).expect("ok");
        assert_eq!(status["allowed"], false);
        assert!(
            status["reason"]
                .as_str()
                .is_some_and(|r| r.contains("cannot *")),
            "{status}"
        );
        let own = json!({"resourceAttributes":
            {"verb": "patch", "resource": "nodes", "subresource": "status", "name": "edge-a"}});
        assert_eq!(access(&node(), own).expect("ok")["allowed"], true);
        let other = json!({"resourceAttributes":
            {"verb": "patch", "resource": "nodes", "subresource": "status", "name": "edge-b"}});
        assert_eq!(access(&node(), other).expect("ok")["allowed"], false);
        let health = json!({"nonResourceAttributes": {"verb": "get", "path": "/readyz"}});
        assert_eq!(access(&node(), health).expect("ok")["allowed"], true);
    }

    #[test]
    fn exactly_one_kind_of_attributes() {
        let e = access(&node(), json!({})).expect_err("neither");
        assert_eq!(e.code, 422);
        assert!(e.message.contains("exactly one of"), "{}", e.message);
        let both = json!({
            "resourceAttributes": {"verb": "get", "resource": "pods"},
            "nonResourceAttributes": {"verb": "get", "path": "/healthz"},
        });
        assert_eq!(access(&node(), both).expect_err("both").code, 422);
    }
}
