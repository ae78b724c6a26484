//go:build !idpkit_pkgconfig

package idpkit

// Inside the idpkit checkout: the header from include/ and the static library that
// scripts/setup.d/20-ffi.sh builds (cargo build --release -p idpkit-ffi). Build with
// -tags idpkit_pkgconfig to use an installed library through pkg-config instead.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libidpkit_ffi.a -lm -ldl -lpthread
*/
import "C"
