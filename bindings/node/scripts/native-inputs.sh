#!/usr/bin/env bash
# Prints one hash of everything napi's generated loader and typings (native.js,
# native.d.ts) are made from: the addon's Rust sources and manifest, the napi crates pinned in
# Cargo.lock, and the napi CLI pinned in package-lock.json. `npm run build` stores it in
# native.inputs beside them; tests/suites/50-node.sh re-runs `napi build` (a second release
# compile of everything, under target/<triple>) only when it differs.
set -euo pipefail
node_dir=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$node_dir/../.." && pwd)
{
  (cd "$node_dir" && find src -type f -print0 | sort -z | xargs -0 sha256sum)
  (cd "$node_dir" && sha256sum Cargo.toml build.rs)
  awk '/^\[\[package\]\]/{keep=0} /^name = "napi/{keep=1} keep' "$repo/Cargo.lock"
  node -e 'const l=require(process.argv[1]); for (const [k,v] of Object.entries(l.packages)) if (k.includes("@napi-rs/cli")) console.log(k, v.version, v.integrity)' \
    "$node_dir/package-lock.json"
} | sha256sum | cut -d' ' -f1
