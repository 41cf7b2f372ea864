//! Allocations the API server makes when an object is created: a Service's
//! cluster IP from `--service-cidr`, a Node's pod CIDR from
//! `--cluster-cidr`, and the datastore lease that expires Events; and their
//! release on delete.
//!
//! Owns choosing free addresses and ranges (by reading what the stored
//! objects hold) and where the result goes in the object. Must not decide
//! whether a request may create the object (the verbs in [`super::handlers`]
//! do, then call [`Api::allocate`]).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use super::handlers::Api;
use edge_apimachinery::resources::ResourceType;
use edge_apimachinery::status::{ApiError, FieldError, GroupKind};
use edge_datastore::{DatastoreError, LeaseId};

/// How long Event objects live (kube-apiserver's `--event-ttl` default).
const EVENT_TTL: Duration = Duration::from_secs(3600);

impl Api {
    /// Per-kind allocations at create: a service's cluster IP, a node's pod
    /// CIDR, an event's TTL lease.
    pub(super) async fn allocate(
        &self,
        rt: &ResourceType,
        object: &mut Value,
        dry_run: bool,
    ) -> Result<LeaseId, ApiError> {
        match (rt.group, rt.kind) {
            ("", "Service") => {
                self.allocate_cluster_ip(object, dry_run).await?;
                Ok(0)
            }
            ("", "Node") => {
                if object.pointer("/spec/podCIDR").is_none() && !dry_run {
                    self.allocate_pod_cidr(object).await?;
                }
                Ok(0)
            }
            ("", "Event") if !dry_run => self.event_lease().await,
            _ => Ok(0),
        }
    }

    pub(super) async fn release(&self, rt: &ResourceType, object: &Value) {
        if (rt.group, rt.kind) == ("", "Service")
            && let Some(ip) = object.pointer("/spec/clusterIP").and_then(Value::as_str)
            && ip != "None"
        {
            let _ = self
                .objects
                .datastore()
                .delete(&format!("/registry/ipallocations/{ip}"), None)
                .await;
        }
    }

    async fn allocate_cluster_ip(&self, object: &mut Value, dry_run: bool) -> Result<(), ApiError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let asked = object
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if asked == "None" {
            object["spec"]["clusterIPs"] = json!(["None"]);
            return Ok(());
        }
        let invalid = |value: &str, why: &str| {
            ApiError::invalid(
                GroupKind::new("", "Service"),
                &name,
                &[FieldError::invalid("spec.clusterIP", json!(value), why)],
            )
        };
        let store = self.objects.datastore();
        let claim = |ip: IpAddr| async move {
            if dry_run {
                return Ok(true);
            }
            match store
                .create(&format!("/registry/ipallocations/{ip}"), Vec::new(), 0)
                .await
            {
                Ok(_) => Ok(true),
                Err(DatastoreError::KeyExists { .. }) => Ok(false),
                Err(e) => Err(ApiError::service_unavailable(format!(
                    "cannot allocate a cluster IP: {e}"
                ))),
            }
        };
        let ip = if asked.is_empty() {
            // Random probing over the range, skipping the network address and .1
            // (the `kubernetes` service's, reserved).
            let size = 1u128
                << (if self.service_cidr.addr().is_ipv4() {
                    32
                } else {
                    128
                } - u32::from(self.service_cidr.prefix()))
                .min(24);
            let mut found = None;
            for _ in 0..64 {
                let n = rand::rng().random_range(2..size.saturating_sub(1).max(3));
                if let Some(ip) = self.service_cidr.nth(n)
                    && claim(ip).await?
                {
                    found = Some(ip);
                    break;
                }
            }
            found.ok_or_else(|| {
                ApiError::internal("failed to allocate a cluster IP: the range is full")
            })?
        } else {
            let ip: IpAddr = asked
                .parse()
                .map_err(|_| invalid(&asked, "must be a valid IP address or \"None\""))?;
            if !self.service_cidr.contains(ip) {
                return Err(invalid(
                    &asked,
                    &format!(
                        "provided IP is not in the valid range. The range of valid IPs is {}",
                        self.service_cidr
                    ),
                ));
            }
            if !claim(ip).await? {
                return Err(invalid(&asked, "provided IP is already allocated"));
            }
            ip
        };
        object["spec"]["clusterIP"] = json!(ip.to_string());
        object["spec"]["clusterIPs"] = json!([ip.to_string()]);
        Ok(())
    }

    async fn allocate_pod_cidr(&self, object: &mut Value) -> Result<(), ApiError> {
        let per_node = if self.cluster_cidr.addr().is_ipv4() {
            24
        } else {
            64
        };
        let store = self.objects.datastore();
        let node = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for index in 0..65_536u128 {
            let Some(subnet) = self
                .cluster_cidr
                .subnet(per_node.max(self.cluster_cidr.prefix()), index)
            else {
                break;
            };
            match store
                .create(
                    &format!(
                        "/registry/podcidrs/{}",
                        subnet.to_string().replace('/', "_")
                    ),
                    node.clone().into_bytes(),
                    0,
                )
                .await
            {
                Ok(_) => {
                    object["spec"]["podCIDR"] = json!(subnet.to_string());
                    object["spec"]["podCIDRs"] = json!([subnet.to_string()]);
                    return Ok(());
                }
                Err(DatastoreError::KeyExists { .. }) => continue,
                Err(e) => {
                    return Err(ApiError::service_unavailable(format!(
                        "cannot allocate a pod CIDR: {e}"
                    )));
                }
            }
        }
        tracing::warn!(node, cluster_cidr = %self.cluster_cidr, "no pod CIDR left for the node");
        Ok(())
    }

    async fn event_lease(&self) -> Result<LeaseId, ApiError> {
        if let Some((id, at)) = *self.event_lease.lock().expect("lease lock")
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(id);
        }
        let id = self
            .objects
            .datastore()
            .lease_grant(EVENT_TTL + Duration::from_secs(60))
            .await
            .map_err(|e| {
                ApiError::service_unavailable(format!("cannot grant the event lease: {e}"))
            })?;
        *self.event_lease.lock().expect("lease lock") = Some((id, Instant::now()));
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use edge_apimachinery::resources::find;

    use super::*;

    fn services() -> &'static ResourceType {
        find("", "v1", "services").expect("served")
    }

    fn service(name: &str, cluster_ip: Option<&str>) -> Value {
        let mut s = json!({"metadata": {"name": name},
                           "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}});
        if let Some(ip) = cluster_ip {
            s["spec"]["clusterIP"] = json!(ip);
        }
        s
    }

    fn cluster_ip(object: &Value) -> String {
        object["spec"]["clusterIP"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    #[tokio::test]
    async fn cluster_ips_are_unique_in_range_and_released_on_delete() {
        // A /27: 29 usable addresses after the network address and .1.
        let api = Api::in_memory(&Arc::default(), "10.96.0.0/27", "10.42.0.0/16");
        let namespaces = find("", "v1", "namespaces").expect("served");
        api.create_object(
            namespaces,
            None,
            json!({"metadata": {"name": "default"}}),
            false,
        )
        .await
        .expect("namespace");
        let ns = Some("default");
        let mut seen = BTreeSet::new();
        for i in 0..12 {
            let created = api
                .create_object(services(), ns, service(&format!("s{i}"), None), false)
                .await
                .expect("create");
            let ip: IpAddr = cluster_ip(&created).parse().expect("an IP");
            assert!(api.service_cidr.contains(ip), "{ip} outside the range");
            assert!(!["10.96.0.0", "10.96.0.1"].contains(&ip.to_string().as_str()));
            assert!(seen.insert(ip), "{ip} allocated twice");
            assert_eq!(created["spec"]["clusterIPs"], json!([ip.to_string()]));
        }
        let taken = seen.first().expect("one").to_string();

        let e = api
            .create_object(services(), ns, service("dup", Some(&taken)), false)
            .await
            .expect_err("taken");
        assert_eq!(e.code, 422, "{}", e.message);
        assert!(
            e.message.contains("provided IP is already allocated"),
            "{}",
            e.message
        );
        let e = api
            .create_object(services(), ns, service("far", Some("10.0.0.9")), false)
            .await
            .expect_err("outside");
        assert!(
            e.message.contains("The range of valid IPs is 10.96.0.0/27"),
            "{}",
            e.message
        );
        // A dry run claims nothing; a headless service needs no address.
        let free = (2..31)
            .map(|n| format!("10.96.0.{n}"))
            .find(|ip| !seen.contains(&ip.parse::<IpAddr>().expect("ip")))
            .expect("a free address");
        let free = free.as_str();
        api.create_object(services(), ns, service("dry", Some(free)), true)
            .await
            .expect("dry run");
        let headless = api
            .create_object(services(), ns, service("headless", Some("None")), false)
            .await
            .expect("headless");
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        api.create_object(services(), ns, service("fixed", Some(free)), false)
            .await
            .expect("the dry run left the address free");

        // Deleting a service frees its address.
        let owner = format!("s{}", 0);
        let first = api.objects.get(services(), ns, &owner).await.expect("s0");
        api.delete_object(services(), ns, &owner, &json!({}), false)
            .await
            .expect("delete");
        let reused = api
            .create_object(
                services(),
                ns,
                service("again", Some(&cluster_ip(&first))),
                false,
            )
            .await
            .expect("the address is free again");
        assert_eq!(cluster_ip(&reused), cluster_ip(&first));
    }

    #[tokio::test]
    async fn each_node_gets_its_own_pod_cidr() {
        let api = Api::in_memory(&Arc::default(), "10.43.0.0/16", "10.42.0.0/16");
        let nodes = find("", "v1", "nodes").expect("served");
        let mut cidrs = Vec::new();
        for name in ["a", "b", "c"] {
            let node = api
                .create_object(nodes, None, json!({"metadata": {"name": name}}), false)
                .await
                .expect("node");
            cidrs.push(node["spec"]["podCIDR"].as_str().unwrap_or("").to_owned());
        }
        assert_eq!(cidrs, ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]);
        // One that names its own keeps it.
        let own = api
            .create_object(
                nodes,
                None,
                json!({"metadata": {"name": "d"}, "spec": {"podCIDR": "10.42.200.0/24"}}),
                false,
            )
            .await
            .expect("node");
        assert_eq!(own["spec"]["podCIDR"], "10.42.200.0/24");
    }
}
