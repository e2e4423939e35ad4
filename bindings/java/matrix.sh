#!/usr/bin/env bash
# The Java participant of the cross-language value matrix (tests/matrix): runs the
# participant built by bindings/java/test.sh.
#   matrix.sh write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cp_file=$here/target/runtime-classpath.txt
[[ -f $cp_file ]] || { echo "matrix.sh (java): not built; run bindings/java/test.sh first" >&2; exit 2; }
exec java -cp "$here/target/classes:$here/target/test-classes:$(cat "$cp_file")" \
  io.stratacache.matrix.MatrixParticipant "$@"
