#!/usr/bin/env bash
# L1 hit and L2 GET latency: the Rust crate beside the same calls made from C, in one run
# against one redis-server on a free loopback port: a C program (bench/capi_get.c), then
# the Rust example, which alternates, round by round, the C ABI called directly and the
# crate. Each round is the mean over many calls; the table shows medians over rounds and
# the median of the paired per-round ratios. On a shared 2-core VM rounds still vary.
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
"$work/capi_get" "$url" "$rounds" "$l1" "$l2" >"$work/out"
"$CARGO_TARGET_DIR/release/examples/bench" "$url" "$rounds" "$l1" "$l2" >>"$work/out"
awk -v rounds="$rounds" '
  { v[$1] = $2 }
  END {
    printf "%-22s %11s %11s %11s %15s\n", "median of " rounds " rounds", "C program", "C ABI (FFI)", "Rust crate", "crate/C ABI"
    printf "%-22s %8.1f ns %8.1f ns %8.1f ns %14.2fx\n", "L1 hit (mem://)", v["c_l1_hit"], v["ffi_l1_hit"], v["rust_l1_hit"], v["ratio_l1_hit"]
    printf "%-22s %8.0f ns %8.0f ns %8.0f ns %14.2fx\n", "L2 GET (skip L1)", v["c_l2_get"], v["ffi_l2_get"], v["rust_l2_get"], v["ratio_l2_get"]
    printf "%-22s %11s %8.0f ns %8.0f ns %14.2fx\n", "L2 GET, Rust future", "", v["ffi_l2_get"], v["rust_l2_get_async"], v["ratio_l2_get_async"]
  }' "$work/out"
