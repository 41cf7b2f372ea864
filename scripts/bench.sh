#!/usr/bin/env bash
# Runs every benchmark and prints one markdown table:
#   | area | metric | value | reference | ratio |
# Each figure's reference is measured in the same run on the same machine
# (etcd and pgbench for the datastore, keepalived for the VIP). Progress goes
# to stderr. Needs root and the packages scripts/test.sh installs.
#
#   scripts/bench.sh                  # everything
#   ONLY=datastore scripts/bench.sh   # one area: datastore | control-plane | ha | agents | vip | image
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
only=${ONLY:-}

echo "# Edgeplane benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo
echo "| area | metric | value | reference | ratio |"
echo "|---|---|---|---|---|"

if [ -z "$only" ] || [ "$only" = datastore ]; then
  echo "==> datastore (cargo bench -p edge-datastore --bench datastore)" >&2
  cargo bench --locked -q -p edge-datastore --bench datastore 2>/dev/null | grep '^| '
fi

if [ -z "$only" ] || [ "$only" = control-plane ]; then
  echo "==> control plane (cargo bench -p edge-runtime --bench control_plane)" >&2
  cargo bench --locked -q -p edge-runtime --bench control_plane 2>/dev/null | grep '^| '
fi

if [ -z "$only" ] || [ "$only" = ha ]; then
  echo "==> HA (cargo bench -p edge-runtime --bench ha)" >&2
  cargo bench --locked -q -p edge-runtime --bench ha 2>/dev/null | grep '^| '
fi

if [ -z "$only" ] || [ "$only" = agents ]; then
  echo "==> agents (cargo bench -p edge-runtime --bench agents)" >&2
  cargo bench --locked -q -p edge-runtime --bench agents 2>/dev/null | grep '^| '
fi

if [ -z "$only" ] || [ "$only" = vip ]; then
  echo "==> vip failover (scripts/bench-vrrp.sh)" >&2
  # Its table: | implementation | scenario | runs | takeover median | p90 |
  # outage median | outage p90 | outage vs keepalived 1 s |
  RUNS=${RUNS:-5} scripts/bench-vrrp.sh | awk -F' *\\| *' '
    /^\| (vrrp-node|edged|keepalived)/ {
      printf "| vip/%s | %s: client outage median / p90 | %s / %s ms | keepalived 1 s, same run | %s |\n", $2, $3, $7, $8, $9
    }'
fi

if [ -z "$only" ] || [ "$only" = image ]; then
  echo "==> images (scripts/bench-image.sh)" >&2
  scripts/bench-image.sh
fi
