#!/usr/bin/env bash
# Rust: formatting, lints, unit and integration tests of the workspace.
# The Python and Node extension crates link against their host runtime, so their
# behaviour is tested from Python and Node (suites 40 and 50), not by cargo test.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
. tests/counts.sh
mkdir -p target
cargo test --workspace --locked --exclude idpkit-python --exclude idpkit-node 2>&1 | tee target/cargo-test.log
require_cargo_targets target/cargo-test.log
