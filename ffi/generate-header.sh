#!/usr/bin/env bash
# Regenerates include/idpkit.h from ffi/src with the pinned cbindgen.
#   ffi/generate-header.sh           rewrite include/idpkit.h
#   ffi/generate-header.sh --check   fail (exit 1, with the diff) when include/idpkit.h is stale
# cbindgen: $CBINDGEN, else the copy scripts/setup.d/20-ffi.sh installs, else PATH; it must be
# exactly the pinned version, because another version formats the header differently.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
pin=0.29.4
cbindgen=${CBINDGEN:-}
if [ -z "$cbindgen" ]; then
  cached="${IDPKIT_TOOLS:-$HOME/.cache/idpkit-tools}/cbindgen-$pin/bin/cbindgen"
  if [ -x "$cached" ]; then cbindgen=$cached; else cbindgen=$(command -v cbindgen || true); fi
fi
if [ -z "$cbindgen" ]; then
  echo "generate-header: cbindgen $pin is missing; run scripts/setup.d/20-ffi.sh" >&2
  exit 1
fi
have=$("$cbindgen" --version | awk '{print $2}')
if [ "$have" != "$pin" ]; then
  echo "generate-header: $cbindgen is cbindgen $have; the header is pinned to $pin" >&2
  exit 1
fi

out=include/idpkit.h
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# From the source file (cbindgen follows the `mod`s): no `cargo metadata`, so no network, no
# Cargo.lock resolution. The crate's private `const _` version assertions make cbindgen warn;
# nothing else is hidden.
"$cbindgen" --quiet --config ffi/cbindgen.toml --output "$tmp" ffi/src/lib.rs \
  2> >(grep -v "Skip idpkit-ffi::_ " >&2)

if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$out" "$tmp"; then
    echo "generate-header: $out is stale; run ffi/generate-header.sh and commit it" >&2
    exit 1
  fi
  echo "generate-header: $out is up to date"
else
  mkdir -p include
  cp "$tmp" "$out"
  echo "generate-header: wrote $out"
fi
