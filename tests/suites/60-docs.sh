#!/usr/bin/env bash
# Docs: every code block of README.md and docs/*.md runs against the rig (tests/docs/run.py:
# sh with the release CLI, Python, TypeScript, Go, C; Rust type-checked), so an example that no
# longer runs fails CI. A block that cannot run here says why in a `docs-test: skip` comment,
# and the runner prints the reason. Without the rig's peers this suite fails, naming the peer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

echo "-- rig peers: registry-plain, registry-tls, nginx, gitea, kube-apiserver"
# shellcheck source=../rig/lib.sh
. tests/rig/lib.sh
rig_require registry-plain registry-tls nginx gitea kube-apiserver

echo "-- release CLI, C library and its pkg-config file (what the blocks run and link)"
# One package a command, as setup and the C suite build them: built together, cargo would
# unify the core's features into another build of it and compile everything again.
cargo build --release -p idpkit-cli --locked --quiet
cargo build --release -p idpkit-ffi --locked --quiet
ffi/pkgconfig.sh "$repo/target/release" "$repo/include" target/release/pkgconfig/idpkit.pc

echo "-- code blocks"
out=target/docs-test
mkdir -p "$out"
start=$(date +%s)
python3 tests/docs/run.py 2>&1 | tee "$out/run.log"
echo "docs blocks took $(( $(date +%s) - start ))s"

. tests/counts.sh
summary=$(grep -E '^docs: [0-9]+ passed, [0-9]+ skipped, [0-9]+ failed' "$out/run.log" | tail -1)
[ -n "$summary" ] || { echo "docs: the runner printed no summary" >&2; exit 1; }
failed=$(awk '{print $6}' <<<"$summary")
[ "$failed" = 0 ] || { echo "docs: $failed code block(s) failed (see above)" >&2; exit 1; }
require_tests docs "$(awk '{print $2}' <<<"$summary")"
