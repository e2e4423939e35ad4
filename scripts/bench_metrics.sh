#!/usr/bin/env bash
# What recording metrics costs: builds bench_metrics twice (Release, STRATACACHE_METRICS
# ON and OFF), runs the two builds alternately ROUNDS times (so drift of a shared machine
# hits both alike) and prints one table: L1 hit ns/op and L2 GET µs, metrics on vs
# compiled out, the median of every run of each build and their ratio.
# Usage: scripts/bench_metrics.sh [bench_metrics args...]   e.g. --repeats=9
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
on=${BUILD_DIR:-build-bench}
off=${BUILD_DIR_OFF:-build-bench-nometrics}
for dir in "$on" "$off"; do
  flag=ON; [[ $dir == "$off" ]] && flag=OFF
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATACACHE_BUILD_TESTS=OFF \
    -DSTRATACACHE_METRICS=$flag >/dev/null
  ninja -C "$dir" -j"${JOBS:-2}" bench_metrics >&2
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
  "$on/bench/bench_metrics" "$@" >>"$out/on"
  "$off/bench/bench_metrics" "$@" >>"$out/off"
done
python3 - "$out/on" "$out/off" "$ROUNDS" <<'PY'
import statistics, sys
def runs(path):
    got = {}
    for line in open(path):
        name, *values = line.split()
        if name.endswith("_runs"):
            got.setdefault(name[:-5], []).extend(float(v) for v in values)
    return got
on, off, rounds = runs(sys.argv[1]), runs(sys.argv[2]), sys.argv[3]
print(f"metrics recording cost: median of all runs ({rounds} alternating rounds per build; min-max in brackets)")
print()
print("| measurement | metrics on | compiled out | on / off |")
print("|---|---|---|---|")
for name, label in (("l1_hit_ns", "L1 hit (Cache::get_ref), ns/op"), ("l2_get_us", "L2 GET (Cache::get, skip_l1), µs/op")):
    a, b = on[name], off[name]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {label} | {ma:.2f} [{min(a):.2f}-{max(a):.2f}] | {mb:.2f} [{min(b):.2f}-{max(b):.2f}] | {ma / mb:.3f} |")
PY
