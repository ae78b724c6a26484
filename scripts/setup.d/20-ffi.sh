#!/usr/bin/env bash
# C ABI and Go bindings: the pinned cbindgen (cached outside the checkout), the release
# static/shared library, and a pkg-config file for the checkout. Idempotent and quick when
# everything is in place.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

pin=0.29.4
tools="${IDPKIT_TOOLS:-$HOME/.cache/idpkit-tools}"
cbindgen="$tools/cbindgen-$pin/bin/cbindgen"
if [ ! -x "$cbindgen" ]; then
  echo "setup: installing cbindgen $pin into $tools (once)"
  cargo install cbindgen --version "=$pin" --locked --quiet --root "$tools/cbindgen-$pin"
fi

# libidpkit_ffi.a / .so: what tests/c and bindings/go link.
cargo build --release -p idpkit-ffi --locked --quiet

ffi/pkgconfig.sh "$repo/target/release" "$repo/include" target/release/pkgconfig/idpkit.pc
