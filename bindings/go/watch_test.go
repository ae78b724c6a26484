package idpkit_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// kubeRig talks to the rig's kube-apiserver as source-controller would: it creates Flux
// sources by server-side apply and sets their status through the status subresource.
type kubeRig struct {
	url, token string
	client     *http.Client
}

func newKubeRig(t *testing.T) kubeRig {
	t.Helper()
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	pem, err := os.ReadFile(rigEnv("IDPKIT_RIG_CA"))
	if err != nil {
		t.Fatalf("the rig CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return kubeRig{
		url:    rigEnv("IDPKIT_RIG_KUBE_URL"),
		token:  rigEnv("IDPKIT_RIG_KUBE_TOKEN"),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
}

func (k kubeRig) patch(t *testing.T, path, contentType, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, k.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := k.client.Do(req)
	if err != nil {
		t.Fatalf("PATCH %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PATCH %s: %s: %s", path, resp.Status, b)
	}
}

const gitRepositories = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/"

// gitRepository creates GitRepository flux-system/name.
func (k kubeRig) gitRepository(t *testing.T, name string) {
	k.patch(t, gitRepositories+name+"?fieldManager=idpkit-go-test&force=true", "application/apply-patch+yaml",
		fmt.Sprintf(`{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		  "metadata": {"name": %q, "namespace": "flux-system"}, "spec": {"url": "https://example.invalid/x.git"}}`, name))
}

// ready sets its status: Ready with the artifact at url.
func (k kubeRig) ready(t *testing.T, name, url, revision, digest string) {
	k.patch(t, gitRepositories+name+"/status", "application/merge-patch+json",
		fmt.Sprintf(`{"status": {"artifact": {"url": %q, "revision": %q, "digest": %q},
		  "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored",
		                  "lastTransitionTime": "2026-12-03T00:00:00Z"}]}}`, url, revision, digest))
}

// gzipTarOf is a gzipped tar of one file `name` holding content.
func gzipTarOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
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

// WatchFlux calls back with the source's revision, then with the next one once the status
// changes; cancelling the context ends the watch with what it did and no error.
func TestWatchFluxCallsBackPerRevisionUntilCancelled(t *testing.T) {
	r := newArtifactRig(t)
	k := newKubeRig(t)
	name := fmt.Sprintf("go-watch-%d-%d", os.Getpid(), time.Now().UnixNano())
	revA, revB := "main@sha1:"+strings.Repeat("a", 40), "main@sha1:"+strings.Repeat("b", 40)
	k.gitRepository(t, name)
	k.ready(t, name, r.url, revA, "sha256:"+r.sha256)
	urlB, digestB := r.serve(t, "b.tar.gz", gzipTarOf(t, "b.txt", "revision b"))

	cache := filepath.Join(t.TempDir(), "cache")
	opts := idpkit.FetchFluxOptions{
		Kind: "GitRepository", Namespace: "flux-system", Name: name, Cache: cache,
		Cluster: idpkit.KubeOptions{Kubeconfig: rigEnv("IDPKIT_RIG_KUBECONFIG")},
		CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	revisions := make(chan idpkit.SourceFetched, 8)
	type outcome struct {
		r   *idpkit.SourceWatched
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := idpkit.WatchFlux(ctx, opts, func(f idpkit.SourceFetched) { revisions <- f })
		done <- outcome{res, err}
	}()
	next := func(what string) idpkit.SourceFetched {
		t.Helper()
		select {
		case f := <-revisions:
			return f
		case o := <-done:
			t.Fatalf("the watch ended while waiting for %s: %+v, %v", what, o.r, o.err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no revision within 30 s while waiting for %s", what)
		}
		return idpkit.SourceFetched{}
	}

	a := next("revision A")
	wantA := filepath.Join(cache, "flux-artifact", "flux-system", name, "main-sha-aaaaaaa")
	if a.Revision != revA || a.Path != wantA || a.Hit {
		t.Fatalf("revision A: %+v, want a new entry at %s", a, wantA)
	}
	if _, err := os.Stat(filepath.Join(a.Path, "README.md")); err != nil {
		t.Fatalf("revision A's entry: %v", err)
	}
	k.ready(t, name, urlB, revB, digestB)
	b := next("revision B")
	if b.Revision != revB || b.Digest != digestB {
		t.Fatalf("revision B: %+v", b)
	}
	if got, err := os.ReadFile(filepath.Join(b.Path, "b.txt")); err != nil || string(got) != "revision b" {
		t.Fatalf("revision B's b.txt: %q, %v", got, err)
	}

	cancel()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("a cancelled watch returns no error: %v", o.err)
		}
		if o.r.Fetched != 2 || o.r.Failed != 0 || o.r.Last == nil || o.r.Last.Revision != revB {
			t.Fatalf("result: %+v (last %+v)", o.r, o.r.Last)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watch did not return within 30 s of the cancel")
	}
	if len(revisions) != 0 {
		t.Fatalf("revisions after B: %d", len(revisions))
	}
}
