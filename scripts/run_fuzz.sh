#!/usr/bin/env bash
# Build the libFuzzer targets with clang (ASan + UBSan) in build-fuzz, seed a corpus from
# the golden envelopes, and fuzz Codec::decode for N seconds (default 30).
# Exits non-zero when the fuzzer finds a crash; the reproducer lands in build-fuzz/artifacts/.
#   scripts/run_fuzz.sh [seconds]
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DSTRATACACHE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j2 fuzz_envelope

corpus="$build/corpus/envelope"
artifacts="$build/artifacts"
mkdir -p "$corpus" "$artifacts"
cp "$root"/tests/golden/envelopes/*.bin "$corpus/"
# A few bare serializer inputs so the JSON / MessagePack parsers start from valid shapes.
printf '{"a":[1,-2,3.5,"x\\u00e9",true,null,{}]}' >"$corpus/seed_json"
printf '\x82\xa1a\x93\x01\xff\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xc4\x01b\xd4\x05x' >"$corpus/seed_msgpack"
printf '%s' '-9223372036854775808' >"$corpus/seed_counter"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$build/fuzz/fuzz_envelope" -max_len=4096 -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus"
