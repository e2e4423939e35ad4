#!/usr/bin/env bash
# Configure + build into $1 (default build/) with extra CMake arguments after it.
# With ccache installed (and no launcher chosen by the caller) compiles go through it,
# keyed by paths relative to the checkout, so another clone of the same sources (CI's
# fresh clone) reuses what was compiled before.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
launcher=()
if command -v ccache >/dev/null && [[ -z ${CMAKE_CXX_COMPILER_LAUNCHER:-} ]]; then
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${launcher[@]}" "$@" >/dev/null
ninja -C "$dir" -j"${JOBS:-2}"
