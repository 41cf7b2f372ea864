//! Feeds arbitrary bytes to every decoding entry point: none may panic, and
//! whatever decodes must re-encode to the same advertisement. The checks
//! live in `vrrp::fuzzing` (shared with the seed-corpus run
//! `cargo test -p vrrp fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vrrp::fuzzing::exercise(data);
});
