#!/usr/bin/env bash
# The Rust value-matrix participant (examples/matrix.rs, built by test.sh's cargo test):
#   matrix.sh write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "${CARGO_TARGET_DIR:-$here/target}/debug/examples/matrix" "$@"
