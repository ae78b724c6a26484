#!/usr/bin/env bash
# Rust: formatting, lints, unit and integration tests of the workspace.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
