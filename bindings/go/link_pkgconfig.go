//go:build idpkit_pkgconfig

package idpkit

// An installed libidpkit (the flake's packages.libidpkit, or any prefix with
// lib/pkgconfig/idpkit.pc on PKG_CONFIG_PATH).

/*
#cgo pkg-config: idpkit
*/
import "C"
