package idpkit_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// artifactRig is the rig's nginx serving Flux-style artifacts: the fixture's tarball and
// its sha256, the directory nginx serves /artifacts/ from (where a test may put its own
// tarballs) and the rig CA, the only root the tests trust.
type artifactRig struct {
	url, sha256, base, dir, ca string
}

func newArtifactRig(t *testing.T) artifactRig {
	t.Helper()
	url := rigEnv("IDPKIT_RIG_ARTIFACT_URL")
	r := artifactRig{url: url, sha256: rigEnv("IDPKIT_RIG_ARTIFACT_SHA256"), ca: rigEnv("IDPKIT_RIG_CA")}
	if rigDir := rigEnv("IDPKIT_RIG_DIR"); rigDir != "" {
		r.dir = filepath.Join(rigDir, "artifacts")
	}
	if r.url == "" || r.sha256 == "" || r.ca == "" || r.dir == "" {
		t.Fatalf("peer nginx: IDPKIT_RIG_ARTIFACT_URL, _ARTIFACT_SHA256, _CA or _DIR is missing: start the rig with tests/rig/up")
	}
	requirePeer(t, "nginx", "IDPKIT_RIG_ARTIFACT_URL")
	r.base = url[:strings.LastIndex(url, "/")+1]
	return r
}

// fetch is FetchArtifactOptions into cache, trusting the rig CA and nothing else.
func (r artifactRig) fetch(cache, url, digest string) idpkit.FetchArtifactOptions {
	return idpkit.FetchArtifactOptions{
		URL: url, Digest: digest, Cache: cache,
		CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
		Attempts: idpkit.Ptr[uint32](1),
	}
}

// serve puts body in nginx's artifacts directory under a name of this test (a dot-temp
// file renamed into place) and returns its URL and sha256 digest.
func (r artifactRig) serve(t *testing.T, name string, body []byte) (url, digest string) {
	t.Helper()
	name = fmt.Sprintf("go-%d-%d-%s", os.Getpid(), time.Now().UnixNano(), name)
	tmp := filepath.Join(r.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(r.dir, name)
	if err := os.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(final) })
	sum := sha256.Sum256(body)
	return r.base + name, "sha256:" + hex.EncodeToString(sum[:])
}

// The fixture's tarball lands in <cache>/artifact/sha256-<hex> with the tree's files; the
// second fetch is a hit on the same directory. The cache lists it with its URL, a size
// budget of one byte collects it, and a gc without a rule is refused.
func TestSourceFetchArtifactListGC(t *testing.T) {
	r := newArtifactRig(t)
	ctx := t.Context()
	cache := filepath.Join(t.TempDir(), "cache")
	digest := "sha256:" + r.sha256
	opts := r.fetch(cache, r.url, digest)

	var events []idpkit.Event
	first, err := idpkit.SourceFetchArtifact(ctx, opts, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatalf("SourceFetchArtifact %s: %v", r.url, err)
	}
	want := filepath.Join(cache, "artifact", "sha256-"+r.sha256)
	if first.Path != want || first.Hit || first.Digest != digest || first.URL != r.url || first.Source != "artifact" {
		t.Fatalf("first fetch: %+v, want a new entry at %s", first, want)
	}
	if _, err := os.Stat(filepath.Join(first.Path, "README.md")); err != nil {
		t.Fatalf("the entry lacks the tree's README.md: %v", err)
	}
	if first.Files == 0 || first.Bytes == 0 || first.Size == 0 {
		t.Fatalf("first fetch counts nothing: %+v", first)
	}
	// Nothing was retried and no host was insecure: no event to report.
	if len(events) != 0 {
		t.Fatalf("events of a plain fetch: %+v", events)
	}
	second, err := idpkit.SourceFetchArtifact(ctx, opts)
	if err != nil || !second.Hit || second.Path != first.Path {
		t.Fatalf("second fetch: %+v, %v; want a hit on %s", second, err, first.Path)
	}

	listed, err := idpkit.SourceList(ctx, idpkit.CacheOptions{Cache: cache})
	if err != nil || len(listed) != 1 || listed[0].URL != r.url || listed[0].Path != want || listed[0].Digest != digest {
		t.Fatalf("SourceList: %+v, %v", listed, err)
	}
	dry, err := idpkit.SourceGC(ctx, idpkit.SourceGcOptions{Cache: cache, MaxBytes: 1, DryRun: true})
	if err != nil || len(dry.Removed) != 1 {
		t.Fatalf("SourceGC dry run: %+v, %v", dry, err)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("a dry run removed the entry: %v", err)
	}
	gc, err := idpkit.SourceGC(ctx, idpkit.SourceGcOptions{Cache: cache, MaxBytes: 1})
	if err != nil || len(gc.Removed) != 1 || gc.Removed[0].URL != r.url || gc.FreedBytes == 0 || gc.Kept != 0 {
		t.Fatalf("SourceGC MaxBytes 1: %+v, %v", gc, err)
	}
	if _, err := os.Stat(want); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the collected entry is still there: %v", err)
	}
	if listed, err := idpkit.SourceList(ctx, idpkit.CacheOptions{Cache: cache}); err != nil || len(listed) != 0 {
		t.Fatalf("SourceList after the gc: %+v, %v", listed, err)
	}
	_, err = idpkit.SourceGC(ctx, idpkit.SourceGcOptions{Cache: cache})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "rule") {
		t.Fatalf("SourceGC without a rule: want ErrInvalidInput saying a rule is needed, got %v", err)
	}
}

// A digest that is not the tarball's: ErrIntegrity naming the file, and nothing cached.
func TestSourceFetchArtifactWrongDigest(t *testing.T) {
	r := newArtifactRig(t)
	cache := filepath.Join(t.TempDir(), "cache")
	_, err := idpkit.SourceFetchArtifact(t.Context(), r.fetch(cache, r.url, "sha256:"+strings.Repeat("0", 64)))
	var e *idpkit.Error
	if !errors.Is(err, idpkit.ErrIntegrity) || !errors.As(err, &e) || e.Kind != idpkit.KindIntegrity || !strings.Contains(err.Error(), "fixture.tar.gz") {
		t.Fatalf("a wrong digest: want ErrIntegrity naming fixture.tar.gz, got %v", err)
	}
	if listed, err := idpkit.SourceList(t.Context(), idpkit.CacheOptions{Cache: cache}); err != nil || len(listed) != 0 {
		t.Fatalf("SourceList after the wrong digest: %+v, %v", listed, err)
	}
}

// gzipTar is a gzipped tar of one regular file `name` holding "x", written by archive/tar
// as given (it does not clean names).
func gzipTar(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A tarball served by the rig with an entry `../evil`: ErrUnsafeArchive naming it, nothing
// written beside the cache, nothing cached.
func TestSourceFetchArtifactTraversal(t *testing.T) {
	r := newArtifactRig(t)
	url, digest := r.serve(t, "traversal.tar.gz", gzipTar(t, "../evil"))
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	_, err := idpkit.SourceFetchArtifact(t.Context(), r.fetch(cache, url, digest))
	if !errors.Is(err, idpkit.ErrUnsafeArchive) || !strings.Contains(err.Error(), url) {
		t.Fatalf("a tarball with ../evil: want ErrUnsafeArchive naming %s, got %v", url, err)
	}
	var evil []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "evil" {
			evil = append(evil, p)
		}
		return nil
	})
	beside, _ := os.ReadDir(root)
	if len(evil) != 0 || len(beside) != 1 {
		t.Fatalf("after the hostile tarball: files named evil %v, %d entries beside the cache", evil, len(beside))
	}
	if listed, err := idpkit.SourceList(t.Context(), idpkit.CacheOptions{Cache: cache}); err != nil || len(listed) != 0 {
		t.Fatalf("SourceList after the hostile tarball: %+v, %v", listed, err)
	}
}

// The rig's nginx marked insecure and no root trusted: the fetch works, and says so in an
// insecure_connection audit event naming the host.
func TestSourceFetchArtifactInsecureHostIsAudited(t *testing.T) {
	r := newArtifactRig(t)
	host := strings.SplitN(strings.TrimPrefix(r.url, "https://"), "/", 2)[0]
	opts := idpkit.FetchArtifactOptions{
		URL: r.url, Digest: "sha256:" + r.sha256, Cache: filepath.Join(t.TempDir(), "cache"),
		InsecureHosts: []string{host}, NoPlatformRoots: true, CertsD: []string{},
	}
	var events []idpkit.Event
	got, err := idpkit.SourceFetchArtifact(t.Context(), opts, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil || got.Hit {
		t.Fatalf("SourceFetchArtifact from an insecure host: %+v, %v", got, err)
	}
	audited := false
	for _, e := range events {
		audited = audited || (e.Type == "insecure_connection" && strings.Contains(e.Host, "127.0.0.1"))
	}
	if !audited {
		t.Fatalf("no insecure_connection event for %s: %+v", host, events)
	}
}

// Options go to the core as written: an unknown field is ErrInvalidInput naming it, and a
// cancelled context stops a fetch before anything is cached.
func TestSourceOptionsAndCancel(t *testing.T) {
	r := newArtifactRig(t)
	ctx := t.Context()
	cache := filepath.Join(t.TempDir(), "cache")
	doc, _ := json.Marshal(map[string]any{"url": r.url, "digest": "sha256:" + r.sha256, "cache": cache, "max_download_bytes": 1})
	_, err := idpkit.ResolveOptions(ctx, idpkit.ResolveOptionsOptions{Operation: "source_fetch_artifact", Options: json.RawMessage(doc)})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "max_download_bytes") || !strings.Contains(err.Error(), "max_download_size") {
		t.Fatalf("an unknown fetch option: want ErrInvalidInput naming it and max_download_size, got %v", err)
	}
	_, err = idpkit.ResolveOptions(ctx, idpkit.ResolveOptionsOptions{Operation: "source_gc", Options: json.RawMessage(`{"max_size": 1}`)})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "max_size") {
		t.Fatalf("an unknown gc option: want ErrInvalidInput naming it, got %v", err)
	}
	_, err = idpkit.SourceFetchArtifact(ctx, r.fetch(cache, r.url, "md5:abc"))
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("a digest of an unknown algorithm: want ErrInvalidInput naming digest, got %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = idpkit.SourceFetchArtifact(cancelled, r.fetch(cache, r.url, "sha256:"+r.sha256))
	if !errors.Is(err, idpkit.ErrCancelled) {
		t.Fatalf("SourceFetchArtifact with a cancelled context: %v", err)
	}
	if listed, err := idpkit.SourceList(ctx, idpkit.CacheOptions{Cache: cache}); err != nil || len(listed) != 0 {
		t.Fatalf("SourceList after the cancelled fetch: %+v, %v", listed, err)
	}
}
