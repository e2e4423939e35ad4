#!/usr/bin/env bash
# The Python participant of the value matrix (tests/matrix/run_matrix.py): runs
# tests/matrix/participant.py with the interpreter that has the stratacache package
# installed ($STRATACACHE_PYTHON, else python3).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec "${STRATACACHE_PYTHON:-python3}" "$here/tests/matrix/participant.py" "$@"
