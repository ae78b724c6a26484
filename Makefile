# The two commands a newcomer runs (README): `make example` and `make test`.
# Everything they need is installed by scripts/setup.sh, idempotently.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup example test test-rust lint header clean-store

setup:
	@scripts/setup.sh

## Build the CLI (only what it needs), then an image from examples/hello into the local store.
example:
	@scripts/setup-cli.sh
	@scripts/run-example.sh

## Set up, start the rig of real peers, run every suite, stop the rig.
test: setup
	@scripts/test-all.sh

test-rust:
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
