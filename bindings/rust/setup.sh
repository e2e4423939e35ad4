#!/usr/bin/env bash
# Fetches the Rust crates' dependencies (crates.io, pinned by Cargo.lock) with cargo.
# Idempotent and quick once the registry cache has them.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "bindings/rust/setup.sh: cargo not found (install Rust with rustup)"; exit 1; }
cargo fetch --locked --quiet
