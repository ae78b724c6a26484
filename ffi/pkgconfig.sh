#!/usr/bin/env bash
# Writes idpkit.pc for C users: ffi/pkgconfig.sh LIBDIR INCLUDEDIR OUT_FILE
#   pkg-config --cflags --libs idpkit            links the shared library (libidpkit_ffi.so)
#   static: cc ... $(pkg-config --variable=staticlib idpkit) $(pkg-config --libs-only-l --static idpkit)
# scripts/setup.d/20-ffi.sh writes one for the checkout (target/release/pkgconfig/idpkit.pc);
# the flake writes one for $out.
set -euo pipefail
libdir=$1 includedir=$2 out=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
mkdir -p "$(dirname "$out")"
cat > "$out" <<PC
libdir=$libdir
includedir=$includedir
staticlib=\${libdir}/libidpkit_ffi.a

Name: idpkit
Description: The C ABI of idpkit: OCI images without a daemon, registry push, trust, GitOps caching
URL: https://example.invalid/idpkit
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lidpkit_ffi
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PC
