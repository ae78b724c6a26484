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
