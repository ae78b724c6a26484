#!/usr/bin/env bash
# What `make example` needs and nothing more: Rust, then the release CLI (no Debian packages,
# no test peers, no bindings). Prints one line per step; a missing prerequisite is one line
# saying how to install it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust (https://rustup.rs: curl https://sh.rustup.rs -sSf | sh) and re-run" >&2
  exit 1
fi
if ! command -v cc >/dev/null; then
  echo "setup: a C compiler is missing (the gzip and zstd libraries are C); on Debian: apt-get install build-essential" >&2
  exit 1
fi
# .cargo/config.toml links Debian's OpenSSL (libssl-dev) for git over SSH; without its headers,
# build OpenSSL from source instead (slower, nothing to install).
if [ ! -e /usr/include/openssl/ssl.h ]; then
  echo "setup: no OpenSSL headers (Debian: apt-get install libssl-dev); building OpenSSL from source instead"
  export OPENSSL_NO_VENDOR=0
fi
echo "setup: building the idpkit CLI (release; the first time takes a few minutes)"
cargo build --release --locked -p idpkit-cli --quiet
echo "setup: CLI ready at target/release/idpkit"
