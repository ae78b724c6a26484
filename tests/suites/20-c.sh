#!/usr/bin/env bash
# C: the C ABI's header is what cbindgen makes of ffi/src today, the flake parses, and the C
# test program (tests/c) passes against the static library under valgrind (no leak, no
# error) and against the shared library. The test program pushes to, pulls from, copies
# between and deletes on the rig's registries, logs in, and checks trust against its nginx and
# kube-apiserver: without those peers this suite fails, naming the peer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

echo "-- rig peers: registry-plain, registry-tls, nginx, kube-apiserver, gitea"
# shellcheck source=../rig/lib.sh
. tests/rig/lib.sh
rig_require registry-plain registry-tls nginx kube-apiserver gitea

echo "-- header is up to date (pinned cbindgen)"
ffi/generate-header.sh --check

echo "-- flake.nix parses"
nix-instantiate --parse flake.nix >/dev/null

echo "-- library and pkg-config file"
cargo build --release -p idpkit-ffi --locked --quiet
ffi/pkgconfig.sh "$repo/target/release" "$repo/include" target/release/pkgconfig/idpkit.pc
export PKG_CONFIG_PATH="$repo/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

out=target/c-test
mkdir -p "$out"
cflags="-std=gnu11 -O1 -g -Wall -Wextra -Werror $(pkg-config --cflags idpkit)"

echo "-- the header compiles as C11, C23 and C++"
printf '#include "idpkit.h"\nint main(void){return IDPKIT_RESULT_OK;}\n' > "$out/h.c"
gcc -std=c11 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags idpkit) -fsyntax-only "$out/h.c"
if gcc -std=c23 -E -x c /dev/null >/dev/null 2>&1; then
  gcc -std=c23 -Wall -Wextra -Werror $(pkg-config --cflags idpkit) -fsyntax-only "$out/h.c"
fi
if command -v g++ >/dev/null; then
  g++ -std=c++17 -Wall -Wextra -Werror $(pkg-config --cflags idpkit) -fsyntax-only -x c++ "$out/h.c"
fi

echo "-- build tests/c against the static library"
# shellcheck disable=SC2046,SC2086
gcc $cflags tests/c/test_idpkit.c tests/c/test_remote.c tests/c/test_source.c tests/c/test_watch.c tests/c/test_guard.c tests/c/test_secrets.c tests/c/test_sandbox.c tests/c/test_supervise.c -o "$out/test_idpkit_static" \
  "$(pkg-config --variable=staticlib idpkit)" $(pkg-config --libs-only-l --static idpkit | sed 's/-lidpkit_ffi//')

echo "-- build tests/c against the shared library"
# shellcheck disable=SC2046,SC2086
gcc $cflags tests/c/test_idpkit.c tests/c/test_remote.c tests/c/test_source.c tests/c/test_watch.c tests/c/test_guard.c tests/c/test_secrets.c tests/c/test_sandbox.c tests/c/test_supervise.c -o "$out/test_idpkit_shared" \
  $(pkg-config --libs idpkit) -Wl,-rpath,"$repo/target/release" -lpthread

echo "-- shared library"
"$out/test_idpkit_shared" "$repo/tests/c/fixture" > "$out/shared.log" || { cat "$out/shared.log"; exit 1; }
tail -1 "$out/shared.log"
. tests/counts.sh
require_tests c "$(tail -1 "$out/shared.log" | awk '/ passed, / {print $1}')"

echo "-- static library under valgrind"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,possible \
  --errors-for-leak-kinds=definite,possible --error-exitcode=1 \
  --suppressions=tests/c/valgrind.supp \
  "$out/test_idpkit_static" "$repo/tests/c/fixture" 2>&1 | tee "$out/valgrind.log"

echo "-- no password or token of the rig in anything the C tests printed"
for secret in "$IDPKIT_RIG_REGISTRY_PASSWORD" "$IDPKIT_RIG_GITEA_PASSWORD" "$IDPKIT_RIG_GITEA_TOKEN"; do
  if [ -n "$secret" ] && grep -qF -- "$secret" "$out/shared.log" "$out/valgrind.log"; then
    echo "a rig secret appears in the C test output" >&2
    exit 1
  fi
done
