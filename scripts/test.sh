#!/usr/bin/env bash
# Everything: install, build, and run every test — C++ unit + integration tests (they
# start their own redis-server processes on free loopback ports), the C ABI test
# against the installed header and library, a find_package consumer, the Python
# ctypes tests, the Python package tests (after pip install .) and mypy --strict,
# the ASan+UBSan and TSan builds, a short libFuzzer run, the ABI check (abidiff against
# the baselines in capi/abi/: additions only) and one version in every artefact.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==== %s ====\n' "$*"; }

step "setup"
scripts/setup.sh

step "build (RelWithDebInfo)"
scripts/build.sh build

step "exported symbols: only stratacache_*"
bad=$(nm -D --defined-only build/libstratacache.so | awk '{print $3}' | grep -v '^stratacache_' | grep -v '^STRATACACHE_' || true)
if [[ -n $bad ]]; then echo "unexpected exports:"; echo "$bad"; exit 1; fi
echo "ok: $(nm -D --defined-only build/libstratacache.so | grep -c ' T stratacache_') functions"

step "C ABI: only additions against the released ABIs (abidiff, capi/abi/)"
scripts/abi_check.sh build/libstratacache.so

step "C++ tests + C ABI test (build tree)"
(cd build && ctest --output-on-failure -j2 --timeout 300)

step "install, then the C test against the installed header + library (pkg-config)"
rm -rf build/_install
cmake --install build --prefix "$root/build/_install" >/dev/null
export PKG_CONFIG_PATH="$root/build/_install/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror -o build/capi_test_installed tests/c/capi_test.c $(pkg-config --cflags --libs stratacache)
LD_LIBRARY_PATH="$root/build/_install/lib" build/capi_test_installed

step "find_package(stratacache) consumer"
cmake -S tests/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$root/build/_install" >/dev/null
ninja -C build/consumer >/dev/null
LD_LIBRARY_PATH="$root/build/_install/lib" build/consumer/consumer

step "Python package: pip install ., then every Python test and mypy --strict"
python3 -m pip install -q --disable-pip-version-check .
STRATACACHE_LIB="$root/build/libstratacache.so" STRATACACHE_INTEROP_BIN="$root/build/tests/stratacache_interop" \
  python3 -m pytest -q tests/python
python3 -m mypy --strict python/stratacache

# Every language package under bindings/ with a test.sh builds against the installed
# library (pkg-config, as a user's machine would) and runs its own test suite.
for t in bindings/*/test.sh; do
  [[ -f $t ]] || continue
  step "language package: $(basename "$(dirname "$t")")"
  PKG_CONFIG_PATH="$root/build/_install/lib/pkgconfig" LD_LIBRARY_PATH="$root/build/_install/lib" \
    STRATACACHE_LIB="$root/build/_install/lib/libstratacache.so" bash "$t"
done

step "value matrix: every language reads every language's values"
PKG_CONFIG_PATH="$root/build/_install/lib/pkgconfig" LD_LIBRARY_PATH="$root/build/_install/lib" \
  STRATACACHE_LIB="$root/build/_install/lib/libstratacache.so" python3 tests/matrix/run_matrix.py

step "one version: CMakeLists.txt = C header = library = pkg-config = Python package"
want=$(sed -nE 's/^project\(stratacache VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' CMakeLists.txt)
printf '#include <stdio.h>\n#include <stratacache.h>\nint main(void) { printf("%%s %%s\\n", STRATACACHE_VERSION_STRING, stratacache_version_string()); return 0; }\n' >build/version_probe.c
cc -std=c11 -o build/version_probe build/version_probe.c $(pkg-config --cflags --libs stratacache)
read -r header library < <(LD_LIBRARY_PATH="$root/build/_install/lib" build/version_probe)
pc=$(pkg-config --modversion stratacache)
py=$(cd /tmp && python3 -c 'import importlib.metadata as m, stratacache; print(stratacache.__version__, m.version("stratacache"))')
echo "CMakeLists.txt $want, header $header, library $library, pkg-config $pc, Python (__version__ wheel) $py"
[[ -n $want && $header == "$want" && $library == "$want" && $pc == "$want" && $py == "$want $want" ]] \
  || { echo "version mismatch: every place must carry CMakeLists.txt's project version $want"; exit 1; }

step "ASan + UBSan"
scripts/build.sh build-asan -DSTRATACACHE_SANITIZE=ON -DSTRATACACHE_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/tests/stratacache_tests --gtest_brief=1
ASAN_OPTIONS=detect_leaks=1 build-asan/tests/stratacache_c_test

step "TSan: the concurrency tests"
# Selected by a naming rule, never by a list, so a new test is included by default:
#  - every test of the components that run threads: L2 (suites Redis*), the Cache facade
#    (Cache*), coherent L1 and its invalidation channels (Coherence*), L1 (MemoryTier*)
#    and read-through (ReadThrough*: flights, leases, the timer thread);
#  - anywhere else, every test whose suite or test name contains Concurren, Thread, Async,
#    Atomic or Race (CodecThreads, ...): name a concurrency test that way;
#  - except the fork tests of asynchronous suites (*Async*.Forked*): their child restarts
#    the I/O thread, and TSan cannot start threads in the child of a multi-threaded fork.
#    (A test may also skip itself under __SANITIZE_THREAD__, as RedisSentinel's fork test does.)
#  - tests/tsan.supp: races TSan reports inside uninstrumented OpenSSL (why: see the file).
scripts/build.sh build-tsan -DSTRATACACHE_TSAN=ON -DSTRATACACHE_BUILD_BENCH=OFF
TSAN_OPTIONS="halt_on_error=1 suppressions=$root/tests/tsan.supp" build-tsan/tests/stratacache_tests --gtest_brief=1 \
  --gtest_filter='Redis*:Cache*:Coherence*:MemoryTier*:ReadThrough*:*Concurren*:*Thread*:*Async*:*Atomic*:*Race*:-*Async*.Forked*'

step "libFuzzer: envelope decoder"
scripts/run_fuzz.sh "${FUZZ_SECONDS:-30}"

step "all tests passed"
