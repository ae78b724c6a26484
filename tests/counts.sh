# Sourced by the suites: a suite whose run executed no test fails, so a build tag, an
# emptied test file or a runner that found nothing cannot turn CI green.

# require_tests SUITE COUNT: fails (exit 1) naming the suite when COUNT is not a positive number.
require_tests() {
  local suite=$1 count=${2:-0}
  if ! [[ $count =~ ^[0-9]+$ ]] || [[ $count -eq 0 ]]; then
    echo "$suite: no test ran (counted '${count}'); a suite that runs nothing fails" >&2
    exit 1
  fi
  echo "$suite: $count tests ran"
}

# require_cargo_targets LOG: every integration-test target (tests/*.rs) in a `cargo test` log
# ran at least one test, and the whole run ran some.
require_cargo_targets() {
  local log=$1
  awk '
    /^ *Running tests\// { target = $2; next }
    /^ *Running / { target = ""; next }
    /^test result:/ {
      n = $4 + 0; total += n
      if (target != "" && n == 0) { print "cargo: " target " ran no test" > "/dev/stderr"; bad = 1 }
      target = ""
    }
    END { if (total == 0) { print "cargo: no test ran" > "/dev/stderr"; bad = 1 }
          print "cargo: " total " tests ran"; exit bad }
  ' "$log"
}

# require_per_file SUITE COUNTS FILE...: every FILE ran at least one test, where COUNTS holds
# lines `<count>\t<path>` (a path may be absolute or relative; it matches a FILE by its end).
# An emptied test file, or one a build tag or a marker left out, fails naming it.
require_per_file() {
  local suite=$1 counts=$2 bad=0 f n
  shift 2
  for f in "$@"; do
    n=$(awk -F'\t' -v f="$f" '
      { p = $2; if (p == f || substr(p, length(p) - length(f)) == "/" f) s += $1 }
      END { print s + 0 }' "$counts")
    if [[ $n -eq 0 ]]; then
      echo "$suite: $f ran no test; a test file that runs nothing fails (emptied, or left out by a build tag or marker?)" >&2
      bad=1
    fi
  done
  [[ $bad -eq 0 ]] || exit 1
  echo "$suite: each of $# test files ran tests"
}

# require_go_tests LOG FILE...: every `func TestX(t *testing.T)` declared in each Go test FILE
# passed in the `go test -v` LOG (`--- PASS: TestX`): a build tag or a renamed package that
# leaves a file out, or a test that skips, fails naming the file and the test.
require_go_tests() {
  local log=$1 bad=0 f t declared
  shift
  for f in "$@"; do
    declared=$(sed -nE 's/^func (Test[A-Za-z0-9_]*)\([A-Za-z_][A-Za-z0-9_]* \*testing\.T\).*/\1/p' "$f")
    if [[ -z $declared ]]; then
      echo "go: $f declares no test; a test file that runs nothing fails" >&2
      bad=1
      continue
    fi
    for t in $declared; do
      if ! grep -qE "^--- PASS: $t \(" "$log"; then
        echo "go: $t of $f did not run and pass (skipped, left out by a build tag, or missing from the log)" >&2
        bad=1
      fi
    done
  done
  [[ $bad -eq 0 ]] || exit 1
  echo "go: every test declared in the $# test files passed"
}

# pytest_counts JUNIT_XML: `<count>\t<file>` lines of the tests that ran (not skipped) in a
# pytest --junitxml report, by test module (classname `tests.test_x[.Class]` -> tests/test_x.py).
pytest_counts() {
  python3 - "$1" <<'PY'
import collections, sys, xml.etree.ElementTree as ET
ran = collections.Counter()
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("skipped") is not None:
        continue
    parts = case.get("classname", "").split(".")
    module = next((i for i, p in enumerate(parts) if p.startswith("test_")), None)
    if module is not None:
        ran["/".join(parts[: module + 1]) + ".py"] += 1
for f, n in sorted(ran.items()):
    print(f"{n}\t{f}")
PY
}
