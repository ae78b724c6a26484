#!/usr/bin/env bash
# Starts the rig of real peers, runs every suite in tests/suites/ (Rust, C, Go, Python, Node,
# end-to-end), stops the rig even when a suite fails, and exits non-zero if any suite failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

rig_started=0
run_start=$(date +%s)
# IDPKIT_KEEP_RIG=1 leaves the rig running afterwards (for a developer's next run).
stop_rig() {
  if [ "$rig_started" = 1 ] && [ -x tests/rig/down ] && [ "${IDPKIT_KEEP_RIG:-0}" != 1 ]; then
    tests/rig/down || true
  fi
}
trap stop_rig EXIT

timings=()
row() { # NAME RESULT SECONDS: one row of the final table, as scripts/setup.sh writes its own
  timings+=("$(printf '%-16s %-7s %5ss' "$1" "$2" "$3")")
}
if [ -x tests/rig/up ]; then
  echo "== starting the test rig"
  start=$(date +%s)
  outcome=ok
  if ! tests/rig/up; then
    echo "test-all: the test rig did not start (see above); the suites that need it will fail" >&2
    outcome=FAILED
  fi
  rig_started=1
  # Includes building the Go peers into ~/.cache/idpkit-rig the first time.
  row rig-up "$outcome" "$(( $(date +%s) - start ))"
fi

passed=0
failed=0
failures=()
for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  echo "== suite $name"
  start=$(date +%s)
  if bash "$suite"; then
    passed=$((passed + 1))
    outcome=passed
  else
    failed=$((failed + 1))
    failures+=("$name")
    outcome=FAILED
  fi
  took=$(( $(date +%s) - start ))
  echo "== suite $name $outcome in ${took}s"
  row "$name" "$outcome" "$took"
done

echo
echo "step             result   time"
# What scripts/setup.sh (make setup, run first by make test) took, step by step.
[ -f target/setup-times.txt ] && cat target/setup-times.txt
printf '%s\n' "${timings[@]}"
echo "all suites (rig start included): $(( $(date +%s) - run_start ))s"
[ "$failed" -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
