#!/usr/bin/env bash
# The Go package's dependencies (module cache; idempotent, quick when already there).
set -euo pipefail
cd "$(dirname "$0")"
go mod download
(cd bench && go mod download)
