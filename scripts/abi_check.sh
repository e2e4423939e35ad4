#!/usr/bin/env bash
# The C ABI is additive only: compare libstratacache.so with the checked-in baseline of
# every released ABI (capi/abi/stratacache-<version>.abi, abidw output) using libabigail.
#   scripts/abi_check.sh [build/libstratacache.so]     check (CI: scripts/test.sh)
#   scripts/abi_check.sh --dump LIB.so HEADERS_DIR      print a baseline of LIB.so
# Passes when the only differences are added functions (new symbols, e.g. in a
# STRATACACHE_0.2 version node). Fails on a removed function, a changed signature or
# type, or a symbol moved to another version node. The library needs DWARF (RelWithDebInfo).
#
# Only the public C surface is described: --exported-interfaces-only keeps the exported
# functions and the types they reach, and --headers-dir + --drop-private-types make the
# handle structs (defined in capi/src, holding C++ core objects) opaque, as the header
# declares them; without them the C++ core's debug info makes the file 8.6 MB, with
# them about 30 kB. Source locations are left out (they change with every edit).
set -euo pipefail
cd "$(dirname "$0")/.."
read_opts=(--exported-interfaces-only --drop-private-types)

if [[ ${1:-} == --dump ]]; then
  exec abidw "${read_opts[@]}" --headers-dir "$3" --no-show-locs --no-comp-dir-path --no-corpus-path \
    --no-elf-needed "$2"
fi

lib=${1:-build/libstratacache.so}
shopt -s nullglob
baselines=(capi/abi/stratacache-*.abi)
((${#baselines[@]})) || { echo "abi_check: no baseline under capi/abi/"; exit 1; }
status=0
for base in "${baselines[@]}"; do
  diff_args=("${read_opts[@]}" --headers-dir2 capi/include --fail-no-debug-info --no-show-locs "$base" "$lib")
  # The full report (added functions included) for the log ...
  abidiff "${diff_args[@]}" || true
  # ... and the verdict with additions filtered out: any remaining change is a break.
  rc=0; abidiff --no-added-syms "${diff_args[@]}" >/dev/null || rc=$?
  if ((rc == 0)); then
    echo "abi_check: ok against $base (additions only)"
  else
    echo "abi_check: FAILED against $base: $lib removes or changes what that release exports" \
         "(abidiff exit $rc; see the report above). The C ABI is additive only: add a new function" \
         "in a new version node of capi/stratacache.map instead of changing an old one."
    status=1
  fi
done
exit $status
