#!/usr/bin/env bash
# Installs what stratacache needs to build and test on Debian 12, plus any Debian
# packages named as arguments. Idempotent: only missing packages are installed; nothing
# is downloaded outside Debian's and the language registries (PyPI, npm, the Go module
# proxy, crates.io, Maven Central).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(build-essential cmake ninja-build pkg-config
      libhiredis-dev libmsgpack-cxx-dev nlohmann-json3-dev liblz4-dev zlib1g-dev libssl-dev openssl
      pybind11-dev libgtest-dev redis-server redis-tools clang libclang-rt-14-dev
      abigail-tools ccache python3 python3-pip openjdk-17-jdk-headless maven prometheus "$@")

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian redis-server package starts a system daemon on 6379; tests never use it
# (fixtures start their own servers on free ports), so it is left alone.

PY=${PYTHON:-python3}
# The optional extras (stratacache.prometheus, stratacache.otel) are tested and type-checked
# too; redis-py is the plain client the lock tests protect a counter with.
"$PY" -c "import pytest, mypy, prometheus_client, opentelemetry.sdk, redis" 2>/dev/null \
  || "$PY" -m pip install -q --disable-pip-version-check "pytest>=7" "mypy>=1.5" "prometheus_client>=0.17" \
       "opentelemetry-api>=1.20" "opentelemetry-sdk>=1.20" "redis>=5"

# Each language package under bindings/ that has a setup.sh installs its own toolchain
# dependencies with its own client (npm, go, cargo, mvn); a new package joins by rule.
for s in bindings/*/setup.sh; do
  [[ -f $s ]] || continue
  echo "setup: $s"
  bash "$s"
done
