#!/usr/bin/env bash
# Builds the cargo-fuzz harnesses on stable, so they cannot rot: vrrp/fuzz
# (decode) and runtime/fuzz (protobuf_decode, config_parse) are workspaces of
# their own, which `cargo build --workspace` never sees.
#
# libfuzzer-sys compiles libFuzzer (C++, build-essential) and links it into
# each target; on stable the binaries are not coverage-instrumented (fuzzing
# proper needs nightly: `cargo +nightly fuzz run <target>` in the crate).
# Each target with a committed seed corpus (<crate>/corpus/<target>/) then
# runs it once, without fuzzing, so the harness itself is exercised.
#
# Every crate builds from its own committed Cargo.lock (--locked), in the
# root target directory (or $CARGO_TARGET_DIR).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}

# <crate dir> <target>...: the fuzz crates and their targets.
crates=(
  "vrrp/fuzz decode"
  "runtime/fuzz protobuf_decode config_parse"
)

for entry in "${crates[@]}"; do
  read -r crate targets <<<"$entry"
  cargo build --locked --manifest-path "$crate/Cargo.toml" --target-dir "$target_dir" --bins
  for t in $targets; do
    corpus=$crate/corpus/$t
    [ -d "$corpus" ] || continue
    # -runs=0: execute the corpus once and stop. A crash leaves its input
    # under target/fuzz-artifacts/ and fails the script.
    artifacts=$target_dir/fuzz-artifacts/$t/
    mkdir -p "$artifacts"
    if ! out=$("$target_dir/debug/$t" -runs=0 -artifact_prefix="$artifacts" "$corpus" 2>&1); then
      printf '%s\n' "$out" >&2
      echo "fuzz target $t failed on its seed corpus $corpus" >&2
      exit 1
    fi
    printf '%s\n' "$out" | grep -E '^(INFO: seed corpus|Done)' | sed "s|^|$t: |" >&2 || true
  done
done
