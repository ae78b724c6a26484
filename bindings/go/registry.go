package idpkit

/*
#include <stdlib.h>
#include <string.h>
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
	"unsafe"
)

// Secret is a password or token. It prints and marshals as "<redacted>", so logging an
// options struct that holds one (fmt's %v, %+v, %#v, encoding/json) never shows it.
type Secret string

const redacted = "<redacted>"

// String returns "<redacted>" (or "" for an empty Secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns "<redacted>" for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format prints "<redacted>" for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, s.GoString())
		return
	}
	_, _ = fmt.Fprint(f, s.String())
}

// MarshalJSON writes "<redacted>": a Secret never reaches a JSON document.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// RegistryOptions mirrors the core's RegistryOptions JSON (snake_case fields, the same in
// every binding). A zero field takes the core's default.
type RegistryOptions struct {
	// CAFiles are extra CA certificates (PEM files) trusted for the registry.
	CAFiles []string `json:"ca_files,omitempty"`
	// InsecureHosts (host or host:port) are not verified and may be spoken to over plain
	// HTTP; every use emits an insecure_connection event. A loopback registry without TLS
	// needs no entry.
	InsecureHosts []string `json:"insecure_hosts,omitempty"`
	// CertsD are the certs.d roots to search: nil means the defaults, an empty non-nil
	// slice none.
	CertsD []string `json:"certs_d"`
	// NoPlatformRoots leaves out the platform's roots and SSL_CERT_* (tests, air gaps).
	NoPlatformRoots bool `json:"no_platform_roots,omitempty"`
	// Jobs is the number of parallel blob transfers.
	Jobs int `json:"jobs,omitempty"`
	// MonolithicMax: blobs up to this size go up in one request.
	MonolithicMax uint64 `json:"monolithic_max,omitempty"`
	// ChunkSize is the size of one PATCH of a chunked upload.
	ChunkSize uint64 `json:"chunk_size,omitempty"`
	// Attempts per request or blob, the first try included.
	Attempts           uint32 `json:"attempts,omitempty"`
	BackoffBaseMs      uint64 `json:"backoff_base_ms,omitempty"`
	BackoffMaxMs       uint64 `json:"backoff_max_ms,omitempty"`
	ConnectTimeoutSecs uint64 `json:"connect_timeout_secs,omitempty"`
	// ReadTimeoutSecs without any byte from the registry before a request counts as failed.
	ReadTimeoutSecs uint64 `json:"read_timeout_secs,omitempty"`
	// RetryBudgetSecs bounds the time one request or blob keeps being retried.
	RetryBudgetSecs uint64 `json:"retry_budget_secs,omitempty"`
	// BreakerThreshold is the number of failed tries in a row, across all requests of one
	// operation, after which it stops sending (the circuit breaker); 0 takes the default
	// (10), BreakerOff disables it.
	BreakerThreshold int64 `json:"breaker_threshold,omitempty"`
	// Platform (os/arch[/variant]) picked from an image index on pull; "" is this machine's.
	Platform string `json:"platform,omitempty"`
	// MountFrom lists repositories of the same registry to try a cross-repository mount from.
	MountFrom []string `json:"mount_from,omitempty"`
}

// BreakerOff as RegistryOptions.BreakerThreshold disables the circuit breaker.
const BreakerOff int64 = -1

// MarshalJSON writes the core's RegistryOptions document (BreakerOff becomes 0).
func (o RegistryOptions) MarshalJSON() ([]byte, error) {
	type plain RegistryOptions
	doc := struct {
		plain
		BreakerThreshold *int64 `json:"breaker_threshold,omitempty"`
	}{plain: plain(o)}
	switch {
	case o.BreakerThreshold < 0:
		off := int64(0)
		doc.BreakerThreshold = &off
	case o.BreakerThreshold > 0:
		doc.BreakerThreshold = &o.BreakerThreshold
	}
	return json.Marshal(doc)
}

// PushOptions shape Store.Push.
type PushOptions struct {
	// Destination is the remote reference; "" pushes to the source reference itself, which
	// must then name a registry (host[:port]/repo:tag).
	Destination string
	Registry    RegistryOptions
	// Username and Password (both or neither) are the registry credentials; without them
	// they are looked up (IDPKIT_REGISTRY_*, Docker's config, ...). They go to the library
	// as separate arguments, never in JSON, and never appear in an error or event.
	Username string
	Password Secret
	// OnEvent, when set, receives progress events (blob_*, manifest_pushed,
	// retry_scheduled, ...) as for BuildOptions.OnEvent.
	OnEvent func(Event)
}

// PullOptions shape Store.Pull; the fields are as for PushOptions.
type PullOptions struct {
	Registry RegistryOptions
	Username string
	Password Secret
	OnEvent  func(Event)
}

// PushResult is what Push did.
type PushResult struct {
	// Reference is the remote reference pushed to.
	Reference string `json:"reference"`
	// Digest is the digest of the pushed manifest (or index).
	Digest        string `json:"digest"`
	BlobsUploaded uint64 `json:"blobs_uploaded"`
	BlobsSkipped  uint64 `json:"blobs_skipped"`
	BlobsMounted  uint64 `json:"blobs_mounted"`
	BytesUploaded uint64 `json:"bytes_uploaded"`
	// Unchanged reports that the manifest was already there under the tag: nothing was sent.
	Unchanged bool `json:"unchanged"`
}

// PullResult is what Pull did.
type PullResult struct {
	// Reference is the store reference the image is tagged with.
	Reference string `json:"reference"`
	// Digest is the digest of the stored manifest.
	Digest string `json:"digest"`
	// IndexDigest is the digest of the remote image index the manifest was picked from; ""
	// when the reference named a manifest.
	IndexDigest  string `json:"index_digest"`
	BlobsFetched uint64 `json:"blobs_fetched"`
	BlobsPresent uint64 `json:"blobs_present"`
	BytesFetched uint64 `json:"bytes_fetched"`
}

// registryCall holds the C arguments every registry call shares and frees them.
type registryCall struct {
	options, username, password *C.char
	passwordLen                 int
	sink                        *eventSink
	// handle is allocated on its own: C may only get a pointer to memory without Go
	// pointers in it.
	handle *cgo.Handle
}

func newRegistryCall(ctx context.Context, opts RegistryOptions, username string, password Secret, onEvent func(Event)) (*registryCall, error) {
	if err := started(ctx); err != nil {
		return nil, err
	}
	doc, err := json.Marshal(opts)
	if err != nil {
		return nil, &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("registry options: %v", err)}
	}
	rc := &registryCall{options: C.CString(string(doc))}
	// "" is NULL: a username without a password (or the reverse) is refused by the library.
	if username != "" {
		rc.username = C.CString(username)
	}
	if password != "" {
		rc.password = C.CString(string(password))
		rc.passwordLen = len(password)
	}
	if onEvent != nil {
		rc.sink = &eventSink{fn: onEvent}
		h := cgo.NewHandle(rc.sink)
		rc.handle = &h
	}
	return rc, nil
}

// callback returns the C callback and its user data (a pointer to the call's cgo.Handle,
// which C reads only while the call runs).
func (rc *registryCall) callback() (C.idpkit_event_callback, unsafe.Pointer) {
	if rc.sink == nil {
		return nil, nil
	}
	return C.idpkit_event_callback(C.idpkit_go_event_trampoline), unsafe.Pointer(rc.handle)
}

// free releases the C copies (wiping the password's) and the handle, then re-raises a
// panic of OnEvent.
func (rc *registryCall) free() {
	C.free(unsafe.Pointer(rc.options))
	if rc.username != nil {
		C.free(unsafe.Pointer(rc.username))
	}
	if rc.password != nil {
		C.memset(unsafe.Pointer(rc.password), 0, C.size_t(rc.passwordLen))
		C.free(unsafe.Pointer(rc.password))
	}
	if rc.sink != nil {
		runtime.KeepAlive(rc.handle)
		rc.handle.Delete()
		rc.sink.finish()
	}
}

// cancellable runs call with an idpkit_cancel that a watcher goroutine raises when ctx is
// done; the watcher has exited before the handle is freed. A nil ctx, or one that is never
// done (context.Background()), needs no handle: the library takes NULL for "no cancel".
func cancellable(ctx context.Context, call func(cancel *C.idpkit_cancel) C.idpkit_result) C.idpkit_result {
	if ctx == nil || ctx.Done() == nil {
		return call(nil)
	}
	cancel := C.idpkit_cancel_new()
	defer C.idpkit_cancel_free(cancel)
	stop, watcherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			C.idpkit_cancel_cancel(cancel)
		case <-stop:
		}
	}()
	r := call(cancel)
	close(stop)
	<-watcherDone
	return r
}

// withCause makes a cancellation caused by ctx also match ctx.Err().
func withCause(ctx context.Context, err error) error {
	if e, ok := err.(*Error); ok && e.Kind == KindCancelled && ctx != nil && ctx.Err() != nil {
		e.cause = ctx.Err()
	}
	return err
}

// Push pushes the image source of the store to a registry (opts.Destination, or source
// itself). Blobs the registry has are skipped, the rest go up in parallel. Cancelling ctx
// stops it soon after (the error matches ErrCancelled and ctx.Err()); blobs already
// uploaded stay on the registry.
func (s *Store) Push(ctx context.Context, source string, opts PushOptions) (*PushResult, error) {
	rc, err := newRegistryCall(ctx, opts.Registry, opts.Username, opts.Password, opts.OnEvent)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	csrc, free1 := cstr(source, false)
	defer free1()
	cdst, free2 := cstr(opts.Destination, true)
	defer free2()
	callback, userData := rc.callback()
	var result PushResult
	err = s.jsonCall(&result, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_store_push(p, csrc, cdst, rc.options, rc.username, rc.password, callback, userData, cancel, out, cerr)
		})
	})
	if err != nil {
		return nil, withCause(ctx, err)
	}
	return &result, nil
}

// Pull pulls reference (host[:port]/repo:tag or ...@sha256:...) into the store, verifying
// every blob; an image index resolves to the manifest of opts.Registry.Platform. Cancelling
// ctx stops it soon after, and the store is left as it was.
func (s *Store) Pull(ctx context.Context, reference string, opts PullOptions) (*PullResult, error) {
	rc, err := newRegistryCall(ctx, opts.Registry, opts.Username, opts.Password, opts.OnEvent)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	cref, free := cstr(reference, false)
	defer free()
	callback, userData := rc.callback()
	var result PullResult // a JSON null index_digest leaves IndexDigest ""
	err = s.jsonCall(&result, func(p *C.idpkit_store, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_store_pull(p, cref, rc.options, rc.username, rc.password, callback, userData, cancel, out, cerr)
		})
	})
	if err != nil {
		return nil, withCause(ctx, err)
	}
	return &result, nil
}
