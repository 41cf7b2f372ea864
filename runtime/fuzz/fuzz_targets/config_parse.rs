//! Fuzz target: any bytes as edge.yaml and as a kernel command line, through
//! the same loader `edged init` and `edgectl config validate` use. The
//! checks live in `edge_runtime::config::fuzzing` (shared with the bounded
//! run `cargo test -p edge-runtime fuzz_tests`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = edge_runtime::config::fuzzing::exercise(data);
});
