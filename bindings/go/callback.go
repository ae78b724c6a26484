package idpkit

/*
#include <idpkit.h>
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// eventSink is what a call's cgo.Handle points at.
type eventSink struct {
	fn func(Event)

	mu       sync.Mutex
	panicked bool
	panicVal any
}

func (s *eventSink) deliver(raw []byte) {
	// Held for the whole delivery: the library never calls concurrently anyway, and taking it
	// again in the call orders everything fn did before it returns (also for -race).
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panicked {
		return
	}
	defer func() {
		// A Go panic must not unwind through the C frames below: keep it for the call.
		if v := recover(); v != nil {
			s.panicked, s.panicVal = true, v
		}
	}()
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		ev = Event{Type: "unknown"}
	}
	ev.Raw = raw
	s.fn(ev)
}

// finish waits for the last delivery and re-raises a panic of fn.
func (s *eventSink) finish() {
	s.mu.Lock()
	panicked, v := s.panicked, s.panicVal
	s.mu.Unlock()
	if panicked {
		panic(v)
	}
}

// idpkitGoEvent is the idpkit_event_callback behind every Go call (through
// idpkit_go_event_trampoline in trampoline.c). userData points at the call's cgo.Handle.
//
//export idpkitGoEvent
func idpkitGoEvent(userData unsafe.Pointer, eventJSON *C.char) {
	h := *(*cgo.Handle)(userData)
	sink, ok := h.Value().(*eventSink)
	if !ok {
		return
	}
	sink.deliver([]byte(C.GoString(eventJSON)))
}
