#!/usr/bin/env bash
# Installs this checkout, redis-py and hiredis into a venv (build-bench-venv; the wheel
# build is incremental in build-wheel/) and runs the asyncio L2 benchmark:
# stratacache.AsyncCache vs redis.asyncio, 64 tasks. It starts its own redis-server on a
# free loopback port. Prints a markdown table; progress goes to stderr.
# Usage: scripts/bench_l2_async.sh [--tasks 64] [--seconds 0.5] [--repeats 11]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-build-bench-venv}
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
[[ -x $VENV/bin/python ]] || "${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -c "import redis, hiredis, scikit_build_core, pybind11" 2>/dev/null ||
  "${PIP[@]}" redis hiredis "scikit-build-core>=0.10" "pybind11>=2.10" >&2
# Without build isolation the build tree's paths stay the same: a rebuild is incremental.
"${PIP[@]}" --no-build-isolation . >&2
exec "$VENV/bin/python" bench/bench_l2_async.py "$@"
