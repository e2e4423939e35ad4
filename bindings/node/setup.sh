#!/usr/bin/env bash
# Install the Node package's dependencies exactly as package-lock.json pins them:
# node-addon-api, and for the tests and benchmark typescript, @types/node and ioredis.
# Quick when node_modules already matches (a stamp holds the checksum of the lock file
# it was installed from). The addon itself is built by test.sh, against the installed
# library.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "setup (node): npm not found; install Node.js 20+" >&2; exit 1; }
stamp=node_modules/.stratacache-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
[[ -f $stamp && $(cat "$stamp") == "$want" ]] && exit 0
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
