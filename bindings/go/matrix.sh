#!/usr/bin/env bash
# The Go participant of the value matrix (tests/matrix); built by bindings/go/test.sh.
#   matrix.sh write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]
exec "$(dirname "$0")/bin/stratacache-matrix" "$@"
