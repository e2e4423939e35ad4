#!/usr/bin/env bash
# The Rust crates against the installed library (scripts/test.sh sets PKG_CONFIG_PATH
# and LD_LIBRARY_PATH): one `cargo test` build (both crates, their tests against
# redis-servers they start, the header check, and the examples: the matrix participant
# bindings/rust/matrix.sh runs), then `cargo package` and a fresh crate that builds
# and runs against the packaged crates.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}

cargo test --locked --workspace

# Packaging: --no-verify skips cargo's rebuild of each package in isolation (a second
# full build); the consumer below proves the packaged crates build and run instead.
cargo package --locked --no-verify --allow-dirty -p stratacache-sys -p stratacache --quiet
consumer=$(mktemp -d)
trap 'rm -rf "$consumer"' EXIT
for c in "$CARGO_TARGET_DIR"/package/stratacache-sys-*.crate "$CARGO_TARGET_DIR"/package/stratacache-[0-9]*.crate; do
  tar -xzf "$c" -C "$consumer"
done
sys_dir=$(ls -d "$consumer"/stratacache-sys-*/)
lib_dir=$(ls -d "$consumer"/stratacache-[0-9]*/)
mkdir -p "$consumer/app/src"
cat >"$consumer/app/Cargo.toml" <<TOML
[package]
name = "stratacache-consumer"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
stratacache = { path = "$lib_dir" }

[patch.crates-io]
stratacache-sys = { path = "$sys_dir" }

[workspace]
TOML
cat >"$consumer/app/src/main.rs" <<'RS'
fn main() -> Result<(), stratacache::Error> {
    let cache = stratacache::Cache::open("mem://")?;
    cache.set("k", b"packaged", stratacache::Ttl::Never)?;
    assert_eq!(cache.get("k")?.as_deref(), Some(&b"packaged"[..]));
    println!("packaged crates work (library {})", stratacache::library_version());
    Ok(())
}
RS
cp Cargo.lock "$consumer/app/Cargo.lock"
(cd "$consumer/app" && cargo run --quiet --offline)
