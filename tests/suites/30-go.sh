#!/usr/bin/env bash
# Go: the module in bindings/go over the C ABI (cgo, static library): the generated mirror of
# contract/idpkit.json is up to date, go vet, go test, and
# go test -race (which includes the many-goroutines-into-one-store test). The registry tests
# and the push example need the rig's registries (registry-plain, registry-tls): without them
# this suite fails, naming the peer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

echo "-- rig peers: registry-plain, registry-tls, nginx, kube-apiserver, gitea"
# shellcheck source=../rig/lib.sh
. tests/rig/lib.sh
rig_require registry-plain registry-tls nginx kube-apiserver gitea

if ! command -v go >/dev/null; then
  echo "30-go: go is missing (scripts/setup-system.sh installs it)" >&2
  exit 1
fi
cargo build --release -p idpkit-ffi --locked --quiet

# go does not notice when a library named in #cgo LDFLAGS changes; a flag carrying the
# library's hash makes it rebuild (and relink) the package whenever the library changes.
lib_hash=$(sha256sum target/release/libidpkit_ffi.a | cut -c1-16)
export CGO_CFLAGS="-O2 -g -DIDPKIT_LIB_HASH_${lib_hash}"

cd bindings/go
echo "-- contract_gen.go is what internal/gen makes of contract/idpkit.json"
generated=$(mktemp)
go run ./internal/gen -out "$generated"
if ! diff -u contract_gen.go "$generated"; then
  rm -f "$generated"
  echo "30-go: bindings/go/contract_gen.go is stale; run go generate in bindings/go and commit it" >&2
  exit 1
fi
rm -f "$generated"
echo "-- go vet"
go vet ./...
echo "-- gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt: not formatted: $unformatted" >&2
  exit 1
fi
echo "-- the example program, linked through pkg-config to the shared library"
"$repo/ffi/pkgconfig.sh" "$repo/target/release" "$repo/include" "$repo/target/release/pkgconfig/idpkit.pc"
PKG_CONFIG_PATH="$repo/target/release/pkgconfig" go build -tags idpkit_pkgconfig \
  -o "$repo/target/go-example-build" ./examples/build
example_store=$(mktemp -d)
LD_LIBRARY_PATH="$repo/target/release" "$repo/target/go-example-build" \
  -store "$example_store/store" -tag example:go "$repo/tests/c/fixture"
echo "-- the push example: build and push to the rig's registry-plain and registry-tls"
PKG_CONFIG_PATH="$repo/target/release/pkgconfig" go build -tags idpkit_pkgconfig \
  -o "$repo/target/go-example-push" ./examples/push
example_repo="gotest/example-$$-$(date +%s)"
LD_LIBRARY_PATH="$repo/target/release" "$repo/target/go-example-push" \
  -store "$example_store/store" "$IDPKIT_RIG_REGISTRY_PLAIN/$example_repo:1" "$repo/tests/c/fixture"
IDPKIT_PUSH_PASSWORD=$IDPKIT_RIG_REGISTRY_PASSWORD LD_LIBRARY_PATH="$repo/target/release" \
  "$repo/target/go-example-push" -store "$example_store/store" -ca-file "$IDPKIT_RIG_CA" \
  -user "$IDPKIT_RIG_REGISTRY_USER" "$IDPKIT_RIG_REGISTRY_TLS/$example_repo:1" "$repo/tests/c/fixture"
rm -rf "$example_store"
echo "-- go test -race"
go test -count=1 -race ./...
echo "-- go test"
go test -count=1 -v ./... 2>&1 | tee "$repo/target/go-test.log" | grep -E '^(--- |=== RUN|ok|FAIL|PASS)' | grep -v '=== RUN' || true
passed=$(grep -c -- '^--- PASS' "$repo/target/go-test.log" || true)
failed=$(grep -c -- '^--- FAIL' "$repo/target/go-test.log" || true)
echo "go: $passed passed, $failed failed"
grep -q '^FAIL' "$repo/target/go-test.log" && exit 1
[ "$failed" -eq 0 ]
. "$repo/tests/counts.sh"
require_tests go "$passed"
# shellcheck disable=SC2046
require_go_tests "$repo/target/go-test.log" $(find . -name '*_test.go' | LC_ALL=C sort)
