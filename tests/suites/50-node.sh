#!/usr/bin/env bash
# Node: the checked-in native typings match what napi generates, the public surface (index.js,
# index.d.ts) matches what scripts/gen.mjs generates from contract/idpkit.json, the TypeScript
# examples type-check, and the node --test suite passes against the release addon.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo/bindings/node"
# The checked-in loader and typings, before setup's build can rewrite them.
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp native.d.ts native.js "$before/"
bash "$repo/scripts/setup.d/50-node.sh"

echo "-- node: native typings (native.d.ts and native.js are napi's output for the inputs in native.inputs)"
# napi build is a second release compile of everything (it forces --target), so it runs only
# when what the typings are made from changed since they were generated.
if [[ $(scripts/native-inputs.sh) != "$(cat native.inputs)" ]]; then
  npx napi build --platform --release --js native.js --dts native.d.ts >/dev/null 2>&1 ||
    npx napi build --platform --release --js native.js --dts native.d.ts
  if ! diff -u "$before/native.d.ts" native.d.ts || ! diff -u "$before/native.js" native.js; then
    echo "50-node: native.d.ts / native.js were stale; 'npm run build' in bindings/node rewrote them: commit them" >&2
    exit 1
  fi
  echo "50-node: native.d.ts / native.js are current but native.inputs is not; run 'npm run build' in bindings/node and commit native.inputs" >&2
  exit 1
fi

echo "-- node: generated surface (scripts/gen.mjs from contract/idpkit.json; must be unchanged)"
node scripts/gen.mjs --check

echo "-- node: tsc --noEmit examples"
npx tsc --noEmit -p examples

echo "-- node: node --test"
# TAP on stdout; per file, the tests that really ran (node's `# pass` counts a file that
# declares no test as one passed test).
per_file="$repo/target/node-tests-per-file.txt"
rm -f "$per_file"
node --test --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter="$repo/tests/node-tests-per-file.mjs" --test-reporter-destination="$per_file" \
  test/*.test.mjs 2>&1 | tee "$repo/target/node-test.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
. "$repo/tests/counts.sh"
require_tests node "$(awk -F'\t' '{s += $1} END {print s + 0}' "$per_file" 2>/dev/null)"
require_per_file node "$per_file" test/*.test.mjs
