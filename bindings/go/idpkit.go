// Package idpkit is the Go binding of idpkit, over its C ABI (include/idpkit.h) with cgo.
//
// A Store is a local OCI image-layout store: build an image from a directory with no daemon
// and no Dockerfile, then list, tag, inspect, remove, export, import and collect garbage.
//
//	store, err := idpkit.OpenStore("/var/lib/idpkit/store")
//	if err != nil { ... }
//	defer store.Close()
//	res, err := store.Build(ctx, idpkit.BuildOptions{Context: "./app", Tags: []string{"app:dev"}})
//
// Every operation of the contract (contract/idpkit.json) is a method of Store (the ones that
// work on a store: Build, Images, Push, ...) or a function (ListTags, Copy, TrustCheck, ...)
// generated from it, with its options and result types (contract_gen.go). They all go
// through the C ABI's one entry, idpkit_call. Every call blocks until done, is safe to make
// from many goroutines at once (writers are serialized by file locks inside the library,
// also across processes), and honours its context: cancelling it stops the call at the
// library's next check point. Credentials and an event callback go in the call's trailing
// arguments (Credentials, OnEvent), never in the options.
//
// Errors are *Error values carrying a Kind; test them with errors.Is against the sentinels
// (ErrNotFound, ErrInvalidInput, ErrCancelled, ...).
package idpkit

/*
#include <stdlib.h>
// <idpkit.h>, not "idpkit.h": cgo compiles its probes from a file in $TMPDIR, and a quoted
// include would pick up any stray idpkit.h there before the one on the -I path.
#include <idpkit.h>
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

//go:generate go run ./internal/gen

// Version is the version of the linked idpkit library ("MAJOR.MINOR.PATCH").
func Version() string {
	return C.GoString(C.idpkit_version())
}

// HeaderVersion is the version of the idpkit.h this package was compiled against; it equals
// Version() unless the header and the library come from different builds.
const HeaderVersion = C.IDPKIT_VERSION

// Store is a handle on a local OCI image-layout store. Close it when done; a cleanup frees
// a forgotten one when it becomes unreachable.
type Store struct {
	mu      sync.RWMutex // held shared by every call, exclusively by Close
	ptr     *C.idpkit_store
	cleanup runtime.Cleanup
}

// OpenStore opens the store at path, creating an empty OCI image layout when the directory
// is missing or empty. A non-empty directory that is not an OCI layout is refused
// (ErrInvalidInput).
func OpenStore(path string) (*Store, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ptr *C.idpkit_store
	var cerr *C.idpkit_error
	if r := C.idpkit_store_new(cpath, &ptr, &cerr); r != C.IDPKIT_RESULT_OK {
		return nil, takeError(r, cerr)
	}
	return newStore(ptr), nil
}

// OpenDefaultStore opens the default store: $IDPKIT_STORE, else $XDG_DATA_HOME/idpkit/store,
// else ~/.local/share/idpkit/store.
func OpenDefaultStore() (*Store, error) {
	var ptr *C.idpkit_store
	var cerr *C.idpkit_error
	if r := C.idpkit_store_new_default(&ptr, &cerr); r != C.IDPKIT_RESULT_OK {
		return nil, takeError(r, cerr)
	}
	return newStore(ptr), nil
}

func newStore(ptr *C.idpkit_store) *Store {
	s := &Store{ptr: ptr}
	s.cleanup = runtime.AddCleanup(s, func(p *C.idpkit_store) { C.idpkit_store_free(p) }, ptr)
	return s
}

// Close frees the handle (the store on disk stays). It waits for running calls, is
// idempotent, and every later call returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return nil
	}
	s.cleanup.Stop()
	C.idpkit_store_free(s.ptr)
	s.ptr = nil
	return nil
}

// call runs fn with the live handle, holding the shared lock so Close waits for it.
func (s *Store) call(fn func(p *C.idpkit_store) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return ErrClosed
	}
	err := fn(s.ptr)
	runtime.KeepAlive(s)
	return err
}

// Root returns the store's directory.
func (s *Store) Root() (string, error) {
	var root string
	err := s.call(func(p *C.idpkit_store) error {
		var cout *C.char
		var cerr *C.idpkit_error
		if r := C.idpkit_store_root(p, &cout, &cerr); r != C.IDPKIT_RESULT_OK {
			return takeError(r, cerr)
		}
		root = C.GoString(cout)
		C.idpkit_string_free(cout)
		return nil
	})
	return root, err
}
