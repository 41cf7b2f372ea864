//! Fuzz target: any bytes as edge.yaml and as a kernel command line, through
//! the same loader `edged init` and `edgectl config validate` use. The
//! checks live in `edge_config::fuzzing` (shared with the bounded
//! run `cargo test -p edge-config fuzz_tests`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = edge_config::fuzzing::exercise(data);
});
