#!/usr/bin/env bash
# Builds (Release) and runs every benchmark, printing markdown tables. Run it on a quiet
# machine; each table is the median of repeated runs measured in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_TYPE=Release scripts/build.sh build-bench -DSTRATACACHE_BUILD_TESTS=OFF
echo "## L1"; build-bench/bench/bench_l1
echo; echo "## Codec"; build-bench/bench/bench_codec
echo; echo "## L2"; build-bench/bench/bench_l2
echo; build-bench/bench/bench_l2_concurrent
echo; build-bench/bench/bench_l2_ops
echo; scripts/bench_l2_async.sh
echo; echo "## L1 coherence"; build-bench/bench/bench_coherence
echo; echo "## Read-through"; build-bench/bench/bench_read_through
echo; echo "## Metrics"; scripts/bench_metrics.sh
echo; echo "## Python"
python3 -m pip install -q --disable-pip-version-check . cachetools cachebox theine cashews aiocache "redis[hiredis]"
python3 bench/bench_python.py --c-bench build-bench/bench/bench_l2
echo; echo "## Read-through: stampede"
python3 bench/bench_stampede.py
