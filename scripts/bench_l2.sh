#!/usr/bin/env bash
# Builds and runs the L2 GET round-trip benchmark (our tier vs hiredis vs redis-benchmark).
# Usage: scripts/bench_l2.sh [bench_l2 args...]   e.g. --repeats 9, --port 6379
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATACACHE_BUILD_TESTS=OFF >/dev/null
ninja -C "$BUILD_DIR" -j"${JOBS:-2}" bench_l2
exec "$BUILD_DIR/bench/bench_l2" "$@"
