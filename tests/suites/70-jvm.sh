#!/usr/bin/env bash
# JVM (Kotlin and Java, bindings/kotlin): the checked-in Kotlin is what uniffi-bindgen makes of
# the release libidpkit_uniffi.so and what gen.py makes of contract/idpkit.json, then Maven
# (offline: scripts/setup.d/70-jvm.sh resolved everything from Maven Central into ~/.m2)
# compiles the jar with the native library inside, runs the JUnit 5 tests (build and push to
# the rig's registry-plain and Gitea, coded errors, cancel, events, the Java example) and
# packages it. Without the rig's peers this suite fails, naming the peer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

echo "-- rig peers: registry-plain, nginx (git over HTTPS), gitea"
# shellcheck source=../rig/lib.sh
. tests/rig/lib.sh
rig_require registry-plain nginx gitea
# rig_require loaded .rig/rig.env: the tests read its IDPKIT_RIG_* variables.

for tool in mvn javac; do
  if ! command -v "$tool" >/dev/null; then
    echo "70-jvm: $tool is missing (scripts/setup.d/70-jvm.sh installs it)" >&2
    exit 1
  fi
done
bash scripts/setup.d/70-jvm.sh

echo "-- generated Kotlin is current (uniffi-bindgen from the library, gen.py from the contract)"
# Builds the release cdylib and the pinned uniffi-bindgen first (no-ops when current).
bindings/kotlin/generate.sh --check

echo "-- mvn package (compile, JUnit 5 against the rig, jar)"
cd bindings/kotlin
log="$repo/target/jvm-test.log"
mkdir -p "$repo/target"
set +e
mvn -B -o package 2>&1 | tee "$log" | grep -E '^\[(ERROR|WARNING)\]|Tests run:|BUILD|^[a-z].*(passed|failed)'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
  echo "70-jvm: mvn package failed (the whole log: target/jvm-test.log)" >&2
  exit 1
fi

echo "-- the jar carries the native library under JNA's platform path"
jar=target/idpkit-0.1.0.jar
entries=$(jar tf "$jar")
if ! grep -qx 'linux-x86-64/libidpkit_uniffi.so' <<<"$entries"; then
  echo "70-jvm: $jar has no linux-x86-64/libidpkit_uniffi.so" >&2
  exit 1
fi

echo "-- the Java example from the jar alone (java -cp jar:lib/*), building examples/hello"
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
java -cp "$jar:target/lib/*:target/test-classes" dev.idpkit.examples.BuildAndPush \
  --store "$store/store" --tag example:jvm -q "$repo/examples/hello"

echo "-- no password or token of the rig in what the tests printed"
for secret in "$IDPKIT_RIG_REGISTRY_PASSWORD" "$IDPKIT_RIG_GITEA_PASSWORD" "$IDPKIT_RIG_GITEA_TOKEN"; do
  if [[ -n $secret ]] && grep -rqF -- "$secret" "$log" target/surefire-reports; then
    echo "70-jvm: a rig secret appears in the JVM test output" >&2
    exit 1
  fi
done

# Every test class ran tests, and no test failed or was skipped.
. "$repo/tests/counts.sh"
read -r ran failed errors skipped < <(awk -F'[:,] *' '/^\[[A-Z]+\] Tests run:/ && !/ -- in / {print $2, $4, $6, $8}' "$log" | tail -1)
echo "jvm: $((ran - failed - errors)) passed, $((failed + errors)) failed, $skipped skipped"
[[ $((failed + errors)) -eq 0 && $skipped -eq 0 ]] || exit 1
require_tests jvm "$ran"
for test in src/test/kotlin/dev/idpkit/*Test.kt src/test/java/dev/idpkit/*Test.java; do
  class=$(basename "${test%.*}")
  if ! grep -qE "Tests run: [1-9][0-9]*, .* -- in dev\.idpkit\.$class\$" "$log"; then
    echo "70-jvm: $test ran no test" >&2
    exit 1
  fi
done
