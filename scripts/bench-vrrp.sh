#!/usr/bin/env bash
# VIP failover benchmark: vrrp-node and `edged server --vip` against
# keepalived (Debian's 2.2.7) in the same network-namespace lab and the same
# run. Needs root; `scripts/test.sh` installs iproute2 and keepalived.
#
#   scripts/bench-vrrp.sh            # 10 runs per cell
#   RUNS=20 scripts/bench-vrrp.sh
#   ONLY=vrrp-node scripts/bench-vrrp.sh   # one implementation (substring)
#   ONLY=edged scripts/bench-vrrp.sh
#   SCENARIO=heal scripts/bench-vrrp.sh    # one scenario (substring)
#
# Prints a markdown table on stdout (progress on stderr): per implementation
# and scenario (SIGKILL, link down, SIGTERM, partition heal) the median and p90 of the
# takeover (event -> VIP on the backup) and of the client's outage (gap in a
# 10 ms TCP-connect loop through the VIP; for edged, to the API port).
# Builds the dev profile: the numbers are dominated by protocol timers, not
# by code speed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-vrrp: needs root (network namespaces, raw sockets)" >&2
  exit 1
fi
for tool in ip bridge keepalived; do
  command -v "$tool" >/dev/null || { echo "bench-vrrp: $tool missing; run scripts/test.sh once as root" >&2; exit 1; }
done

cargo build --locked -q -p vrrp --bin vrrp-node --example failover_bench
cargo build --locked -q -p edge-runtime --bin edged
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
args=(--runs "${RUNS:-10}" --vrrp-node "$target/debug/vrrp-node" --edged "$target/debug/edged")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ -n "${SCENARIO:-}" ] && args+=(--scenario "$SCENARIO")
echo "# VRRP failover, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, kernel $(uname -r), $(keepalived --version 2>&1 | head -1)"
echo
exec "$target/debug/examples/failover_bench" "${args[@]}"
