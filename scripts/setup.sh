#!/usr/bin/env bash
# Installs what idpkit's build and tests need and is missing; a fast no-op when all is there.
# One line per step it runs (with its time), one summary line at the end; a missing
# prerequisite is a one-line error that says how to install it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
started=$(date +%s)

die() {
  echo "setup: $*" >&2
  exit 1
}

# What the scripts below cannot install themselves (toolchains) is checked first, so a
# missing one fails in a second instead of half-way through.
command -v cargo >/dev/null || die "cargo is missing; install Rust (https://rustup.rs) and re-run"
command -v cc >/dev/null || command -v gcc >/dev/null ||
  die "no C compiler; install one (apt-get install build-essential) and re-run"
command -v go >/dev/null || die "go is missing; install Go >= 1.22 (https://go.dev/dl or apt-get install golang) and re-run"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null ||
  die "Python >= 3.9 is needed (python3 is $(python3 --version 2>&1 || echo missing)); install it and re-run"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 17) ? 0 : 1)' 2>/dev/null ||
  die "Node >= 20.17 is needed (node is $(node --version 2>/dev/null || echo missing)); install it and re-run"

# Running out of disk half-way shows up as an ENOSPC deep inside npm, cargo or go; say it
# first. A cold run needs about 12 GB at its peak (docs/decisions/0021); a warm one far less,
# so this only warns.
free_gb=$(df -Pk . | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
if [ "${free_gb:-0}" -lt 12 ]; then
  echo "setup: warning: only ${free_gb} GB free on $(df -P . | awk 'NR == 2 { print $6 }'); a first run needs about 12 GB (cargo's target/, the rig's Go peers); free some space if it fails with ENOSPC" >&2
fi

# step NAME COMMAND...: runs one step, then prints its name and time (also kept in
# target/setup-times.txt, which scripts/test-all.sh prints in its final table).
mkdir -p target
times=target/setup-times.txt
: >"$times"
record() { # NAME RESULT SECONDS: one row of the final table
  printf '%-16s %-7s %5ss\n' "$1" "$2" "$3" >>"$times"
}
step() {
  local name=$1 t0 took
  shift
  t0=$(date +%s)
  "$@"
  took=$(($(date +%s) - t0))
  echo "setup: $name ok (${took}s)"
  record "setup:$name" ok "$took"
}

if [ -x scripts/setup-system.sh ]; then
  step apt scripts/setup-system.sh
fi
# The release CLI is what the example and the end-to-end tests run.
step cli cargo build --release --locked -p idpkit-cli --quiet
for hook in scripts/setup.d/*.sh; do
  [ -e "$hook" ] && step "$(basename "$hook" .sh)" bash "$hook"
done
echo "setup: all present in $(($(date +%s) - started))s (toolchains, packages, CLI, C library, Python, Node, JVM)"
record setup total "$(($(date +%s) - started))"
