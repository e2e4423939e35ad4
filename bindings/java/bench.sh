#!/usr/bin/env bash
# The Java package's benchmark (docs/benchmarks.md, "Java package"): builds the C anchor
# loop (bench/capi_bench.c, a small shared library) against the installed library
# (pkg-config) and runs io.stratacache.bench.Bench, which starts its own redis-server and
# prints one table: stratacache-java, Caffeine, Lettuce and the C ABI, taking turns.
#   PKG_CONFIG_PATH=build/_install/lib/pkgconfig LD_LIBRARY_PATH=build/_install/lib \
#   STRATACACHE_LIB=build/_install/lib/libstratacache.so bindings/java/bench.sh [L1_ITERS L2_ITERS ROUNDS]
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p target
cc -O2 -std=c11 -shared -fPIC -o target/libcapi_bench.so bench/capi_bench.c $(pkg-config --cflags --libs stratacache)
mvn -o -B -q test-compile
mvn -o -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" io.stratacache.bench.Bench \
  "$PWD/target/libcapi_bench.so" "$@"
