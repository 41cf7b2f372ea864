//! The `protobuf_decode` fuzz target's properties ([`exercise`]) on stable,
//! bounded and deterministic: the committed seed corpus
//! (`runtime/fuzz/corpus/protobuf_decode/`, also cargo-fuzz's starting
//! corpus), then truncations and byte flips of seeds built from the field
//! tables, then random well-formed messages and random bytes.
//!
//! A committed seed's name says what the wrapped decode must make of it:
//! `seed-object-*` decodes, `seed-malformed-*` is a 400. Other files (what a
//! `cargo fuzz run` adds) need only not panic. `EDGE_FUZZ_WRITE_SEEDS=1
//! cargo test -p edge-apimachinery fuzzing` rewrites the seeds from
//! [`seeds`].

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{exercise, input};
use crate::protobuf::schema::{self, Field, Kind, Message, Rule};
use crate::protobuf::wire::encode::{bytes, int, string, tag, uint};
use crate::resources::RESOURCES;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/protobuf_decode")
}

fn index(group: &str, kind: &str) -> usize {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.kind == kind)
        .unwrap_or_else(|| panic!("{group}/{kind} served"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The objects inside the bodies `kubectl create namespace x` and `kubectl
/// create configmap c --from-literal=a=b` send (v1.37.1; the whole bodies
/// are in `protobuf::tests`).
const KUBECTL_NAMESPACE_RAW: &str = "0a110a017812001a0022002a0032003800420012001a020a00";
const KUBECTL_CONFIGMAP_RAW: &str = "0a110a016312001a0022002a0032003800420012060a0161120162";

/// Every field of `m` (and of its messages) set to a non-zero value, as a
/// Go client would write it.
fn sample(m: &'static Message) -> Vec<u8> {
    let mut out = Vec::new();
    for f in m.fields {
        let value = sample_value(f);
        match (f.rule, f.kind) {
            (Rule::Map, _) => {
                let mut e = Vec::new();
                string(&mut e, 1, "key");
                bytes(&mut e, 2, &value);
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
    let mut out = Vec::new();
    match f.kind {
        Kind::Str => out.extend_from_slice(format!("{}-value", f.name).as_bytes()),
        Kind::Bytes => out.extend_from_slice(b"bytes"),
        Kind::Bool | Kind::Int32 | Kind::Int64 => {}
        Kind::Time => int(&mut out, 1, 1_795_600_800),
        Kind::MicroTime => {
            int(&mut out, 1, 1_795_600_800);
            int(&mut out, 2, 250_000_000);
        }
        Kind::IntOrString => {
            uint(&mut out, 1, 0);
            uint(&mut out, 2, 8080);
        }
        Kind::Quantity => string(&mut out, 1, "250m"),
        Kind::FieldsV1 => bytes(&mut out, 1, br#"{"f:metadata":{}}"#),
        Kind::Msg(inner) => out = sample(inner),
    }
    out
}

/// The seeds, by file name: fuzz inputs (a kind's index, then an object
/// message) built from real client bodies and the field tables, and
/// malformed variants.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let namespace = index("", "Namespace");
    let pod = index("", "Pod");
    let lease = index("coordination.k8s.io", "Lease");
    let sample_of = |i: usize| {
        let r = &RESOURCES[i];
        sample(schema::root(r.group, r.kind).expect("a protobuf kind"))
    };
    let pod_sample = sample_of(pod);
    let mut overlong_varint = vec![0x08];
    overlong_varint.extend_from_slice(&[0xff; 11]);
    vec![
        ("seed-empty", Vec::new()),
        (
            "seed-object-kubectl-namespace",
            input(namespace, &hex(KUBECTL_NAMESPACE_RAW)),
        ),
        (
            "seed-object-kubectl-configmap",
            input(index("", "ConfigMap"), &hex(KUBECTL_CONFIGMAP_RAW)),
        ),
        ("seed-object-empty-namespace", input(namespace, &[])),
        ("seed-object-every-pod-field", input(pod, &pod_sample)),
        (
            "seed-object-every-lease-field",
            input(lease, &sample_of(lease)),
        ),
        (
            "seed-object-every-secret-field",
            input(index("", "Secret"), &sample_of(index("", "Secret"))),
        ),
        (
            "seed-malformed-truncated-pod",
            input(pod, &pod_sample[..pod_sample.len() / 2]),
        ),
        (
            "seed-malformed-overlong-varint",
            input(namespace, &overlong_varint),
        ),
        // field 1, wire type 7
        ("seed-malformed-wire-type-7", input(lease, &[0x0f, 0x00])),
    ]
}

/// What a seed's name promises, checked on the result of [`exercise`].
fn check_promise(name: &str, data: &[u8]) {
    let outcome = exercise(data);
    let Some(outcome) = outcome else {
        assert!(data.is_empty(), "{name}: no outcome");
        return;
    };
    let kind = outcome.resource.kind;
    if name.starts_with("seed-object-") {
        if let Err(e) = &outcome.wrapped {
            panic!("{name}: {kind} does not decode: {e}");
        }
    } else if name.starts_with("seed-malformed-") {
        match &outcome.wrapped {
            Err(e) => assert_eq!(e.code, 400, "{name}: {kind}: {e}"),
            Ok(v) => panic!("{name}: {kind} decodes: {v}"),
        }
    }
}

#[test]
fn fuzz_seeds_keep_their_promise() {
    for (name, data) in seeds() {
        check_promise(name, &data);
    }
}

#[test]
fn fuzz_corpus_runs_through_the_target() {
    let dir = corpus_dir();
    if std::env::var_os("EDGE_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        for (name, data) in seeds() {
            std::fs::write(dir.join(name), data).expect("write a seed");
        }
    }
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with EDGE_FUZZ_WRITE_SEEDS=1 cargo test -p edge-apimachinery \
             fuzzing",
            dir.display()
        )
    });
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.expect("read the corpus directory").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_promise(name, &data);
        names.push(name.to_owned());
    }
    for class in ["seed-object-", "seed-malformed-"] {
        assert!(
            names.iter().any(|n| n.starts_with(class)),
            "no {class}* file in {} (has {names:?}); restore it with \
             EDGE_FUZZ_WRITE_SEEDS=1 cargo test -p edge-apimachinery fuzzing",
            dir.display()
        );
    }
}

/// Every served kind's sample decodes, and truncations and byte flips of it
/// (about 400 positions per kind) never panic.
#[test]
fn fuzz_samples_truncations_and_byte_flips() {
    for (i, r) in RESOURCES.iter().enumerate() {
        let Some(root) = schema::root(r.group, r.kind) else {
            continue;
        };
        let data = input(i, &sample(root));
        let outcome = exercise(&data).expect("an outcome");
        if let Err(e) = &outcome.wrapped {
            panic!("{}: the sample does not decode: {e}", r.kind);
        }
        let step = (data.len() / 400).max(1);
        for len in (0..data.len()).step_by(step) {
            let _ = exercise(&data[..len]);
        }
        for at in (1..data.len()).step_by(step) {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut mutated = data.clone();
                mutated[at] ^= mask;
                let _ = exercise(&mutated);
            }
        }
    }
}

/// A random but well-formed message: field numbers mostly ones the tables
/// know, every wire type, nested messages.
fn random_message(rng: &mut StdRng, depth: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.random_range(0..8) {
        let number = rng.random_range(1..=24);
        match rng.random_range(0..5) {
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
            _ => {
                tag(&mut out, number, 5);
                out.extend_from_slice(&rng.random::<u32>().to_le_bytes());
            }
        }
    }
    out
}

#[test]
fn fuzz_random_inputs_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6675_7a7a);
    for _ in 0..2_000 {
        let pick: u8 = rng.random();
        let raw = if rng.random_bool(0.7) {
            random_message(&mut rng, 4)
        } else {
            let len = rng.random_range(0..64);
            (0..len).map(|_| rng.random()).collect()
        };
        let _ = exercise(&input(usize::from(pick), &raw));
    }
}
