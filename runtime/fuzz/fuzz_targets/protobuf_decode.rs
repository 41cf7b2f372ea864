//! Feeds arbitrary bytes to the protobuf body decoder, as a whole body and
//! wrapped in a valid `runtime.Unknown` envelope of the kind the first byte
//! picks (so the fuzzer reaches the object tables, not just the envelope):
//! nothing may panic, and whatever decodes is an object of that kind. The
//! checks live in `edge_apimachinery::fuzzing` (shared with the seed-corpus
//! run `cargo test -p edge-apimachinery fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = edge_apimachinery::fuzzing::exercise(data);
});
