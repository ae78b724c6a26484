package idpkit

import (
	"context"
	"encoding/json"
)

// WatchFlux keeps a Flux source's entry in the source cache current: SourceWatchFlux with
// onRevision called for each revision it puts in the cache (the first included), the
// source_fetched events decoded. onRevision runs on a thread of the library, one revision at
// a time, while the watch waits for it; keep it quick, and do not call idpkit from it (hand
// the path to another goroutine). The watch runs until ctx is done; that is how a watch ends,
// so it then returns what it did (how many revisions, the last) and a nil error. Other events
// (a warning for a revision that could not be fetched) go to an OnEvent in call, which also
// sees the source_fetched ones.
func WatchFlux(ctx context.Context, opts FetchFluxOptions, onRevision func(SourceFetched), call ...CallOption) (*SourceWatched, error) {
	hook := revisions{fn: onRevision}
	return SourceWatchFlux(ctx, opts, append(call[:len(call):len(call)], hook)...)
}

// WatchArgo keeps an Argo CD Application's git sources current in the source cache:
// SourceWatchArgo with onRevision called for each source it puts in the cache, first all of
// them, then again whenever the Application's sources or synced revisions change. As
// WatchFlux: onRevision runs on a library thread, and ctx ending is the watch's normal end.
func WatchArgo(ctx context.Context, opts FetchArgoOptions, onRevision func(SourceFetched), call ...CallOption) (*SourceWatched, error) {
	hook := revisions{fn: onRevision}
	return SourceWatchArgo(ctx, opts, append(call[:len(call):len(call)], hook)...)
}

// revisions is a CallOption applied after the caller's: it wraps their OnEvent.
type revisions struct{ fn func(SourceFetched) }

func (r revisions) applyTo(c *callConfig) {
	next := c.onEvent
	c.onEvent = func(e Event) {
		if e.Type == EventSourceFetched && r.fn != nil {
			var f SourceFetched
			if json.Unmarshal(e.Raw, &f) == nil {
				r.fn(f)
			}
		}
		if next != nil {
			next(e)
		}
	}
}
