#!/usr/bin/env bash
# Builds (Release) and runs the concurrent L2 benchmark: 64 threads on one RedisTier vs
# redis-benchmark -c 64 -P 1 / -P 16, and a 3-master Cluster vs standalone. It starts
# its own servers on free loopback ports. Prints markdown tables.
# Usage: scripts/bench_l2_concurrent.sh [--threads 64] [--seconds 0.5] [--repeats 11] [--no-cluster]
set -euo pipefail
BENCH_TARGET=bench_l2_concurrent exec "$(dirname "$0")/bench_l2.sh" "$@"
