//! The protobuf fuzzing harness's checks, shared by the cargo-fuzz target
//! (`runtime/fuzz/fuzz_targets/protobuf_decode.rs`) and the seed-corpus run
//! in plain `cargo test` (`fuzzing/tests.rs`). Not an API: it panics when a
//! property does not hold.
//!
//! Owns the input format and the properties: the first byte picks a served
//! kind, the rest is that kind's object message; both the whole input (as a
//! body) and the rest wrapped in a valid `runtime.Unknown` envelope of the
//! picked kind (so a fuzzer reaches the object tables, not just the
//! envelope) go through [`protobuf::decode`]. Nothing may panic, and
//! whatever decodes is an object of the picked kind. Must not hold decoding
//! logic: its small protobuf writer only builds the envelope.

use serde_json::Value;

use crate::protobuf;
use crate::resources::{RESOURCES, ResourceType};
use crate::status::ApiError;

/// What the two decodes of one input made of it.
#[derive(Debug)]
pub struct Outcome {
    /// The kind the first byte picked.
    pub resource: &'static ResourceType,
    /// The whole input decoded as a request body.
    pub body: Result<Value, ApiError>,
    /// The input after the first byte, wrapped in an envelope of the kind.
    pub wrapped: Result<Value, ApiError>,
}

/// Runs one fuzz input through the decoder, checking the properties;
/// `None` for the empty input.
pub fn exercise(data: &[u8]) -> Option<Outcome> {
    let (&pick, raw) = data.split_first()?;
    let resource = &RESOURCES[usize::from(pick) % RESOURCES.len()];
    let body = protobuf::decode(data, resource);
    let wrapped = protobuf::decode(&envelope(resource, raw), resource);
    for object in [&body, &wrapped].into_iter().flatten() {
        assert_eq!(object["kind"], resource.kind, "{data:02x?}");
        assert_eq!(object["apiVersion"], resource.api_version(), "{data:02x?}");
    }
    Some(Outcome {
        resource,
        body,
        wrapped,
    })
}

/// The fuzz input whose wrapped decode reads `raw` as an object of the
/// `index`th served kind (`index` below 256).
pub fn input(index: usize, raw: &[u8]) -> Vec<u8> {
    let pick = u8::try_from(index).expect("fewer than 256 served kinds");
    let mut data = vec![pick];
    data.extend_from_slice(raw);
    data
}

/// A body as client-go writes it: the magic, then `runtime.Unknown` with
/// the kind's `typeMeta` and `raw` as the object.
pub fn envelope(resource: &ResourceType, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, resource.api_version().as_bytes());
    field(&mut type_meta, 2, resource.kind.as_bytes());
    let mut body = protobuf::MAGIC.to_vec();
    field(&mut body, 1, &type_meta);
    field(&mut body, 2, raw);
    body
}

/// A length-delimited field.
fn field(out: &mut Vec<u8>, number: u64, data: &[u8]) {
    varint(out, (number << 3) | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests;
