#!/usr/bin/env bash
# Writes (or with --check, compares) the generated Kotlin of the JVM package:
#   src/main/kotlin/dev/idpkit/uniffi/idpkit_uniffi.kt   uniffi-bindgen, from the release
#                                                        libidpkit_uniffi.so (library mode)
#   src/main/kotlin/dev/idpkit/{Types,Event,Errors,Operations}.kt   gen.py, from
#                                                        contract/idpkit.json
# Both are checked in; tests/suites/70-jvm.sh runs this with --check and fails on a diff,
# as suite 20 does for the C header. Builds the library and the pinned uniffi-bindgen first
# (both no-ops when current).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
check=0
[[ ${1:-} == --check ]] && check=1
target=${CARGO_TARGET_DIR:-$repo/target}

cd "$repo"
cargo build --release --locked -p idpkit-uniffi --quiet
# uniffi-bindgen has its own workspace (see its Cargo.toml); it shares the target directory.
CARGO_TARGET_DIR=$target cargo build --locked --quiet \
  --manifest-path bindings/kotlin/uniffi-bindgen/Cargo.toml

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Run from the workspace: uniffi-bindgen reads bindings/kotlin/uniffi.toml through cargo
# metadata. --no-format: the output must not depend on whether ktlint is installed.
"$target/debug/uniffi-bindgen" generate --library "$target/release/libidpkit_uniffi.so" \
  --language kotlin --no-format --out-dir "$out" >/dev/null
generated=$out/dev/idpkit/uniffi/idpkit_uniffi.kt
checked_in=$here/src/main/kotlin/dev/idpkit/uniffi/idpkit_uniffi.kt
status=0
if [[ $check == 1 ]]; then
  if ! diff -u "$checked_in" "$generated"; then
    echo "generate.sh: $checked_in is stale; run bindings/kotlin/generate.sh and commit it" >&2
    status=1
  fi
  python3 "$here/gen.py" --check || status=1
else
  mkdir -p "$(dirname "$checked_in")"
  cp "$generated" "$checked_in"
  python3 "$here/gen.py"
fi
exit $status
