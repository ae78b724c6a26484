#!/usr/bin/env bash
# Installs what idpkit's build and tests need and is missing; a fast no-op when all is there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ -x scripts/setup-system.sh ]; then
  scripts/setup-system.sh
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust (https://rustup.rs) and re-run" >&2
  exit 1
fi

# The release CLI is what the example and the end-to-end tests run.
cargo build --release --locked -p idpkit-cli --quiet

for hook in scripts/setup.d/*.sh; do
  [ -e "$hook" ] && bash "$hook"
done
exit 0
