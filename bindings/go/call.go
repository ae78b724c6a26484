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

// Ptr returns a pointer to v: for the options fields that tell "unset" (nil, the core's
// default) from an explicit value, e.g. Jobs: idpkit.Ptr[uint](2), BreakerThreshold:
// idpkit.Ptr[uint32](0) (the circuit breaker off).
func Ptr[T any](v T) *T { return &v }

// CallOption is what a call takes besides its options: Credentials and OnEvent.
type CallOption interface{ applyTo(*callConfig) }

type callConfig struct {
	credentials *Credentials
	onEvent     func(Event)
}

// OnEvent receives the call's progress and audit events (build_started, blob_done,
// manifest_pushed, retry_scheduled, ...). It runs on a thread of the library, one event at
// a time, and only while the call runs; keep it quick. A panic in it is re-raised by the
// call once the call has stopped.
type OnEvent func(Event)

func (f OnEvent) applyTo(c *callConfig) { c.onEvent = f }

// Secret is a password or token. It prints and marshals as "<redacted>", so logging a
// struct that holds one (fmt's %v, %+v, %#v, encoding/json) never shows it.
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

// MarshalJSON writes "<redacted>": a Secret never reaches a JSON document.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Credentials are the secrets of a call, passed to the library in its credentials handle and
// never in the options JSON: a username and password (a Gitea token works as the password)
// or a registry bearer token for the registry the call talks to, and the same for the
// source registry of Copy. Without them the library looks credentials up (IDPKIT_REGISTRY_*,
// Docker's config, ...). Login takes its username and password from here. Credentials is a
// CallOption: pass it after the options. It prints with its secrets redacted.
type Credentials struct {
	Username       string
	Password       Secret
	Token          Secret
	SourceUsername string
	SourcePassword Secret
	SourceToken    Secret
}

func (c Credentials) applyTo(cfg *callConfig) { cfg.credentials = &c }

// String shows the usernames and which secrets are set, never the secrets.
func (c Credentials) String() string {
	set := func(s Secret) string {
		if s == "" {
			return `""`
		}
		return redacted
	}
	return fmt.Sprintf("Credentials{Username: %q, Password: %s, Token: %s, SourceUsername: %q, SourcePassword: %s, SourceToken: %s}",
		c.Username, set(c.Password), set(c.Token), c.SourceUsername, set(c.SourcePassword), set(c.SourceToken))
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return "idpkit." + c.String() }

// MarshalJSON refuses: credentials never go into a JSON document.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// cstrings holds C copies of secrets and wipes them on free.
type cstrings []*C.char

func (cs *cstrings) add(s string) *C.char {
	c := C.CString(s)
	*cs = append(*cs, c)
	return c
}

func (cs cstrings) free() {
	for _, c := range cs {
		C.memset(unsafe.Pointer(c), 0, C.strlen(c))
		C.free(unsafe.Pointer(c))
	}
}

// setCredential fills one slot of the handle (source: Copy's source registry).
func setCredential(h *C.idpkit_credentials, cs *cstrings, username string, password, token Secret, source bool, what string) error {
	var r C.idpkit_result
	var cerr *C.idpkit_error
	switch {
	case username == "" && password == "" && token == "":
		return nil
	case token != "" && username == "" && password == "":
		if source {
			r = C.idpkit_credentials_set_source_token(h, cs.add(string(token)), &cerr)
		} else {
			r = C.idpkit_credentials_set_token(h, cs.add(string(token)), &cerr)
		}
	case token == "" && username != "" && password != "":
		u, p := cs.add(username), cs.add(string(password))
		if source {
			r = C.idpkit_credentials_set_source_basic(h, u, p, &cerr)
		} else {
			r = C.idpkit_credentials_set_basic(h, u, p, &cerr)
		}
	case token == "" && username != "":
		return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("credentials: %sPassword is missing (a %sUsername needs its password; a Gitea token works as the password)", what, what)}
	case token == "" && password != "":
		return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("credentials: %sUsername is missing (a %sPassword needs its username)", what, what)}
	default:
		return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("credentials: give %sUsername and %sPassword, or a %sToken, not both", what, what, what)}
	}
	if r != C.IDPKIT_RESULT_OK {
		return takeError(r, cerr)
	}
	return nil
}

// handle makes the library's credentials handle (nil for none) and its free function.
func (c *Credentials) handle() (*C.idpkit_credentials, func(), error) {
	if c == nil || *c == (Credentials{}) {
		return nil, func() {}, nil
	}
	h := C.idpkit_credentials_new()
	var cs cstrings
	free := func() {
		C.idpkit_credentials_free(h) // overwrites its copies
		cs.free()
	}
	err := setCredential(h, &cs, c.Username, c.Password, c.Token, false, "")
	if err == nil {
		err = setCredential(h, &cs, c.SourceUsername, c.SourcePassword, c.SourceToken, true, "Source")
	}
	if err != nil {
		free()
		return nil, nil, err
	}
	return h, free, nil
}

// invoke runs the operation op through idpkit_call: opts as JSON (nil: the defaults), the
// call's credentials and events, an idpkit_cancel raised when ctx is done, the store's handle
// when s is not nil; the result JSON is decoded into out.
func (s *Store) invoke(ctx context.Context, op string, opts, out any, call []CallOption) error {
	return invoke(ctx, s, op, opts, out, call)
}

func invoke(ctx context.Context, s *Store, op string, opts, out any, call []CallOption) error {
	if err := started(ctx); err != nil {
		return err
	}
	var cfg callConfig
	for _, o := range call {
		if o != nil {
			o.applyTo(&cfg)
		}
	}
	var copts *C.char
	if opts != nil {
		doc, err := json.Marshal(opts)
		if err != nil {
			return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("options: %v", err)}
		}
		copts = C.CString(string(doc))
		defer C.free(unsafe.Pointer(copts))
	}
	cop := C.CString(op)
	defer C.free(unsafe.Pointer(cop))
	creds, freeCreds, err := cfg.credentials.handle()
	if err != nil {
		return err
	}
	defer freeCreds()

	var callback C.idpkit_event_callback
	var userData unsafe.Pointer
	var sink *eventSink
	var handle *cgo.Handle // on its own: C may only get a pointer to memory without Go pointers
	if cfg.onEvent != nil {
		sink = &eventSink{fn: cfg.onEvent}
		h := cgo.NewHandle(sink)
		handle = &h
		callback = C.idpkit_event_callback(C.idpkit_go_event_trampoline)
		userData = unsafe.Pointer(handle)
	}
	var cout *C.char
	var cerr *C.idpkit_error
	run := func(p *C.idpkit_store) error {
		r := cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_call(cop, p, copts, creds, callback, userData, cancel, &cout, &cerr)
		})
		if r != C.IDPKIT_RESULT_OK {
			return takeError(r, cerr)
		}
		return nil
	}
	if s != nil {
		err = s.call(run)
	} else {
		err = run(nil)
	}
	if sink != nil {
		runtime.KeepAlive(handle)
		handle.Delete()
		sink.finish()
	}
	if err != nil {
		return withCause(ctx, err)
	}
	defer C.idpkit_string_free(cout)
	if err := json.Unmarshal([]byte(C.GoString(cout)), out); err != nil {
		return &Error{Kind: KindInternal, Message: fmt.Sprintf("decoding the library's answer: %v", err)}
	}
	return nil
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

// started fails with ErrCancelled when ctx is already done.
func started(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindCancelled, Message: "operation cancelled: " + err.Error(), cause: err}
	}
	return nil
}

// withCause makes a cancellation caused by ctx also match ctx.Err().
func withCause(ctx context.Context, err error) error {
	if e, ok := err.(*Error); ok && e.Kind == KindCancelled && ctx != nil && ctx.Err() != nil {
		e.cause = ctx.Err()
	}
	return err
}
