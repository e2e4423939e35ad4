#!/usr/bin/env bash
# The Node package's checks, run by scripts/test.sh with PKG_CONFIG_PATH and
# LD_LIBRARY_PATH naming the installed library:
#  1. build the addon from source against it (node-gyp; pkg-config gives the flags and the
#     rpath), which also builds the value-matrix participant (matrix.sh runs it in place);
#  2. the tests: node --test against real redis-servers, and the golden vectors; the
#     TypeScript declarations compiled against test/types.ts;
#  3. npm pack, then install the tarball into a fresh project and use it.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
pkg-config --exists stratacache || { echo "node: pkg-config cannot find stratacache (set PKG_CONFIG_PATH)" >&2; exit 1; }
bash setup.sh
# node-gyp takes the headers of the running node (no download).
export npm_config_nodedir=${npm_config_nodedir:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}
export JOBS=${JOBS:-2}
if command -v ccache >/dev/null; then export CXX="ccache ${CXX:-g++}" CCACHE_NOHASHDIR=true; fi

echo "node: building the addon against $(pkg-config --variable=libdir stratacache)"
CCACHE_BASEDIR=$here npm run --silent install >/dev/null

node --test test/*.test.js
node_modules/.bin/tsc --noEmit --strict --target es2022 --module commonjs --types node test/types.ts
echo "node: TypeScript declarations (test/types.ts, tsc --strict): ok"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(npm pack --silent --pack-destination "$tmp")
mkdir "$tmp/app"
cd "$tmp/app"
npm init -y >/dev/null
CCACHE_BASEDIR=$tmp/app npm install --silent --prefer-offline --no-audit --no-fund "$tmp/$tarball" >/dev/null
node -e "
const { Cache } = require('stratacache');
const cache = new Cache('mem://');
cache.set('k', { n: 1 }).then(() => cache.get('k')).then((v) => {
  if (v?.n !== 1) { console.error('fresh install: wrong value', v); process.exit(1); }
  cache.close();
  console.log('node: npm pack + install into a fresh project: ok');
});"
