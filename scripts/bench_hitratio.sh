#!/usr/bin/env bash
# Hit-ratio benchmark (docs/hitratio.md): builds bench_hitratio (Release, build-bench/)
# and the Caffeine replay jar, then replays every trace. Arguments go to the driver,
# e.g. `scripts/bench_hitratio.sh --trace=arc-OLTP`. Decoded traces are cached in
# build-bench/traces/. Idempotent: installs only missing packages, rebuilds only
# what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Decompressors for the traces; Maven and a JDK for the Caffeine replay.
scripts/setup.sh zstd xz-utils gzip maven openjdk-17-jdk-headless

BUILD_TYPE=Release scripts/build.sh build-bench -DSTRATACACHE_BUILD_TESTS=OFF >/dev/null

jar=bench/caffeine/target/caffeine-replay.jar
newest_source=$(find bench/caffeine/pom.xml bench/caffeine/src -type f -newer "$jar" 2>/dev/null | head -1 || true)
if [[ ! -f $jar || -n $newest_source ]]; then
  (cd bench/caffeine && mvn -q -B package)
fi

exec build-bench/bench/bench_hitratio --cache-dir=build-bench/traces --caffeine-jar="$jar" "$@"
