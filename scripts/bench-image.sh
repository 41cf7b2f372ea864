#!/usr/bin/env bash
# Image benchmarks: per board, the image's size raw and zstd-compressed and
# the build time with a cold and a warm package cache; for the boards QEMU
# boots (software emulation, UEFI), boot-to-Ready from the host (QEMU start to
# `kubectl get nodes` Ready through a forwarded port) and `edged init` to
# server ready (console lines, stamped by the host as they arrive).
# Prints rows of scripts/bench.sh's table; the consoles are kept in
# target/bench-image/. Needs what scripts/test.sh installs
# and builds (the static runtimes, kubectl, edgectl).
#
#   scripts/bench-image.sh
#   BOARDS=x86_64-generic scripts/bench-image.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
boards=${BOARDS:-x86_64-generic aarch64-generic raspberrypi-4}
work=$(mktemp -d /tmp/edge-bench-image.XXXXXX)
# Each guest's console, every line stamped with the host's time, is kept.
logs="$repo/target/bench-image"
mkdir -p "$logs"
qemu_pid=
cleanup() {
  [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --locked -q -p edge-image
cargo build --locked -q -p edge-runtime --bin edgectl
edge_image=target/release/edge-image
edgectl=target/debug/edgectl
kubectl=.venv/bin/kubectl
token=bench-S3CRET-token
printf 'role: server\ntoken: %s\n' "$token" >"$work/site.yaml"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1048576 }'; }

build() { # board target out cache
  SOURCE_DATE_EPOCH=1765000000 "$edge_image" build -q --board "$1" --config "$work/site.yaml" \
    --out "$3" --runtime "target/$2/release/edged" --cache "$4"
}

boot() { # board image
  local board=$1 image=$2 port vars
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  vars="$work/vars.fd"
  local qemu args
  case "$board" in
    x86_64-generic)
      qemu=qemu-system-x86_64
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
      args=(-machine q35 -cpu max
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
      ;;
    aarch64-generic)
      qemu=qemu-system-aarch64
      cp /usr/share/AAVMF/AAVMF_VARS.fd "$vars"
      args=(-machine virt -cpu cortex-a72 -boot menu=on,splash-time=0
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd")
      ;;
    *) return 1 ;;
  esac
  qemu-img create -q -f qcow2 -F raw -b "$image" "$work/overlay.qcow2"
  local console="$logs/$board.console.log" start ready_at=
  start=$(now)
  "$qemu" "${args[@]}" -accel tcg -m 1024 -smp 2 -display none -monitor none -serial stdio \
    -drive "if=pflash,format=raw,unit=1,file=$vars" \
    -drive "if=none,id=disk,format=qcow2,file=$work/overlay.qcow2" -device virtio-blk-pci,drive=disk \
    -netdev "user,id=net,hostfwd=tcp:127.0.0.1:$port-:6443" -device virtio-net-pci,netdev=net \
    -device virtio-rng-pci </dev/null 2>/dev/null |
    while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done >"$console" &
  until qemu_pid=$(pgrep -n -f "hostfwd=tcp:127.0.0.1:$port-"); do sleep 0.1; done
  local deadline=$(( $(date +%s) + 900 ))
  until "$edgectl" kubeconfig --server "https://127.0.0.1:$port" --token "$token" -o "$work/kubeconfig" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "boot $board: no API within 900 s" >&2; return 1; }
    sleep 1
  done
  until "$kubectl" --kubeconfig "$work/kubeconfig" get nodes --no-headers 2>/dev/null | grep -q ' Ready '; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "boot $board: not Ready within 900 s" >&2; return 1; }
    sleep 1
  done
  ready_at=$(now)
  kill -9 "$qemu_pid" 2>/dev/null; qemu_pid=
  wait 2>/dev/null || true
  local init_at server_at
  init_at=$(awk '/edge-initramfs: root is/ { print $1; exit }' "$console")
  server_at=$(awk '/edged server .* is ready/ { print $1; exit }' "$console")
  printf '| image/%s | boot to Ready (QEMU start to kubectl Ready, TCG) | %s s | target %s s | |\n' \
    "$board" "$(secs "$start" "$ready_at")" "$([ "$board" = x86_64-generic ] && echo 30 || echo 90)"
  printf '| image/%s | edged init to server ready (console) | %s s | | |\n' \
    "$board" "$(secs "$init_at" "$server_at")"
}

for board in $boards; do
  case "$board" in
    x86_64-*) target=x86_64-unknown-linux-musl ;;
    *) target=aarch64-unknown-linux-musl ;;
  esac
  echo "==> image: $board" >&2
  cache="$work/cache-$board"
  t0=$(now); build "$board" "$target" "$work/$board.img" "$cache"; t1=$(now)
  build "$board" "$target" "$work/$board-warm.img" "$cache"; t2=$(now)
  raw=$(stat -c %s "$work/$board.img")
  zstd -q -19 -T0 -f "$work/$board.img" -o "$work/$board.img.zst"
  zst=$(stat -c %s "$work/$board.img.zst")
  printf '| image/%s | size raw / zstd -19 | %s / %s MiB | Kairos core ISO 389 MB, Bottlerocket 2 GiB; target < 64 MiB compressed (x86_64) | |\n' \
    "$board" "$(mib "$raw")" "$(mib "$zst")"
  printf '| image/%s | build cold / warm cache | %s / %s s | warm target < 60 s | |\n' \
    "$board" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")"
  cmp -s "$work/$board.img" "$work/$board-warm.img" || echo "warning: $board: the two builds differ" >&2
  rm -f "$work/$board-warm.img" "$work/$board.img.zst"
  case "$board" in
    x86_64-generic | aarch64-generic) boot "$board" "$work/$board.img" ;;
  esac
done
