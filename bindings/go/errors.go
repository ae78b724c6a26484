package idpkit

/*
#include <idpkit.h>
*/
import "C"

import (
	"errors"
	"fmt"
)

// Kind classifies a failure. The values are the C ABI's idpkit_result codes, which are the
// core's ErrorKind numbers (1 to 12) plus the C ABI's own NullArgument and Panic.
type Kind uint32

const (
	KindInvalidInput  Kind = C.IDPKIT_RESULT_INVALID_INPUT
	KindNotFound      Kind = C.IDPKIT_RESULT_NOT_FOUND
	KindAuth          Kind = C.IDPKIT_RESULT_AUTH
	KindUntrusted     Kind = C.IDPKIT_RESULT_UNTRUSTED
	KindIntegrity     Kind = C.IDPKIT_RESULT_INTEGRITY
	KindUnsafeArchive Kind = C.IDPKIT_RESULT_UNSAFE_ARCHIVE
	KindPolicy        Kind = C.IDPKIT_RESULT_POLICY
	KindNetwork       Kind = C.IDPKIT_RESULT_NETWORK
	KindConflict      Kind = C.IDPKIT_RESULT_CONFLICT
	KindCancelled     Kind = C.IDPKIT_RESULT_CANCELLED
	KindIO            Kind = C.IDPKIT_RESULT_IO
	KindInternal      Kind = C.IDPKIT_RESULT_INTERNAL
	KindNullArgument  Kind = C.IDPKIT_RESULT_NULL_ARGUMENT
	KindPanic         Kind = C.IDPKIT_RESULT_PANIC
)

// String returns the stable upper-case code ("NOT_FOUND", ...), the same in every binding.
func (k Kind) String() string {
	return C.GoString(C.idpkit_result_name(C.uint32_t(k)))
}

// Sentinels, one per Kind, for errors.Is:
//
//	if errors.Is(err, idpkit.ErrNotFound) { ... }
var (
	ErrInvalidInput  = errors.New("idpkit: invalid input")
	ErrNotFound      = errors.New("idpkit: not found")
	ErrAuth          = errors.New("idpkit: authentication failed")
	ErrUntrusted     = errors.New("idpkit: untrusted TLS peer")
	ErrIntegrity     = errors.New("idpkit: integrity check failed")
	ErrUnsafeArchive = errors.New("idpkit: unsafe archive")
	ErrPolicy        = errors.New("idpkit: forbidden by policy")
	ErrNetwork       = errors.New("idpkit: network failure")
	ErrConflict      = errors.New("idpkit: conflict")
	ErrCancelled     = errors.New("idpkit: cancelled")
	ErrIO            = errors.New("idpkit: local I/O failure")
	ErrInternal      = errors.New("idpkit: internal error")
	ErrNullArgument  = errors.New("idpkit: NULL argument")
	ErrPanic         = errors.New("idpkit: panic in the library")
)

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("idpkit: store is closed")

var sentinels = map[Kind]error{
	KindInvalidInput:  ErrInvalidInput,
	KindNotFound:      ErrNotFound,
	KindAuth:          ErrAuth,
	KindUntrusted:     ErrUntrusted,
	KindIntegrity:     ErrIntegrity,
	KindUnsafeArchive: ErrUnsafeArchive,
	KindPolicy:        ErrPolicy,
	KindNetwork:       ErrNetwork,
	KindConflict:      ErrConflict,
	KindCancelled:     ErrCancelled,
	KindIO:            ErrIO,
	KindInternal:      ErrInternal,
	KindNullArgument:  ErrNullArgument,
	KindPanic:         ErrPanic,
}

// Error is what every idpkit call returns on failure: a Kind and a message that says what
// failed, where and what to do. errors.Is matches it against the Kind's sentinel; a
// cancellation caused by a context also matches ctx.Err() (context.Canceled or
// context.DeadlineExceeded).
type Error struct {
	Kind    Kind
	Message string
	cause   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("idpkit: %s: %s", e.Kind, e.Message)
}

// Is reports whether target is the sentinel of e's Kind.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Kind]
	return ok && s == target
}

// Unwrap returns the context error behind a cancellation, if any.
func (e *Error) Unwrap() error { return e.cause }

// takeError turns a failed call's result and error into an *Error and frees the C error.
func takeError(r C.idpkit_result, cerr *C.idpkit_error) error {
	if cerr == nil {
		return &Error{Kind: Kind(r), Message: "no details"}
	}
	defer C.idpkit_error_free(cerr)
	return &Error{
		Kind:    Kind(C.idpkit_error_result(cerr)),
		Message: C.GoString(C.idpkit_error_message(cerr)),
	}
}
