#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs the C ABI demo on the embedded
# default (mem://, no server needed). Set REDIS_URL to run it against a Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j2 stratacache_demo >/dev/null
./build/stratacache_demo "${REDIS_URL:-mem://}"
