//! Unit tests of the protobuf body decoder: the envelope, the JSON mapping of
//! each wire type, the field tables against k8s-openapi, and robustness.

use std::collections::BTreeSet;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::schema::{self, Field, Kind, Message, Rule};
use super::wire::encode::{bytes, entry, int, string, tag, uint, varint};
use super::*;
use crate::resources::{self, RESOURCES};

fn rt(group: &str, kind: &str) -> &'static ResourceType {
    resources::find_kind(group, kind).unwrap_or_else(|| panic!("{group}/{kind} served"))
}

/// A body as client-go writes it: magic, then `runtime.Unknown`.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    string(&mut type_meta, 1, api_version);
    string(&mut type_meta, 2, kind);
    let mut unknown = Vec::new();
    bytes(&mut unknown, 1, &type_meta);
    bytes(&mut unknown, 2, raw);
    string(&mut unknown, 3, "");
    string(&mut unknown, 4, "");
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&unknown);
    body
}

fn message(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    build(&mut out);
    out
}

fn time(seconds: i64, nanos: i32) -> Vec<u8> {
    message(|m| {
        int(m, 1, seconds);
        int(m, 2, i64::from(nanos));
    })
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `kubectl create namespace x` (v1.37.1), byte for byte.
const KUBECTL_NAMESPACE: &str = "6b3873000a0f0a02763112094e616d65737061636512190a110a017812001a0022002a0032003800420012001a020a001a002200";
/// `kubectl create configmap c --from-literal=a=b`.
const KUBECTL_CONFIGMAP: &str = "6b3873000a0f0a0276311209436f6e6669674d6170121b0a110a016312001a0022002a0032003800420012060a01611201621a002200";

#[test]
fn content_types() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "Application/VND.Kubernetes.Protobuf; charset=utf-8"
    ));
    assert!(is_protobuf(
        " application/vnd.kubernetes.protobuf ;stream=watch"
    ));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
    assert!(!is_protobuf("application/protobuf"));
    assert!(!is_protobuf(""));
}

#[test]
fn kubectl_bodies() {
    let ns = decode(&hex(KUBECTL_NAMESPACE), rt("", "Namespace")).expect("namespace");
    assert_eq!(
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {}})
    );
    let cm = decode(&hex(KUBECTL_CONFIGMAP), rt("", "ConfigMap")).expect("configmap");
    assert_eq!(
        cm,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}})
    );
}

#[test]
fn not_protobuf_is_415() {
    let ns = rt("", "Namespace");
    for body in [
        &b""[..],
        b"k8s",
        b"{\"kind\":\"Namespace\"}",
        b"k8s\x01\x0a\x00",
    ] {
        let err = decode(body, ns).expect_err("not protobuf");
        assert_eq!(err.code, 415, "{body:?}: {err}");
        assert_eq!(err.reason, Reason::UnsupportedMediaType);
        assert!(err.message.contains("k8s\\x00"), "{}", err.message);
    }
}

#[test]
fn other_kind_or_version_is_415() {
    let raw = message(|m| bytes(m, 1, &message(|meta| string(meta, 1, "x"))));
    let cases = [
        ("v1", "ConfigMap", "v1 ConfigMap"),
        ("v2", "Namespace", "v2 Namespace"),
        ("", "Namespace", "kind Namespace with no apiVersion"),
        ("v1", "", "v1 with no kind"),
        ("", "", "no apiVersion and kind"),
    ];
    for (api_version, kind, says) in cases {
        let err = decode(&envelope(api_version, kind, &raw), rt("", "Namespace"))
            .expect_err("wrong kind");
        assert_eq!(err.code, 415, "{api_version} {kind}");
        assert_eq!(
            err.message,
            format!("the protobuf body carries {says} but this endpoint expects v1 Namespace")
        );
    }
    let lease = envelope("v1", "Lease", &[]);
    let err = decode(&lease, rt("coordination.k8s.io", "Lease")).expect_err("core lease");
    assert_eq!(err.code, 415);
    let lease = envelope("coordination.k8s.io/v1", "Lease", &[]);
    assert_eq!(
        decode(&lease, rt("coordination.k8s.io", "Lease")).expect("lease"),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"})
    );
}

#[test]
fn envelope_encoding_and_inner_content_type() {
    let ns = rt("", "Namespace");
    let mut body = envelope("v1", "Namespace", &[]);
    string(&mut body, 3, "gzip");
    let err = decode(&body, ns).expect_err("gzip");
    assert_eq!(err.code, 415);
    assert!(err.message.contains("\"gzip\""), "{}", err.message);

    let mut body = envelope("v1", "Namespace", &[]);
    string(&mut body, 4, "application/json");
    let err = decode(&body, ns).expect_err("json inside");
    assert_eq!(err.code, 415);

    let mut body = envelope("v1", "Namespace", &[]);
    string(&mut body, 4, CONTENT_TYPE);
    decode(&body, ns).expect("protobuf inside");
}

#[test]
fn malformed_is_400_with_a_path() {
    let cm = rt("", "ConfigMap");
    let mut body = hex(KUBECTL_CONFIGMAP);
    body.truncate(body.len() - 3);
    let err = decode(&body, cm).expect_err("truncated");
    assert_eq!(err.code, 400);
    assert_eq!(err.reason, Reason::BadRequest);
    assert!(
        err.message.starts_with(
            "the protobuf body is not a valid v1 ConfigMap: (runtime.Unknown envelope): "
        ),
        "{}",
        err.message
    );

    // A label value that is not UTF-8.
    let raw = message(|m| {
        let meta = message(|meta| {
            let e = message(|e| {
                string(e, 1, "app");
                bytes(e, 2, &[0xff, 0xfe]);
            });
            bytes(meta, 11, &e);
        });
        bytes(m, 1, &meta);
    });
    let err = decode(&envelope("v1", "ConfigMap", &raw), cm).expect_err("utf8");
    assert_eq!(
        err.message,
        "the protobuf body is not a valid v1 ConfigMap: metadata.labels[app]: string is not \
         valid UTF-8 (at byte 0)"
    );

    // A known field with the wrong wire type.
    let raw = message(|m| {
        let spec = message(|s| {
            let port = message(|p| string(p, 3, "eighty"));
            bytes(s, 1, &port);
        });
        bytes(m, 2, &spec);
    });
    let err = decode(&envelope("v1", "Service", &raw), rt("", "Service")).expect_err("wire");
    assert_eq!(
        err.message,
        "the protobuf body is not a valid v1 Service: spec.ports[0].port: expected a varint \
         value, got length-delimited"
    );
}

#[test]
fn scalars_follow_go_json() {
    // omitempty strings and numbers are dropped when zero; pointers and
    // non-omitempty fields are kept.
    let raw = message(|m| {
        let meta = message(|meta| {
            string(meta, 1, "n");
            string(meta, 2, "");
            uint(meta, 7, 0);
            int(meta, 10, 0);
        });
        bytes(m, 1, &meta);
        let spec = message(|s| {
            let port = message(|p| {
                string(p, 1, "");
                uint(p, 3, 0);
                int(p, 5, -1);
            });
            bytes(s, 1, &port);
            string(s, 17, "");
            uint(s, 13, 0);
            uint(s, 20, 0);
        });
        bytes(m, 2, &spec);
    });
    let svc = decode(&envelope("v1", "Service", &raw), rt("", "Service")).expect("service");
    assert_eq!(
        svc,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "n", "deletionGracePeriodSeconds": 0},
            "spec": {
                "ports": [{"port": 0, "nodePort": -1}],
                "ipFamilyPolicy": "",
                "allocateLoadBalancerNodePorts": false
            }
        })
    );
}

#[test]
fn times_quantities_int_or_string_bytes() {
    // 2026-11-25T10:00:00Z
    let t = 1_795_600_800;
    let raw = message(|m| {
        let spec = message(|s| {
            string(s, 1, "holder");
            uint(s, 2, 15);
            bytes(s, 3, &time(t, 123_456_789));
            bytes(s, 4, &time(t, 999_999_999));
            uint(s, 5, 0);
        });
        bytes(m, 2, &spec);
    });
    let lease = decode(
        &envelope("coordination.k8s.io/v1", "Lease", &raw),
        rt("coordination.k8s.io", "Lease"),
    )
    .expect("lease");
    assert_eq!(
        lease["spec"],
        json!({
            "holderIdentity": "holder",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-25T10:00:00.123456Z",
            "renewTime": "2026-11-25T10:00:00.999999Z",
            "leaseTransitions": 0
        })
    );

    let raw = message(|m| {
        let meta = message(|meta| {
            string(meta, 1, "e");
            bytes(meta, 8, &time(t, 500_000_000));
            bytes(meta, 9, &[]);
        });
        bytes(m, 1, &meta);
        bytes(m, 6, &time(0, 0));
        bytes(m, 7, &time(-62_135_596_800, 0));
        bytes(m, 10, &time(t, 1_000));
    });
    let event = decode(&envelope("v1", "Event", &raw), rt("", "Event")).expect("event");
    assert_eq!(
        event,
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e", "creationTimestamp": "2026-11-25T10:00:00Z"},
            "firstTimestamp": "1970-01-01T00:00:00Z",
            "eventTime": "2026-11-25T10:00:00.000001Z"
        })
    );

    // The ends of the range protobuf's Timestamp allows, four-digit years.
    for (seconds, nanos, text) in [
        (GO_ZERO_TIME + 1, 0, "0001-01-01T00:00:01Z"),
        (MAX_TIME, 999_999_999, "9999-12-31T23:59:59Z"),
    ] {
        let raw = message(|m| bytes(m, 6, &time(seconds, nanos)));
        let event = decode(&envelope("v1", "Event", &raw), rt("", "Event")).expect("range");
        assert_eq!(event["firstTimestamp"], text);
    }
    let raw = message(|m| bytes(m, 10, &time(GO_ZERO_TIME + 1, 7_000)));
    let event = decode(&envelope("v1", "Event", &raw), rt("", "Event")).expect("micro");
    assert_eq!(event["eventTime"], "0001-01-01T00:00:01.000007Z");

    for (seconds, nanos) in [
        (MAX_TIME + 1, 0),
        (GO_ZERO_TIME - 1, 0),
        (t, -1),
        (t, 1_000_000_000),
    ] {
        let raw = message(|m| bytes(m, 6, &time(seconds, nanos)));
        let err = decode(&envelope("v1", "Event", &raw), rt("", "Event")).expect_err("range");
        assert_eq!(err.code, 400, "{seconds} {nanos}");
        assert!(
            err.message.contains("firstTimestamp: timestamp"),
            "{}",
            err.message
        );
    }

    let int_port = message(|p| {
        uint(p, 1, 0);
        uint(p, 2, 8080);
        string(p, 3, "");
    });
    let named_port = message(|p| {
        uint(p, 1, 1);
        uint(p, 2, 0);
        string(p, 3, "http");
    });
    let raw = message(|m| {
        let spec = message(|s| {
            for target in [&int_port, &named_port] {
                let port = message(|p| {
                    uint(p, 3, 80);
                    bytes(p, 4, target);
                });
                bytes(s, 1, &port);
            }
        });
        bytes(m, 2, &spec);
    });
    let svc = decode(&envelope("v1", "Service", &raw), rt("", "Service")).expect("service");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}, {"port": 80, "targetPort": "http"}])
    );
    let bad = message(|m| {
        let spec = message(|s| {
            let port = message(|p| bytes(p, 4, &message(|t| uint(t, 1, 2))));
            bytes(s, 1, &port);
        });
        bytes(m, 2, &spec);
    });
    let err = decode(&envelope("v1", "Service", &bad), rt("", "Service")).expect_err("type 2");
    assert!(
        err.message.ends_with(
            "spec.ports[0].targetPort: IntOrString type 2 is neither 0 (int) nor 1 (string)"
        ),
        "{}",
        err.message
    );

    let quantity = |s: &str| message(|q| string(q, 1, s));
    let raw = message(|m| {
        let status = message(|st| {
            let cpu = message(|e| {
                string(e, 1, "cpu");
                bytes(e, 2, &quantity("4"));
            });
            bytes(st, 1, &cpu);
            let memory = message(|e| {
                string(e, 1, "memory");
                bytes(e, 2, &quantity("8145440Ki"));
            });
            bytes(st, 1, &memory);
            let empty = message(|e| string(e, 1, "pods"));
            bytes(st, 2, &empty);
        });
        bytes(m, 3, &status);
    });
    let node = decode(&envelope("v1", "Node", &raw), rt("", "Node")).expect("node");
    assert_eq!(
        node["status"],
        json!({"capacity": {"cpu": "4", "memory": "8145440Ki"}, "allocatable": {"pods": "0"}})
    );

    let raw = message(|m| {
        let data = message(|e| {
            string(e, 1, "tls.key");
            bytes(e, 2, &[0, 1, 2, 0xff]);
        });
        bytes(m, 2, &data);
        let empty = message(|e| string(e, 1, "empty"));
        bytes(m, 2, &empty);
        string(m, 3, "Opaque");
    });
    let secret = decode(&envelope("v1", "Secret", &raw), rt("", "Secret")).expect("secret");
    assert_eq!(
        secret,
        json!({"apiVersion": "v1", "kind": "Secret", "data": {"tls.key": "AAEC/w==", "empty": ""}, "type": "Opaque"})
    );
}

#[test]
fn pointers_keep_false_and_inline_structs_merge_up() {
    let raw = message(|m| {
        string(m, 4, "IPv4");
        let endpoint = message(|e| {
            string(e, 1, "10.42.0.5");
            bytes(
                e,
                2,
                &message(|c| {
                    uint(c, 1, 0);
                    uint(c, 2, 1);
                }),
            );
            string(e, 6, "node-a");
        });
        bytes(m, 2, &endpoint);
        bytes(
            m,
            3,
            &message(|p| {
                string(p, 1, "");
                uint(p, 3, 443);
            }),
        );
    });
    let slice = decode(
        &envelope("discovery.k8s.io/v1", "EndpointSlice", &raw),
        rt("discovery.k8s.io", "EndpointSlice"),
    )
    .expect("slice");
    assert_eq!(
        slice,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": false, "serving": true}, "nodeName": "node-a"}],
            "ports": [{"name": "", "port": 443}]
        })
    );

    let raw = message(|m| {
        let spec = message(|s| {
            let volume = message(|v| {
                string(v, 1, "config");
                let source = message(|src| {
                    let cm = message(|c| {
                        bytes(c, 1, &message(|r| string(r, 1, "settings")));
                        uint(c, 3, 0o644);
                    });
                    bytes(src, 19, &cm);
                });
                bytes(v, 2, &source);
            });
            bytes(s, 1, &volume);
            let sc = message(|sc| {
                // supplementalGroups, packed and unpacked in one message.
                let mut run = Vec::new();
                varint(&mut run, 1000);
                varint(&mut run, 2000);
                bytes(sc, 4, &run);
                uint(sc, 4, 3000);
                uint(sc, 3, 1);
            });
            bytes(s, 14, &sc);
        });
        bytes(m, 2, &spec);
    });
    let pod = decode(&envelope("v1", "Pod", &raw), rt("", "Pod")).expect("pod");
    assert_eq!(
        pod["spec"],
        json!({
            "volumes": [{"name": "config", "configMap": {"name": "settings", "defaultMode": 420}}],
            "securityContext": {"supplementalGroups": [1000, 2000, 3000], "runAsNonRoot": true}
        })
    );
}

#[test]
fn unknown_fields_are_skipped_and_messages_merge() {
    let raw = message(|m| {
        let meta = message(|meta| {
            string(meta, 1, "first");
            string(meta, 99, "future field");
            tag(meta, 100, 1);
            meta.extend_from_slice(&[0; 8]);
            tag(meta, 101, 5);
            meta.extend_from_slice(&[0; 4]);
            tag(meta, 102, 3);
            uint(meta, 1, 5);
            tag(meta, 102, 4);
            entry(meta, 11, "a", "1");
        });
        bytes(m, 1, &meta);
        // A second occurrence of metadata merges into the first.
        let more = message(|meta| {
            string(meta, 1, "second");
            entry(meta, 11, "b", "2");
            entry(meta, 11, "a", "3");
            string(meta, 14, "f1");
        });
        bytes(m, 1, &more);
        string(m, 50, "unknown top-level field");
        let data = message(|e| {
            string(e, 1, "k");
            string(e, 2, "v");
            string(e, 3, "unknown entry field");
        });
        bytes(m, 2, &data);
        bytes(m, 2, &message(|e| string(e, 2, "no key")));
    });
    let cm = decode(&envelope("v1", "ConfigMap", &raw), rt("", "ConfigMap")).expect("cm");
    assert_eq!(
        cm,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "second", "labels": {"a": "3", "b": "2"}, "finalizers": ["f1"]},
            "data": {"k": "v", "": "no key"}
        })
    );
}

#[test]
fn managed_fields_embed_their_json() {
    let raw = message(|m| {
        let meta = message(|meta| {
            string(meta, 1, "n");
            let entry = message(|e| {
                string(e, 1, "kubectl-create");
                string(e, 2, "Update");
                string(e, 3, "v1");
                bytes(e, 4, &time(1_795_600_800, 0));
                string(e, 6, "FieldsV1");
                bytes(
                    e,
                    7,
                    &message(|f| bytes(f, 1, br#"{"f:data":{".":{},"f:a":{}}}"#)),
                );
                string(e, 8, "");
            });
            bytes(meta, 17, &entry);
            let owner = message(|o| {
                string(o, 5, "v1");
                string(o, 1, "Pod");
                string(o, 3, "p");
                string(o, 4, "uid-1");
                uint(o, 6, 1);
            });
            bytes(meta, 13, &owner);
        });
        bytes(m, 1, &meta);
    });
    let cm = decode(&envelope("v1", "ConfigMap", &raw), rt("", "ConfigMap")).expect("cm");
    assert_eq!(
        cm["metadata"],
        json!({
            "name": "n",
            "managedFields": [{
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                "time": "2026-11-25T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:a": {}}}
            }],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "uid-1", "controller": true}]
        })
    );
    let bad = message(|m| {
        let meta = message(|meta| {
            let entry = message(|e| bytes(e, 7, &message(|f| bytes(f, 1, b"{not json"))));
            bytes(meta, 17, &entry);
        });
        bytes(m, 1, &meta);
    });
    let err = decode(&envelope("v1", "ConfigMap", &bad), rt("", "ConfigMap")).expect_err("json");
    assert!(
        err.message
            .contains("metadata.managedFields[0].fieldsV1: fieldsV1 is not JSON"),
        "{}",
        err.message
    );
}

#[test]
fn rfc3339_agrees_with_jiff() {
    let mut rng = StdRng::seed_from_u64(3339);
    // jiff's range is a little narrower than 0001..=9999 at both ends.
    let (lo, hi) = (GO_ZERO_TIME + 86_400 * 2, MAX_TIME - 86_400 * 2);
    let mut samples: Vec<(i64, i32)> = vec![(lo, 0), (0, 0), (-1, 999_999_999), (hi, 1)];
    for _ in 0..20_000 {
        samples.push((
            rng.random_range(lo..=hi),
            rng.random_range(0..1_000_000_000),
        ));
    }
    // Around leap days and century boundaries.
    for day in [
        -719_468i64,
        -141_427,
        10_956,
        11_016,
        11_017,
        47_540,
        47_541,
    ] {
        for s in [-1, 0, 86_399, 86_400] {
            samples.push((day * 86_400 + s, 0));
        }
    }
    for (seconds, nanos) in samples {
        let at = jiff::Timestamp::new(seconds, nanos).expect("in jiff's range");
        assert_eq!(
            rfc3339(seconds, nanos, false),
            at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "{seconds}"
        );
        assert_eq!(
            rfc3339(seconds, nanos, true),
            at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string(),
            "{seconds}.{nanos}"
        );
    }
}

// ---------------------------------------------------------------------------
// The tables against k8s-openapi.

fn reachable(root: &'static Message, seen: &mut Vec<&'static Message>, depth: usize) {
    assert!(depth < 16, "{} nests too deep (a cycle?)", root.name);
    if !seen.iter().any(|m| std::ptr::eq(*m, root)) {
        seen.push(root);
    }
    for field in root.fields {
        if let Kind::Msg(inner) = field.kind {
            reachable(inner, seen, depth + 1);
        }
    }
}

#[test]
fn every_served_kind_has_a_table() {
    for r in RESOURCES {
        assert!(schema::root(r.group, r.kind).is_some(), "{}", r.kind);
    }
}

#[test]
fn tables_are_well_formed() {
    let mut all = Vec::new();
    for r in RESOURCES {
        if let Some(root) = schema::root(r.group, r.kind) {
            reachable(root, &mut all, 0);
        }
    }
    for m in &all {
        let mut numbers = BTreeSet::new();
        let mut names = BTreeSet::new();
        for f in m.fields {
            assert!(
                numbers.insert(f.number),
                "{}: field {} twice",
                m.name,
                f.number
            );
            match (f.rule, f.kind) {
                (Rule::Inline, Kind::Msg(_)) => assert_eq!(f.name, "", "{}", m.name),
                (Rule::Inline, _) => panic!("{}: inline {} is not a message", m.name, f.number),
                (Rule::Map, Kind::Str | Kind::Bytes | Kind::Quantity) => {}
                (Rule::Map, other) => panic!("{}.{}: map of {other:?}", m.name, f.name),
                _ => assert!(names.insert(f.name), "{}: {} twice", m.name, f.name),
            }
        }
    }
}

/// A sample of every field of `m` (and of its messages), each set to a
/// non-zero value, as a Go client would write it.
fn sample(m: &'static Message) -> Vec<u8> {
    let mut out = Vec::new();
    for f in m.fields {
        let value = sample_value(f);
        match (f.rule, f.kind) {
            (Rule::Map, _) => {
                let e = message(|e| {
                    string(e, 1, "key");
                    bytes(e, 2, &value);
                });
                bytes(&mut out, f.number, &e);
            }
            (_, Kind::Bool) => uint(&mut out, f.number, 1),
            (_, Kind::Int32 | Kind::Int64) => uint(&mut out, f.number, 7),
            _ => bytes(&mut out, f.number, &value),
        }
    }
    out
}

fn sample_value(f: &Field) -> Vec<u8> {
    match f.kind {
        Kind::Str => format!("{}-value", f.name).into_bytes(),
        Kind::Bytes => b"bytes".to_vec(),
        Kind::Bool | Kind::Int32 | Kind::Int64 => Vec::new(),
        Kind::Time => time(1_795_600_800, 0),
        Kind::MicroTime => time(1_795_600_800, 250_000_000),
        Kind::IntOrString => message(|p| {
            uint(p, 1, 0);
            uint(p, 2, 8080);
        }),
        Kind::Quantity => message(|q| string(q, 1, "250m")),
        Kind::FieldsV1 => message(|r| bytes(r, 1, br#"{"f:metadata":{}}"#)),
        Kind::Msg(inner) => sample(inner),
    }
}

#[test]
fn every_table_field_is_a_field_of_the_kind() {
    for r in RESOURCES {
        let Some(root) = schema::root(r.group, r.kind) else {
            continue;
        };
        let body = envelope(&r.api_version(), r.kind, &sample(root));
        let decoded = decode(&body, r).unwrap_or_else(|e| panic!("{}: {e}", r.kind));
        let (normalised, unknown) =
            (r.decode)(&decoded).unwrap_or_else(|e| panic!("{}: {e}\n{decoded:#}", r.kind));
        assert!(unknown.is_empty(), "{}: unknown fields {unknown:?}", r.kind);
        assert_eq!(
            normalised, decoded,
            "{}: k8s-openapi reads the decoded object differently",
            r.kind
        );
    }
}

#[test]
fn sample_pod_reads_as_expected() {
    let pod = decode(&envelope("v1", "Pod", &sample(&schema::POD)), rt("", "Pod")).expect("pod");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "name-value");
    assert_eq!(container["resources"]["limits"], json!({"key": "250m"}));
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "name-value"
    );
    assert_eq!(pod["spec"]["volumes"][0]["hostPath"]["path"], "path-value");
    assert_eq!(pod["status"]["startTime"], "2026-11-25T10:00:00Z");
    assert_eq!(
        pod["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {}})
    );
}

// ---------------------------------------------------------------------------
// Robustness: no input panics.

fn corpus() -> Vec<(&'static ResourceType, Vec<u8>)> {
    let mut out = vec![
        (rt("", "Namespace"), hex(KUBECTL_NAMESPACE)),
        (rt("", "ConfigMap"), hex(KUBECTL_CONFIGMAP)),
    ];
    for r in RESOURCES {
        if let Some(root) = schema::root(r.group, r.kind) {
            out.push((r, envelope(&r.api_version(), r.kind, &sample(root))));
        }
    }
    out
}

#[test]
fn truncations_and_byte_flips_never_panic() {
    for (r, body) in corpus() {
        // Every position of the small bodies; about 1500 spread over the
        // Pod's 8 KB (each decode reads the whole body, so all of them
        // would take tens of seconds unoptimised).
        let step = (body.len() / 1500).max(1);
        for len in (0..body.len()).step_by(step) {
            let _ = decode(&body[..len], r);
        }
        for i in (0..body.len()).step_by(step) {
            for mask in [0x01u8, 0x07, 0x80, 0xff] {
                let mut mutated = body.clone();
                mutated[i] ^= mask;
                let _ = decode(&mutated, r);
            }
        }
    }
}

/// Writes a random but well-formed message: random field numbers (mostly
/// ones the tables know), random wire types, nested messages.
fn random_message(rng: &mut StdRng, depth: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.random_range(0..8) {
        let number = if rng.random_bool(0.9) {
            rng.random_range(1..=42)
        } else {
            rng.random_range(1..=wire::MAX_FIELD_NUMBER)
        };
        match rng.random_range(0..6) {
            0 => uint(&mut out, number, rng.random()),
            1 => uint(&mut out, number, rng.random_range(0..3)),
            2 if depth > 0 => {
                let inner = random_message(rng, depth - 1);
                bytes(&mut out, number, &inner);
            }
            3 => {
                let len = rng.random_range(0..12);
                let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                bytes(&mut out, number, &data);
            }
            4 => {
                tag(&mut out, number, 5);
                out.extend_from_slice(&rng.random::<u32>().to_le_bytes());
            }
            _ => {
                tag(&mut out, number, 1);
                out.extend_from_slice(&rng.random::<u64>().to_le_bytes());
            }
        }
    }
    out
}

#[test]
fn random_well_formed_messages_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6b38_7300);
    for round in 0..3_000 {
        for r in RESOURCES {
            let raw = random_message(&mut rng, 5);
            let body = envelope(&r.api_version(), r.kind, &raw);
            if let Ok(value) = decode(&body, r) {
                assert!(value.is_object(), "round {round}");
            }
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512), which in 0..RESOURCES.len()) {
        let r = &RESOURCES[which];
        let _ = decode(&tail, r);
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&tail);
        let _ = decode(&body, r);
        let wrapped = envelope(&r.api_version(), r.kind, &tail);
        let _ = decode(&wrapped, r);
    }
}
