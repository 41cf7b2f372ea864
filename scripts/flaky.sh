#!/usr/bin/env bash
# Runs chosen test binaries N times in a row under CPU load and prints, per
# test, how many runs it failed. A flaky test shows up here before CI's two
# cores find it.
#
#   scripts/flaky.sh                                  # the timing-sensitive tiers, 10 runs
#   RUNS=3 scripts/flaky.sh -p vrrp --test netns      # one binary (cargo test arguments)
#   LOAD=0 scripts/flaky.sh                           # without the load
#
# The load is stress-ng on every CPU at LOAD percent (default 80), installed
# from Debian when missing (as root), started once and stopped by its pid on
# exit. Needs what scripts/test.sh installs (run it once first). Exit status
# 1 when any test failed in any run. Logs: target/flaky/<run>-<binary>.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

runs=${RUNS:-10}
load=${LOAD:-80}
log() { printf '==> %s\n' "$*" >&2; }

# One entry per test binary: the arguments `cargo test` gets.
if [ $# -gt 0 ]; then
  binaries=("$*")
else
  binaries=(
    "-p vrrp --test netns"
    "-p vrrp --test keepalived"
    "-p edge-runtime --test vip"
    "-p edge-runtime --test ha_postgres"
    "-p edge-runtime --test ha_mysql"
    "-p edge-datastore --test datastore_postgres"
    "-p edge-datastore --test datastore_mysql"
    "-p edge-datastore --test datastore_sqlite"
    "-p edge-runtime --test control_plane"
  )
fi

if [ "$load" -gt 0 ] && ! command -v stress-ng >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    log "stress-ng is missing and this is not root: run with LOAD=0 or install stress-ng"
    exit 1
  fi
  log "installing stress-ng"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
fi

# Build everything first, so the runs time tests and not the compiler.
for b in "${binaries[@]}"; do
  # shellcheck disable=SC2086 # each entry is a list of cargo arguments
  cargo test --locked --no-run $b 2>/dev/null
done

stress_pid=
stop_load() { [ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null && wait "$stress_pid" 2>/dev/null; true; }
trap stop_load EXIT
if [ "$load" -gt 0 ]; then
  stress-ng --cpu "$(nproc)" --cpu-load "$load" --quiet &
  stress_pid=$!
  log "load: stress-ng --cpu $(nproc) --cpu-load $load (pid $stress_pid)"
fi

out=target/flaky
mkdir -p "$out"
declare -A failures=()
declare -A seen=()
started=$(date +%s)
for run in $(seq 1 "$runs"); do
  for b in "${binaries[@]}"; do
    name=${b##* }
    file="$out/$run-$name.log"
    status=0
    # shellcheck disable=SC2086
    cargo test --locked $b >"$file" 2>&1 || status=$?
    while read -r t; do
      seen[$name::$t]=1
    done < <(sed -n 's/^test \(.*\) \.\.\. \(ok\|FAILED\)$/\1/p' "$file")
    failed=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$file")
    for t in $failed; do
      failures[$name::$t]=$((${failures[$name::$t]:-0} + 1))
    done
    if [ "$status" -ne 0 ] && [ -z "$failed" ]; then
      # The binary itself failed (did not build, crashed, timed out).
      failures[$name::<binary>]=$((${failures[$name::<binary>]:-0} + 1))
    fi
    log "run $run/$runs $name: exit $status${failed:+, failed: $(echo $failed)}"
  done
done
elapsed=$(($(date +%s) - started))

echo "# flaky.sh: $runs runs, load ${load}% on $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ), ${elapsed}s"
echo
echo "| test | failed runs |"
echo "|---|---|"
total=0
for t in $(printf '%s\n' "${!failures[@]}" | sort); do
  echo "| $t | ${failures[$t]} / $runs |"
  total=$((total + failures[$t]))
done
echo
echo "${#seen[@]} tests, $total failures in $runs runs"
[ "$total" -eq 0 ]
