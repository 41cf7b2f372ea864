//! Feeds arbitrary bytes to the protobuf body decoder, as a whole body and
//! wrapped in a valid `runtime.Unknown` envelope of the kind the first byte
//! picks (so the fuzzer reaches the object tables, not just the envelope):
//! nothing may panic, and whatever decodes is an object of that kind.
#![no_main]

use edge_apimachinery::protobuf;
use edge_apimachinery::resources::RESOURCES;
use libfuzzer_sys::fuzz_target;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u64, data: &[u8]) {
    varint(out, (number << 3) | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let resource = &RESOURCES[usize::from(pick) % RESOURCES.len()];
    let _ = protobuf::decode(data, resource);

    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, resource.api_version().as_bytes());
    field(&mut type_meta, 2, resource.kind.as_bytes());
    let mut body = protobuf::MAGIC.to_vec();
    field(&mut body, 1, &type_meta);
    field(&mut body, 2, raw);
    if let Ok(object) = protobuf::decode(&body, resource) {
        assert_eq!(object["kind"], resource.kind);
        assert_eq!(object["apiVersion"], resource.api_version().as_str());
    }
});
