#!/usr/bin/env bash
# The Node participant of the value matrix (tests/matrix/run_matrix.py): runs
# matrix/participant.js over the package built in place by bindings/node/test.sh.
set -euo pipefail
exec node "$(cd "$(dirname "$0")" && pwd)/matrix/participant.js" "$@"
