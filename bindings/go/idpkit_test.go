package idpkit_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// fixture writes a small build context and returns its directory.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"app/hello.txt": "hello from Go\n",
		"app/run.sh":    "#!/bin/sh\necho hi\n",
		"etc/hostname":  "go-test\n",
		".dockerignore": "*.log\n",
		"debug.log":     "not in the image\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openStore(t *testing.T) *idpkit.Store {
	t.Helper()
	s, err := idpkit.OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func build(t *testing.T, s *idpkit.Store, context string, tags ...string) *idpkit.BuildResult {
	t.Helper()
	res, err := s.Build(t.Context(), idpkit.BuildOptions{Context: context, Tags: tags})
	if err != nil {
		t.Fatalf("Build %v: %v", tags, err)
	}
	return res
}

func hasRef(images []idpkit.ImageSummary, suffix string) bool {
	for _, im := range images {
		if strings.HasSuffix(im.Reference, suffix) {
			return true
		}
	}
	return false
}

func TestVersion(t *testing.T) {
	if idpkit.Version() == "" || idpkit.Version() != idpkit.HeaderVersion {
		t.Fatalf("library %q, header %q", idpkit.Version(), idpkit.HeaderVersion)
	}
}

func TestOpenStoreAndRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := idpkit.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	root, err := s.Root()
	if err != nil || root != dir {
		t.Fatalf("Root() = %q, %v; want %q", root, err, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatalf("no oci-layout: %v", err)
	}
}

func TestOpenDefaultStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default")
	t.Setenv("IDPKIT_STORE", dir)
	s, err := idpkit.OpenDefaultStore()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if root, _ := s.Root(); root != dir {
		t.Fatalf("Root() = %q, want %q", root, dir)
	}
}

func TestOpenStoreRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := idpkit.OpenStore(f)
	if !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
}

func TestBuildWithEvents(t *testing.T) {
	s := openStore(t)
	var events []idpkit.Event
	level := int32(6)
	epoch := int64(1700000000)
	opts := idpkit.BuildOptions{
		Context:         fixture(t),
		Tags:            []string{"go-test:v1"},
		Cmd:             []string{"/app/run.sh"},
		Env:             map[string]string{"GREETING": "hello"},
		Labels:          map[string]string{"from": "go"},
		Compression:     idpkit.CompressionGzip,
		Level:           &level,
		SourceDateEpoch: &epoch,
	}
	res, err := s.Build(t.Context(), opts, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Digest, "sha256:") || res.Layer.DiffID == "" || res.Entries == 0 || res.Cached {
		t.Fatalf("unexpected result %+v", res)
	}
	types := map[idpkit.EventType]int{}
	for _, e := range events {
		types[e.Type]++
		if len(e.Raw) == 0 {
			t.Fatalf("event without raw JSON: %+v", e)
		}
	}
	if types[idpkit.EventBuildStarted] != 1 || types[idpkit.EventLayerDone] != 1 || types[idpkit.EventImageStored] != 1 {
		t.Fatalf("events %v", types)
	}
	// The same build again comes from the layer cache; NoCache re-reads.
	again, err := s.Build(t.Context(), opts)
	if err != nil || !again.Cached || again.Layer != res.Layer || again.Digest != res.Digest || again.Entries != res.Entries {
		t.Fatalf("unchanged rebuild: %+v, %v; want cached, the layer and image of %+v", again, err, res)
	}
	opts.NoCache = true
	fresh, err := s.Build(t.Context(), opts)
	if err != nil || fresh.Cached || fresh.Layer.Digest != res.Layer.Digest {
		t.Fatalf("NoCache rebuild: %+v, %v; want not cached, layer %s", fresh, err, res.Layer.Digest)
	}
	res2, err := s.Build(t.Context(), idpkit.BuildOptions{Context: fixture(t), Tags: []string{"go-test:v2"}, NoCache: true, Compression: idpkit.CompressionZstd})
	if err != nil || res2.Cached || !strings.Contains(res2.Layer.MediaType, "zstd") {
		t.Fatalf("NoCache zstd build: %+v, %v", res2, err)
	}
}

// layerEntries reads the names of the entries of the image's only layer from the store's
// blob: every gzip member of it, in order.
func layerEntries(t *testing.T, s *idpkit.Store, reference string) []string {
	t.Helper()
	in, err := s.Inspect(t.Context(), idpkit.ImageRef{Reference: reference})
	if err != nil {
		t.Fatalf("Inspect %s: %v", reference, err)
	}
	if len(in.Manifest.Layers) != 1 {
		t.Fatalf("manifest of %s: %d layers, want 1: %+v", reference, len(in.Manifest.Layers), in.Manifest)
	}
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	hex, ok := strings.CutPrefix(in.Manifest.Layers[0].Digest, "sha256:")
	if !ok {
		t.Fatalf("layer digest %q", in.Manifest.Layers[0].Digest)
	}
	f, err := os.Open(filepath.Join(root, "blobs", "sha256", hex))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f) // multistream: reads every member
	if err != nil {
		t.Fatalf("layer %s: %v", hex, err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer %s: %v", hex, err)
		}
		names = append(names, h.Name)
	}
	return names
}

func TestBuildExcludes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.txt":         "a\n",
		"keep/b.txt":    "b\n",
		"keep/c.log":    "kept: *.log matches at the top level only, as in Docker\n",
		"debug.log":     "left out by *.log\n",
		"logs/x.log":    "left out with its directory by logs\n",
		"secret.env":    "left out by .dockerignore\n",
		".dockerignore": "secret.env\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t)
	res, err := s.Build(t.Context(), idpkit.BuildOptions{
		Context:  dir,
		Tags:     []string{"go-excludes:v1"},
		Excludes: []string{"*.log", "logs"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := layerEntries(t, s, "go-excludes:v1")
	want := []string{".dockerignore", "a.txt", "keep/", "keep/b.txt", "keep/c.log"}
	if !slices.Equal(got, want) {
		t.Fatalf("layer entries %q, want exactly %q", got, want)
	}
	if res.Entries != uint64(len(want)) {
		t.Fatalf("BuildResult.Entries = %d, want %d", res.Entries, len(want))
	}
}

func TestImagesTagInspectRemoveGC(t *testing.T) {
	s := openStore(t)
	res := build(t, s, fixture(t), "go-test:v1")

	tagged, err := s.Tag(t.Context(), idpkit.TagOptions{Source: "go-test:v1", Target: "go-test:v2"})
	if err != nil || tagged.Digest != res.Digest {
		t.Fatalf("Tag: %+v, %v", tagged, err)
	}
	images, err := s.Images(t.Context())
	if err != nil || !hasRef(images, "go-test:v1") || !hasRef(images, "go-test:v2") {
		t.Fatalf("Images: %+v, %v", images, err)
	}
	// created is a time.Time: the build's time, SOURCE_DATE_EPOCH or else the epoch.
	for _, img := range images {
		if img.Created == nil || img.Created.After(time.Now()) || img.Created.Location() != time.UTC {
			t.Fatalf("Images: created %v, want a UTC time.Time not after now", img.Created)
		}
	}

	in, err := s.Inspect(t.Context(), idpkit.ImageRef{Reference: "go-test:v2"})
	if err != nil || in.Digest != res.Digest {
		t.Fatalf("Inspect: %+v, %v", in, err)
	}
	if layers := in.Manifest.Layers; len(layers) != 1 || layers[0].Digest != res.Layer.Digest || layers[0].MediaType != res.Layer.MediaType {
		t.Fatalf("Inspect: manifest layers %+v, want the one layer built, %+v", layers, res.Layer)
	}
	if in.Manifest.Config.Digest != res.ConfigDigest || in.Config == nil || !slices.Equal(in.Config.Rootfs.DiffIDs, []string{res.Layer.DiffID}) {
		t.Fatalf("Inspect: config descriptor %+v and config %+v, want config %s with the layer's diff id %s", in.Manifest.Config, in.Config, res.ConfigDigest, res.Layer.DiffID)
	}

	removed, err := s.Remove(t.Context(), idpkit.ImageRef{Reference: "go-test:v1"})
	if err != nil || len(removed) != 1 {
		t.Fatalf("Remove: %v, %v", removed, err)
	}
	if _, err := s.GC(t.Context()); err != nil {
		t.Fatal(err)
	}
	removed, err = s.Remove(t.Context(), idpkit.ImageRef{Reference: "go-test:v2"})
	if err != nil || len(removed) != 1 {
		t.Fatalf("Remove: %v, %v", removed, err)
	}
	report, err := s.GC(t.Context())
	if err != nil || report.RemovedBlobs == 0 || report.FreedBytes == 0 {
		t.Fatalf("GC: %+v, %v", report, err)
	}
	if images, _ := s.Images(t.Context()); len(images) != 0 {
		t.Fatalf("images left: %+v", images)
	}
}

func TestExportImport(t *testing.T) {
	s := openStore(t)
	res := build(t, s, fixture(t), "go-test:v1")
	layout := filepath.Join(t.TempDir(), "layout")
	sum, err := s.Export(t.Context(), idpkit.ExportOptions{Reference: "go-test:v1", Layout: layout, Tag: "exported"})
	if err != nil || sum.Digest != res.Digest {
		t.Fatalf("Export: %+v, %v", sum, err)
	}
	other := openStore(t)
	images, err := other.Import(t.Context(), idpkit.ImportOptions{Layout: layout, Tag: "exported", Name: "imported:v1"})
	if err != nil || len(images) != 1 || images[0].Digest != res.Digest || !strings.HasSuffix(images[0].Reference, "imported:v1") {
		t.Fatalf("Import: %+v, %v", images, err)
	}
	// Without options: every entry, under the layout's names.
	if _, err := openStore(t).Import(t.Context(), idpkit.ImportOptions{Layout: layout}); err != nil {
		t.Fatalf("Import all: %v", err)
	}
	if _, err := s.Export(t.Context(), idpkit.ExportOptions{Reference: "go-test:v1", Layout: filepath.Join(t.TempDir(), "l2")}); err != nil {
		t.Fatalf("Export without tag: %v", err)
	}
}

func TestErrorKinds(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	cases := []struct {
		name string
		err  error
		want error
		kind idpkit.Kind
	}{}
	add := func(name string, err error, want error, kind idpkit.Kind) {
		cases = append(cases, struct {
			name string
			err  error
			want error
			kind idpkit.Kind
		}{name, err, want, kind})
	}
	_, err := s.Inspect(t.Context(), idpkit.ImageRef{Reference: "missing:latest"})
	add("inspect missing", err, idpkit.ErrNotFound, idpkit.KindNotFound)
	_, err = s.Tag(t.Context(), idpkit.TagOptions{Source: "missing:latest", Target: "other:latest"})
	add("tag missing", err, idpkit.ErrNotFound, idpkit.KindNotFound)
	_, err = s.Remove(t.Context(), idpkit.ImageRef{Reference: "missing:latest"})
	add("remove missing", err, idpkit.ErrNotFound, idpkit.KindNotFound)
	_, err = s.Build(ctx, idpkit.BuildOptions{Context: "/nonexistent/idpkit-go"})
	add("build missing context", err, idpkit.ErrNotFound, idpkit.KindNotFound)
	layout := filepath.Join(t.TempDir(), "layout")
	build(t, s, fixture(t), "go-test:v1")
	if _, err := s.Export(t.Context(), idpkit.ExportOptions{Reference: "go-test:v1", Layout: layout}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Import(t.Context(), idpkit.ImportOptions{Layout: layout, Tag: "no-such-tag"})
	add("import a tag the layout lacks", err, idpkit.ErrNotFound, idpkit.KindNotFound)
	_, err = s.Build(ctx, idpkit.BuildOptions{Context: fixture(t), Tags: []string{"Bad Tag::"}})
	add("build bad tag", err, idpkit.ErrInvalidInput, idpkit.KindInvalidInput)
	level := int32(99)
	_, err = s.Build(ctx, idpkit.BuildOptions{Context: fixture(t), Level: &level})
	add("build bad level", err, idpkit.ErrInvalidInput, idpkit.KindInvalidInput)
	_, err = s.Build(ctx, idpkit.BuildOptions{Context: fixture(t), Compression: "brotli"})
	add("build bad compression", err, idpkit.ErrInvalidInput, idpkit.KindInvalidInput)
	_, err = s.Tag(t.Context(), idpkit.TagOptions{Source: "go:v1", Target: "no tag@sha256:zz"})
	add("tag malformed target", err, idpkit.ErrInvalidInput, idpkit.KindInvalidInput)
	_, err = s.Export(t.Context(), idpkit.ExportOptions{Reference: "missing:latest", Layout: t.TempDir()})
	add("export missing", err, idpkit.ErrNotFound, idpkit.KindNotFound)

	for _, c := range cases {
		var e *idpkit.Error
		if !errors.Is(c.err, c.want) || !errors.As(c.err, &e) || e.Kind != c.kind || e.Message == "" {
			t.Errorf("%s: err = %#v, want %v", c.name, c.err, c.want)
			continue
		}
		if !strings.Contains(c.err.Error(), c.kind.String()) {
			t.Errorf("%s: %q does not name %s", c.name, c.err.Error(), c.kind)
		}
		for _, other := range []error{idpkit.ErrAuth, idpkit.ErrCancelled, idpkit.ErrInternal} {
			if errors.Is(c.err, other) {
				t.Errorf("%s: also matches %v", c.name, other)
			}
		}
	}
}

func TestKindStrings(t *testing.T) {
	want := map[idpkit.Kind]string{
		idpkit.KindInvalidInput: "INVALID_INPUT", idpkit.KindNotFound: "NOT_FOUND", idpkit.KindAuth: "AUTH",
		idpkit.KindUntrusted: "UNTRUSTED", idpkit.KindIntegrity: "INTEGRITY", idpkit.KindUnsafeArchive: "UNSAFE_ARCHIVE",
		idpkit.KindPolicy: "POLICY", idpkit.KindNetwork: "NETWORK", idpkit.KindConflict: "CONFLICT",
		idpkit.KindCancelled: "CANCELLED", idpkit.KindIO: "IO", idpkit.KindInternal: "INTERNAL",
		idpkit.KindNullArgument: "NULL_ARGUMENT", idpkit.KindPanic: "PANIC", idpkit.Kind(999): "UNKNOWN",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", uint32(k), k.String(), s)
		}
	}
	sentinels := map[idpkit.Kind]error{
		idpkit.KindInvalidInput: idpkit.ErrInvalidInput, idpkit.KindNotFound: idpkit.ErrNotFound, idpkit.KindAuth: idpkit.ErrAuth,
		idpkit.KindUntrusted: idpkit.ErrUntrusted, idpkit.KindIntegrity: idpkit.ErrIntegrity, idpkit.KindUnsafeArchive: idpkit.ErrUnsafeArchive,
		idpkit.KindPolicy: idpkit.ErrPolicy, idpkit.KindNetwork: idpkit.ErrNetwork, idpkit.KindConflict: idpkit.ErrConflict,
		idpkit.KindCancelled: idpkit.ErrCancelled, idpkit.KindIO: idpkit.ErrIO, idpkit.KindInternal: idpkit.ErrInternal,
		idpkit.KindNullArgument: idpkit.ErrNullArgument, idpkit.KindPanic: idpkit.ErrPanic,
	}
	for k, sentinel := range sentinels {
		err := fmt.Errorf("wrapped: %w", &idpkit.Error{Kind: k, Message: "m"})
		if !errors.Is(err, sentinel) {
			t.Errorf("%s does not match its sentinel", k)
		}
	}
}

func TestBuildCancelledContext(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Build(ctx, idpkit.BuildOptions{Context: fixture(t), Tags: []string{"go-test:c"}})
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildCancelledWhileRunning(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Cancel from the first progress event: the watcher goroutine relays it to the library.
	_, err := s.Build(ctx, idpkit.BuildOptions{
		Context: fixture(t),
		Tags:    []string{"go-test:c"},
		NoCache: true,
	}, idpkit.OnEvent(func(e idpkit.Event) {
		if e.Type == idpkit.EventBuildStarted {
			cancel()
			time.Sleep(50 * time.Millisecond) // let the watcher raise the flag
		}
	}))
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if images, _ := s.Images(t.Context()); hasRef(images, "go-test:c") {
		t.Fatal("a cancelled build tagged its image")
	}
}

func TestBuildDeadline(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := s.Build(ctx, idpkit.BuildOptions{Context: fixture(t)})
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestCallbackPanicIsReraised(t *testing.T) {
	s := openStore(t)
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want boom", v)
		}
		// The store is still usable.
		if _, err := s.Images(t.Context()); err != nil {
			t.Fatal(err)
		}
	}()
	_, _ = s.Build(t.Context(), idpkit.BuildOptions{Context: fixture(t)}, idpkit.OnEvent(func(idpkit.Event) { panic("boom") }))
	t.Fatal("Build did not re-panic")
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := idpkit.OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Images(t.Context()); !errors.Is(err, idpkit.ErrClosed) {
		t.Fatalf("Images after Close: %v", err)
	}
	if _, err := s.Build(t.Context(), idpkit.BuildOptions{Context: "."}); !errors.Is(err, idpkit.ErrClosed) {
		t.Fatalf("Build after Close: %v", err)
	}
	if _, err := s.Root(); !errors.Is(err, idpkit.ErrClosed) {
		t.Fatalf("Root after Close: %v", err)
	}
}

// residentBytes is the process's resident set size, from /proc/self/statm.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatalf("/proc/self/statm %q: %v", b, err)
	}
	return resident * int64(os.Getpagesize())
}

func TestForgottenStoreIsCleanedUp(t *testing.T) {
	// A store handle holds its root path in the library's memory: with a root of a few KiB,
	// every handle that is forgotten and never freed leaves that much behind for good.
	root := t.TempDir()
	for len(root) < 3500 {
		root = filepath.Join(root, strings.Repeat("r", 200))
	}
	first, err := idpkit.OpenStore(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Open from one thread, so the library's allocator hands out again what was given back
	// rather than growing the arena of another thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const perRound, rounds = 4000, 5
	// round opens perRound stores, closing them or forgetting them, lets the cleanups run
	// (after a collection, on a goroutine of the runtime) and returns how much the resident
	// set grew.
	round := func(close bool) int64 {
		before := residentBytes(t)
		for i := 0; i < perRound; i++ {
			s, err := idpkit.OpenStore(root)
			if err != nil {
				t.Fatal(err)
			}
			if close {
				_ = s.Close()
			}
		}
		for i := 0; i < 10; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		return residentBytes(t) - before
	}
	round(false) // warm up the allocators
	// What the same work costs when every handle is closed (the race detector's bookkeeping
	// alone grows the resident set a little per store), then when every handle is forgotten.
	var closed, forgotten int64
	for r := 0; r < rounds; r++ {
		closed += round(true)
	}
	for r := 0; r < rounds; r++ {
		forgotten += round(false)
	}
	leak := int64(rounds * perRound * len(root)) // had no forgotten handle been freed
	t.Logf("resident set growth over %d stores: %d bytes closed, %d bytes forgotten (a leak would be %d more)",
		rounds*perRound, closed, forgotten, leak)
	if forgotten-closed > leak/4 {
		t.Fatalf("%d forgotten stores grew the resident set by %d bytes more than %d closed ones: their handles were not freed",
			rounds*perRound, forgotten-closed, rounds*perRound)
	}
}

func TestConcurrentBuildsIntoOneStore(t *testing.T) {
	s := openStore(t)
	ctx := fixture(t)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	digests := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			events := 0
			res, err := s.Build(t.Context(), idpkit.BuildOptions{
				Context: ctx,
				Tags:    []string{fmt.Sprintf("go-conc:%d", i)},
				NoCache: i%2 == 0,
				Labels:  map[string]string{"n": fmt.Sprint(i % 3)},
			}, idpkit.OnEvent(func(idpkit.Event) { events++ }))
			if err != nil {
				errs <- fmt.Errorf("build %d: %w", i, err)
				return
			}
			if events == 0 {
				errs <- fmt.Errorf("build %d: no events", i)
			}
			digests[i] = res.Digest
			// Reads interleave with the other goroutines' writes.
			if _, err := s.Images(t.Context()); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	images, err := s.Images(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if !hasRef(images, fmt.Sprintf("go-conc:%d", i)) {
			t.Errorf("go-conc:%d missing from %+v", i, images)
		}
		// The same context and labels give the same image.
		if j := i % 3; digests[i] != digests[j] {
			t.Errorf("build %d digest %s != build %d digest %s", i, digests[i], j, digests[j])
		}
	}
}
