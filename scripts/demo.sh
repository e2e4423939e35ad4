#!/usr/bin/env bash
# The demo: installs what is missing, builds and installs the Python package
# (pip install .), then runs examples/demo.py on the embedded default (mem://, no
# server needed) and the C ABI demo. Set REDIS_URL to run both against a Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
python3 -m pip install -q --disable-pip-version-check .
echo "== Python (examples/demo.py) =="
python3 examples/demo.py
echo
echo "== C ABI (examples/demo.c) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j2 stratacache_demo >/dev/null
./build/stratacache_demo "${REDIS_URL:-mem://}"
