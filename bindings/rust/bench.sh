#!/usr/bin/env bash
# L1 hit and L2 GET latency: the Rust crate beside the same calls made from C, in one run
# against one redis-server on a free loopback port. The C program and the Rust one take
# turns, one round each, ROUNDS times, so both see the same load; each round is the mean
# over many calls, the table shows medians. On a shared 2-core VM rounds still vary.
# Needs the installed library: PKG_CONFIG_PATH and LD_LIBRARY_PATH as scripts/test.sh sets them.
# Usage: bindings/rust/bench.sh [ROUNDS [L1_CALLS [L2_CALLS]]]
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-9} l1=${2:-500000} l2=${3:-5000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --locked --release --quiet -p stratacache --example bench
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
cc -O2 -std=c11 -o "$work/capi_get" bench/capi_get.c $(pkg-config --cflags --libs stratacache)
url="redis://127.0.0.1:$port/0"
for ((r = 0; r < rounds; r++)); do
  "$work/capi_get" "$url" 1 "$l1" "$l2"
  "$CARGO_TARGET_DIR/release/examples/bench" "$url" 1 "$l1" "$l2"
done >"$work/out"
# Median per name: sort by name then value, take the middle row of each name.
sort -k1,1 -k2,2g "$work/out" | awk -v rounds="$rounds" '
  { seen[$1]++; if (seen[$1] == int(rounds / 2) + 1) ns[$1] = $2 }
  END {
    printf "%-26s %10s %10s %8s\n", "operation (median of " rounds ")", "C ns", "Rust ns", "Rust/C"
    printf "%-26s %10.1f %10.1f %7.2fx\n", "L1 hit (mem://)", ns["c_l1_hit"], ns["rust_l1_hit"], ns["rust_l1_hit"] / ns["c_l1_hit"]
    printf "%-26s %10.1f %10.1f %7.2fx\n", "L2 GET (skip L1)", ns["c_l2_get"], ns["rust_l2_get"], ns["rust_l2_get"] / ns["c_l2_get"]
    printf "%-26s %10.1f %10.1f %7.2fx\n", "L2 GET, Rust future", ns["c_l2_get"], ns["rust_l2_get_async"], ns["rust_l2_get_async"] / ns["c_l2_get"]
  }' "$work/out"
