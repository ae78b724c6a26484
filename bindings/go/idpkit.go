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
// Every method blocks until done and is safe to call from many goroutines at once; writers
// are serialized by file locks inside the library (also across processes). Build honours
// its context: cancelling it stops the build at the library's next check point.
//
// Errors are *Error values carrying a Kind; test them with errors.Is against the sentinels
// (ErrNotFound, ErrInvalidInput, ErrCancelled, ...).
package idpkit

/*
#include <stdlib.h>
// <idpkit.h>, not "idpkit.h": cgo compiles its probes from a file in $TMPDIR, and a quoted
// include would pick up any stray idpkit.h there before the one on the -I path.
#include <idpkit.h>

void idpkit_go_event_trampoline(void *user_data, const char *event_json);
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

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

// jsonCall runs a C function that returns a JSON document and decodes it into out.
func (s *Store) jsonCall(out any, fn func(p *C.idpkit_store, out **C.char, err **C.idpkit_error) C.idpkit_result) error {
	return s.call(func(p *C.idpkit_store) error {
		var cout *C.char
		var cerr *C.idpkit_error
		if r := fn(p, &cout, &cerr); r != C.IDPKIT_RESULT_OK {
			return takeError(r, cerr)
		}
		defer C.idpkit_string_free(cout)
		if err := json.Unmarshal([]byte(C.GoString(cout)), out); err != nil {
			return &Error{Kind: KindInternal, Message: fmt.Sprintf("decoding the library's answer: %v", err)}
		}
		return nil
	})
}

// cstr returns a C copy of s and its free function; optional strings ("" = absent) map to
// NULL when opt is set.
func cstr(s string, opt bool) (*C.char, func()) {
	if opt && s == "" {
		return nil, func() {}
	}
	c := C.CString(s)
	return c, func() { C.free(unsafe.Pointer(c)) }
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

// Build builds an image from opts.Context into the store and tags it with opts.Tags. It
// blocks until done; cancelling ctx stops it (the error then matches both ErrCancelled and
// ctx.Err()), and the store is left as it was on any failure.
func (s *Store) Build(ctx context.Context, opts BuildOptions) (*BuildResult, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindCancelled, Message: "operation cancelled: " + err.Error(), cause: err}
	}
	doc, err := json.Marshal(opts)
	if err != nil {
		return nil, &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("options: %v", err)}
	}
	copts, free := cstr(string(doc), false)
	defer free()

	var sink *eventSink
	var handle cgo.Handle
	var callback C.idpkit_event_callback
	var userData unsafe.Pointer
	if opts.OnEvent != nil {
		sink = &eventSink{fn: opts.OnEvent}
		handle = cgo.NewHandle(sink)
		defer handle.Delete()
		callback = C.idpkit_event_callback(C.idpkit_go_event_trampoline)
		// C reads the handle through this pointer only while idpkit_store_build runs.
		userData = unsafe.Pointer(&handle)
	}

	var result BuildResult
	err = s.jsonCall(&result, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		cancel := C.idpkit_cancel_new()
		defer C.idpkit_cancel_free(cancel)
		// A watcher turns ctx.Done() into idpkit_cancel_cancel; it has exited before the
		// handle is freed.
		stop, watcherDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(watcherDone)
			select {
			case <-ctx.Done():
				C.idpkit_cancel_cancel(cancel)
			case <-stop:
			}
		}()
		r := C.idpkit_store_build(p, copts, callback, userData, cancel, out, cerr)
		close(stop)
		<-watcherDone
		return r
	})
	runtime.KeepAlive(&handle)
	if sink != nil {
		sink.finish()
	}
	if err != nil {
		if e, ok := err.(*Error); ok && e.Kind == KindCancelled && ctx.Err() != nil {
			e.cause = ctx.Err()
		}
		return nil, err
	}
	return &result, nil
}

// Images lists the images in the store.
func (s *Store) Images() ([]ImageSummary, error) {
	var images []ImageSummary
	err := s.jsonCall(&images, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_images(p, out, cerr)
	})
	return images, err
}

// Tag points the tag target at the image source (a tag or name@sha256:...).
func (s *Store) Tag(source, target string) (*ImageSummary, error) {
	csrc, free1 := cstr(source, false)
	defer free1()
	cdst, free2 := cstr(target, false)
	defer free2()
	var summary ImageSummary
	err := s.jsonCall(&summary, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_tag(p, csrc, cdst, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &summary, nil
}

// Remove removes a tag, or every entry of a digest, and returns the removed references. GC
// frees the space.
func (s *Store) Remove(reference string) ([]string, error) {
	cref, free := cstr(reference, false)
	defer free()
	var removed []string
	err := s.jsonCall(&removed, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_remove(p, cref, out, cerr)
	})
	return removed, err
}

// Inspect returns an image's manifest and config.
func (s *Store) Inspect(reference string) (*ImageInspect, error) {
	cref, free := cstr(reference, false)
	defer free()
	var inspect ImageInspect
	err := s.jsonCall(&inspect, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_inspect(p, cref, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &inspect, nil
}

// GC deletes the blobs no image refers to any more.
func (s *Store) GC() (*GCReport, error) {
	var report GCReport
	err := s.jsonCall(&report, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_gc(p, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &report, nil
}

// Import copies images from the OCI image layout at layout (umoci, skopeo oci:) into the
// store and returns what it stored.
func (s *Store) Import(layout string, opts ImportOptions) ([]ImageSummary, error) {
	clayout, free1 := cstr(layout, false)
	defer free1()
	ctag, free2 := cstr(opts.Tag, true)
	defer free2()
	cname, free3 := cstr(opts.Name, true)
	defer free3()
	var images []ImageSummary
	err := s.jsonCall(&images, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_import(p, clayout, ctag, cname, out, cerr)
	})
	return images, err
}

// Export copies the image reference into the OCI image layout at layout (created when
// missing).
func (s *Store) Export(reference, layout string, opts ExportOptions) (*ImageSummary, error) {
	cref, free1 := cstr(reference, false)
	defer free1()
	clayout, free2 := cstr(layout, false)
	defer free2()
	ctag, free3 := cstr(opts.Tag, true)
	defer free3()
	var summary ImageSummary
	err := s.jsonCall(&summary, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_store_export(p, cref, clayout, ctag, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &summary, nil
}
