package idpkit_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
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
		audited = audited || (e.Type == idpkit.EventInsecureConnection && strings.Contains(e.Host, "127.0.0.1"))
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

// gitRig is the rig's git http-backend behind nginx (basic auth, a certificate from the rig
// CA) with its fixture repository, and the kube-apiserver the Argo CD tests apply objects to.
type gitRig struct {
	url, gitDir, user, password, ca string
}

func newGitRig(t *testing.T) gitRig {
	t.Helper()
	r := gitRig{
		url: rigEnv("IDPKIT_RIG_GIT_FIXTURE_HTTPS"), gitDir: rigEnv("IDPKIT_RIG_GIT_FIXTURE_DIR"),
		user: rigEnv("IDPKIT_RIG_GIT_USER"), password: rigEnv("IDPKIT_RIG_GIT_PASSWORD"), ca: rigEnv("IDPKIT_RIG_CA"),
	}
	if r.url == "" || r.gitDir == "" || r.user == "" || r.password == "" || r.ca == "" {
		t.Fatalf("peer nginx: IDPKIT_RIG_GIT_FIXTURE_HTTPS, _GIT_FIXTURE_DIR, _GIT_USER, _GIT_PASSWORD or _CA is missing: start the rig with tests/rig/up")
	}
	requirePeer(t, "nginx", "IDPKIT_RIG_GIT_FIXTURE_HTTPS")
	return r
}

// commit is the commit rev names in the fixture repository.
func (r gitRig) commit(t *testing.T, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", r.gitDir, "rev-parse", rev+"^{commit}").Output()
	if err != nil {
		t.Fatalf("git rev-parse %s in %s: %v", rev, r.gitDir, err)
	}
	return strings.TrimSpace(string(out))
}

// basic is the call's credentials: the rig's git user and password.
func (r gitRig) basic(password string) idpkit.Credentials {
	return idpkit.Credentials{Username: r.user, Password: idpkit.Secret(password)}
}

// fileHolding is the first regular file under root that holds needle, or "": what someone
// reading the cache from the disk would find.
func fileHolding(t *testing.T, root, needle string) string {
	t.Helper()
	found := ""
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
			found = p
		}
		return nil
	})
	return found
}

// kubeRequest sends one request to the rig's kube-apiserver with its bearer token (as
// tests/rig/up does), trusting the rig CA; it returns the status and up to 1 MiB of the body.
func kubeRequest(t *testing.T, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	base, token, ca := rigEnv("IDPKIT_RIG_KUBE_URL"), rigEnv("IDPKIT_RIG_KUBE_TOKEN"), rigEnv("IDPKIT_RIG_CA")
	if base == "" || token == "" || ca == "" {
		t.Fatalf("peer kube-apiserver: IDPKIT_RIG_KUBE_URL, _KUBE_TOKEN or _CA is missing: start the rig with tests/rig/up")
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, _ := http.NewRequestWithContext(t.Context(), method, base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("peer kube-apiserver: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out
}

// kubeApply server-side applies obj at path of the rig's kube-apiserver.
func kubeApply(t *testing.T, path string, obj map[string]any) {
	t.Helper()
	body, _ := json.Marshal(obj)
	status, msg := kubeRequest(t, http.MethodPatch, path+"?fieldManager=idpkit-test&force=true", "application/apply-patch+yaml", body)
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("apply %s: HTTP %d: %.600s", path, status, msg)
	}
}

// kubeGet decodes the object at path of the rig's kube-apiserver into out (the tests' own
// reader); false when it does not exist.
func kubeGet(t *testing.T, path string, out any) bool {
	t.Helper()
	status, body := kubeRequest(t, http.MethodGet, path, "", nil)
	if status == http.StatusNotFound {
		return false
	}
	if status != http.StatusOK {
		t.Fatalf("get %s: HTTP %d: %.600s", path, status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return true
}

// A git revision over HTTPS with the call's username and password lands in <cache>/git/<hash>
// with the branch's tree and its resolved revision; the second fetch is a hit on the same
// directory, and the password is in no file of the cache.
func TestSourceFetchGitBasicAuthThenHit(t *testing.T) {
	r := newGitRig(t)
	ctx := t.Context()
	cache := filepath.Join(t.TempDir(), "cache")
	opts := idpkit.FetchGitOptions{URL: r.url, Revision: "develop", Cache: cache, CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{}}
	first, err := idpkit.SourceFetchGit(ctx, opts, r.basic(r.password))
	if err != nil {
		t.Fatalf("SourceFetchGit %s develop: %v", r.url, err)
	}
	develop := r.commit(t, "develop")
	if first.Hit || filepath.Dir(first.Path) != filepath.Join(cache, "git") || first.Source != "git" || first.URL != r.url ||
		first.Revision != "refs/heads/develop@sha1:"+develop || first.Digest != "sha1:"+develop || first.Files == 0 {
		t.Fatalf("first fetch: %+v, want a new entry under %s/git at develop's commit %s", first, cache, develop)
	}
	if _, err := os.Stat(filepath.Join(first.Path, "DEVELOP.md")); err != nil {
		t.Fatalf("the entry lacks develop's DEVELOP.md: %v", err)
	}
	second, err := idpkit.SourceFetchGit(ctx, opts, r.basic(r.password))
	if err != nil || !second.Hit || second.Path != first.Path {
		t.Fatalf("second fetch: %+v, %v; want a hit on %s", second, err, first.Path)
	}
	if f := fileHolding(t, cache, r.password); f != "" {
		t.Fatalf("the password is on disk in %s", f)
	}
}

// A wrong password is ErrAuth naming the URL, without the password in the error's text, and
// nothing is cached.
func TestSourceFetchGitWrongPassword(t *testing.T) {
	r := newGitRig(t)
	cache := filepath.Join(t.TempDir(), "cache")
	const wrong = "pw-wrong-go-4711"
	opts := idpkit.FetchGitOptions{URL: r.url, Revision: "main", Cache: cache, CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{}}
	got, err := idpkit.SourceFetchGit(t.Context(), opts, r.basic(wrong))
	var e *idpkit.Error
	if !errors.Is(err, idpkit.ErrAuth) || !errors.As(err, &e) || e.Kind != idpkit.KindAuth || got != nil {
		t.Fatalf("a wrong password: want ErrAuth, got %+v, %v", got, err)
	}
	if !strings.Contains(err.Error(), r.url) {
		t.Fatalf("the error does not name %s: %v", r.url, err)
	}
	if text := fmt.Sprintf("%v %+v %#v", err, err, e); strings.Contains(text, wrong) {
		t.Fatalf("the error shows the password: %s", strings.ReplaceAll(text, wrong, "<password>"))
	}
	if listed, err := idpkit.SourceList(t.Context(), idpkit.CacheOptions{Cache: cache}); err != nil || len(listed) != 0 {
		t.Fatalf("SourceList after the wrong password: %+v, %v", listed, err)
	}
}

// An Argo CD Application (a git source with a path, and a Helm repository source) whose
// credentials are a `repository` Secret in a namespace of this test, standing for Argo CD's:
// the git source's directory is the entry's `log`, fetched at main's commit with the
// Secret's credentials; the Helm source is skipped with the reason and a warning event; the
// second fetch is a hit.
func TestSourceFetchArgoApplication(t *testing.T) {
	r := newGitRig(t)
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	kubeconfig := rigEnv("IDPKIT_RIG_KUBECONFIG")
	if kubeconfig == "" {
		t.Fatalf("peer kube-apiserver: IDPKIT_RIG_KUBECONFIG is missing: start the rig with tests/rig/up")
	}
	ns := fmt.Sprintf("argocd-go-%d", os.Getpid())
	app := fmt.Sprintf("go-argo-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	kubeApply(t, "/api/v1/namespaces/"+ns, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	kubeApply(t, "/api/v1/namespaces/"+ns+"/secrets/fixture", map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "fixture", "namespace": ns, "labels": map[string]any{"argocd.argoproj.io/secret-type": "repository"}},
		"stringData": map[string]any{"url": r.url, "username": r.user, "password": r.password},
	})
	kubeApply(t, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/"+app, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": app, "namespace": "argocd"},
		"spec": map[string]any{"project": "default", "sources": []any{
			map[string]any{"repoURL": r.url, "path": "log", "targetRevision": "main"},
			map[string]any{"repoURL": "https://charts.example.invalid", "chart": "nginx", "targetRevision": "1.0.0"},
		}, "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "x"}},
	})

	cache := filepath.Join(t.TempDir(), "cache")
	opts := idpkit.FetchArgoOptions{
		Namespace: "argocd", Name: app, Cluster: idpkit.KubeOptions{Kubeconfig: kubeconfig}, ArgocdNamespace: ns,
		Cache: cache, CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
	}
	var events []idpkit.Event
	got, err := idpkit.SourceFetchArgo(t.Context(), opts, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatalf("SourceFetchArgo argocd/%s: %v", app, err)
	}
	if got.Application != "Application argocd/"+app || len(got.Sources) != 2 {
		t.Fatalf("SourceFetchArgo: %+v, want Application argocd/%s with two sources", got, app)
	}
	git, helm := got.Sources[0], got.Sources[1]
	if git.Fetched == nil || git.Fetched.Hit || git.Index != 0 || git.RepoURL != r.url || git.Path != "log" ||
		git.Commit != r.commit(t, "main") || git.Credentials != "Secret "+ns+"/fixture (repository)" {
		t.Fatalf("the git source: %+v (fetched %+v)", git, git.Fetched)
	}
	if filepath.Dir(git.Fetched.Path) != filepath.Join(cache, "argocd-repo", "argocd", app) || git.Dir != filepath.Join(git.Fetched.Path, "log") {
		t.Fatalf("the git source's entry %s and directory %s, want <cache>/argocd-repo/argocd/%s/<hash>/log", git.Fetched.Path, git.Dir, app)
	}
	if _, err := os.Stat(filepath.Join(git.Dir, "001.txt")); err != nil {
		t.Fatalf("the source's directory lacks log/001.txt: %v", err)
	}
	if helm.Index != 1 || helm.Fetched != nil || helm.Dir != "" || !strings.Contains(helm.Skipped, "Helm") {
		t.Fatalf("the Helm source: %+v, want it skipped with the reason", helm)
	}
	warned := false
	for _, e := range events {
		warned = warned || (e.Type == idpkit.EventWarning && strings.Contains(e.Message, "charts.example.invalid"))
	}
	if !warned {
		t.Fatalf("no warning event naming the skipped Helm source: %+v", events)
	}
	again, err := idpkit.SourceFetchArgo(t.Context(), opts)
	if err != nil || again.Sources[0].Fetched == nil || !again.Sources[0].Fetched.Hit || again.Sources[0].Dir != git.Dir {
		t.Fatalf("second SourceFetchArgo: %+v, %v; want a hit on %s", again, err, git.Dir)
	}
	if f := fileHolding(t, cache, r.password); f != "" {
		t.Fatalf("the Secret's password is on disk in %s", f)
	}
}

// WatchArgo calls back with the Application's git source at its synced revision, then again
// when Argo CD's status moves to another commit; cancelling the context ends it cleanly.
func TestWatchArgoCallsBackPerSyncedRevision(t *testing.T) {
	r := newGitRig(t)
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	kubeconfig := rigEnv("IDPKIT_RIG_KUBECONFIG")
	ns := fmt.Sprintf("argocd-gow-%d", os.Getpid())
	app := fmt.Sprintf("go-watch-argo-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	kubeApply(t, "/api/v1/namespaces/"+ns, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	kubeApply(t, "/api/v1/namespaces/"+ns+"/secrets/fixture", map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "fixture", "namespace": ns, "labels": map[string]any{"argocd.argoproj.io/secret-type": "repository"}},
		"stringData": map[string]any{"url": r.url, "username": r.user, "password": r.password},
	})
	synced := func(revision string) {
		kubeApply(t, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/"+app, map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": app, "namespace": "argocd"},
			"spec": map[string]any{"project": "default",
				"source":      map[string]any{"repoURL": r.url, "targetRevision": "main"},
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "x"}},
			"status": map[string]any{"sync": map[string]any{"revision": revision}},
		})
	}
	develop, main := r.commit(t, "develop"), r.commit(t, "main")
	synced(develop)
	opts := idpkit.FetchArgoOptions{
		Namespace: "argocd", Name: app, Cluster: idpkit.KubeOptions{Kubeconfig: kubeconfig}, ArgocdNamespace: ns,
		Cache: filepath.Join(t.TempDir(), "cache"), CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	revisions := make(chan idpkit.SourceFetched, 8)
	done := make(chan error, 1)
	var summary *idpkit.SourceWatched
	go func() {
		var err error
		summary, err = idpkit.WatchArgo(ctx, opts, func(f idpkit.SourceFetched) { revisions <- f })
		done <- err
	}()
	next := func(want string) idpkit.SourceFetched {
		t.Helper()
		select {
		case f := <-revisions:
			if !strings.HasSuffix(f.Revision, want) {
				t.Fatalf("revision %s, want one ending in %s", f.Revision, want)
			}
			return f
		case err := <-done:
			t.Fatalf("the watch ended while waiting for %s: %v", want, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no revision within 30 s while waiting for %s", want)
		}
		panic("unreachable")
	}
	first := next(develop)
	synced(main)
	second := next(main)
	if first.Path == second.Path {
		t.Fatalf("both revisions in one entry %s", first.Path)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a cancelled watch returns no error, got %v", err)
	}
	if summary == nil || summary.Fetched != 2 {
		t.Fatalf("summary %+v, want 2 fetched", summary)
	}
}
