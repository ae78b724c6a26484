#!/usr/bin/env bash
# The Node package (bindings/node): `npm ci` when node_modules does not match
# package-lock.json, then the release build of the addon (and its loader native.js, native.d.ts)
# when its sources changed since the last build (a hash stamp). A fast no-op when both are
# current. The public index.js / index.d.ts come from scripts/gen.mjs, not from here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo/bindings/node"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "[setup node] node or npm is missing; installing Debian's nodejs and npm" >&2
  SUDO=
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
node -e '
  const [major, minor] = process.versions.node.split(".").map(Number)
  if (major < 20 || (major === 20 && minor < 17)) {
    console.error(`[setup node] Node ${process.versions.node} is too old: @napi-rs/cli and the tests need Node >= 20.17`)
    process.exit(1)
  }'

# 1. Dependencies (@napi-rs/cli, typescript): exactly the lockfile.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.idpkit-lock-hash || $(cat node_modules/.idpkit-lock-hash) != "$lock_hash" ]]; then
  echo "[setup node] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > node_modules/.idpkit-lock-hash
fi

# 2. The addon, in release, when anything it is built from changed.
src_hash=$(
  {
    find src "$repo/core/src" -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml build.rs package.json "$repo/core/Cargo.toml" "$repo/Cargo.toml" "$repo/Cargo.lock"
    rustc --version
  } | sha256sum | cut -d' ' -f1
)
addon=idpkit.linux-x64-gnu.node
case "$(uname -m)" in
  aarch64) addon=idpkit.linux-arm64-gnu.node ;;
esac
if [[ ! -f $addon || ! -f .build-stamp || $(cat .build-stamp) != "$src_hash" ]]; then
  echo "[setup node] building the addon (release)" >&2
  # Plain cargo into the shared target/release: `napi build` always passes `--target
  # <triple>`, which builds under target/<triple>/ and compiles core and every dependency
  # (vendored OpenSSL and libgit2 included) a second time. On Linux the addon is the cdylib as
  # cargo links it. napi's loader and typings (native.js, native.d.ts) are checked in, with
  # the hash of what they are made from (native.inputs); `npm run build` regenerates all three.
  (cd "$repo" && cargo build --release --locked -p idpkit-node --quiet) >&2
  cp "$repo/target/release/libidpkit_node.so" "$addon.tmp" && mv "$addon.tmp" "$addon"
  echo "$src_hash" > .build-stamp
fi
