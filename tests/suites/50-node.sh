#!/usr/bin/env bash
# Node: the checked-in typings match what napi generates, the key conversion's unit tests pass,
# the TypeScript example type-checks, and the node --test suite passes against the release addon.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bash "$repo/scripts/setup.d/50-node.sh"
cd "$repo/bindings/node"

echo "-- node: typings (napi build regenerates index.d.ts and index.js; they must be unchanged)"
npx napi build --platform --release --js index.js --dts index.d.ts >/dev/null 2>&1 ||
  npx napi build --platform --release --js index.js --dts index.d.ts
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if ! git diff --exit-code -- index.d.ts index.js; then
    echo "50-node: index.d.ts / index.js are stale; run 'npm run build' in bindings/node and commit them" >&2
    exit 1
  fi
fi

echo "-- node: cargo test -p idpkit-node --lib (camelCase/snake_case conversion)"
cargo test -p idpkit-node --lib --locked --quiet

echo "-- node: tsc --noEmit examples/build.ts"
npx tsc --noEmit -p examples

echo "-- node: node --test"
node --test test/*.test.mjs 2>&1 | tee "$repo/target/node-test.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
. "$repo/tests/counts.sh"
require_tests node "$(awk '/^# pass /{print $3}' "$repo/target/node-test.log")"
