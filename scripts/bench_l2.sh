#!/usr/bin/env bash
# Builds (Release) and runs one L2 benchmark; by default the single-caller GET round trip
# (our tier vs hiredis vs redis-benchmark). BENCH_TARGET picks another bench/ program
# (scripts/bench_l2_concurrent.sh sets it).
# Usage: scripts/bench_l2.sh [bench_l2 args...]   e.g. --repeats 9, --port 6379
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
TARGET=${BENCH_TARGET:-bench_l2}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATACACHE_BUILD_TESTS=OFF >/dev/null
ninja -C "$BUILD_DIR" -j"${JOBS:-2}" "$TARGET" >&2
exec "$BUILD_DIR/bench/$TARGET" "$@"
