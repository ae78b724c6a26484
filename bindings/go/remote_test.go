package idpkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// tlsRig returns the rig's TLS registry, its user, password and CA, failing (never skipping)
// when the peer is missing.
func tlsRig(t *testing.T) (registry, user string, password idpkit.Secret, ca string) {
	t.Helper()
	registry = requirePeer(t, "registry-tls", "IDPKIT_RIG_REGISTRY_TLS")
	user, pw, ca := rigEnv("IDPKIT_RIG_REGISTRY_USER"), rigEnv("IDPKIT_RIG_REGISTRY_PASSWORD"), rigEnv("IDPKIT_RIG_CA")
	if user == "" || pw == "" || ca == "" {
		t.Fatalf("peer registry-tls: IDPKIT_RIG_REGISTRY_USER, _PASSWORD or IDPKIT_RIG_CA is missing: start the rig with tests/rig/up")
	}
	return registry, user, idpkit.Secret(pw), ca
}

func TestCopyCatalogDelete(t *testing.T) {
	plain := requirePeer(t, "registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
	tls, user, password, ca := tlsRig(t)
	ctx := t.Context()
	s := openStore(t)
	src := uniqueRepo(plain, "copy-src")
	built := build(t, s, fixture(t), src+":1")
	if _, err := s.Push(ctx, idpkit.PushOptions{Source: src + ":1"}); err != nil {
		t.Fatalf("Push: %v", err)
	}

	// Within one registry the blobs are mounted: no byte goes up.
	dst := uniqueRepo(plain, "copy-dst")
	var events []idpkit.Event
	within, err := idpkit.Copy(ctx, idpkit.CopyOptions{Source: src + ":1", Destination: dst + ":2"}, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil || within.Digest != built.Digest || within.BlobsMounted != 2 || within.BytesUploaded != 0 {
		t.Fatalf("Copy within a registry: %+v, %v", within, err)
	}
	mounted := 0
	for _, e := range events {
		if e.Type == idpkit.EventBlobMounted {
			mounted++
		}
	}
	if mounted != 2 {
		t.Fatalf("Copy within a registry: %d blob_mounted events in %v", mounted, events)
	}

	// Across registries the same manifest digest arrives.
	tlsRepo := uniqueRepo(tls, "copy-tls")
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}}
	creds := idpkit.Credentials{Username: user, Password: password}
	across, err := idpkit.Copy(ctx, idpkit.CopyOptions{Source: src + ":1", Destination: tlsRepo + ":3", RegistryOptions: reg}, creds)
	if err != nil || across.Digest != built.Digest || across.BlobsUploaded != 2 {
		t.Fatalf("Copy across registries: %+v, %v", across, err)
	}
	tags, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: tlsRepo, RegistryOptions: reg}, creds)
	if err != nil || !slices.Equal(tags, []string{"3"}) {
		t.Fatalf("tags of the copy: %v, %v", tags, err)
	}

	// And back to the plain registry: the TLS registry's login is the source credential; the
	// destination's is never sent to the source (no stored login there: AUTH).
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	back := idpkit.CopyOptions{Source: tlsRepo + ":3", Destination: uniqueRepo(plain, "copy-back") + ":4", RegistryOptions: reg}
	back.Attempts = idpkit.Ptr[uint32](1)
	if _, err := idpkit.Copy(ctx, back, creds); !errors.Is(err, idpkit.ErrAuth) {
		t.Fatalf("Copy from the TLS registry with only a destination credential: %v", err)
	}
	copied, err := idpkit.Copy(ctx, back, idpkit.Credentials{SourceUsername: user, SourcePassword: password})
	if err != nil || copied.Digest != built.Digest {
		t.Fatalf("Copy from the TLS registry with the source credential: %+v, %v", copied, err)
	}

	repos, err := idpkit.Catalog(ctx, idpkit.RegistryHost{Host: plain})
	name := func(repo string) string { return strings.TrimPrefix(repo, plain+"/") }
	if err != nil || !slices.Contains(repos, name(src)) || !slices.Contains(repos, name(dst)) {
		t.Fatalf("Catalog of %s lacks %s or %s: %v, %v", plain, name(src), name(dst), len(repos), err)
	}

	deleted, err := idpkit.Delete(ctx, idpkit.DeleteOptions{Reference: dst + ":2"})
	if err != nil || deleted != built.Digest {
		t.Fatalf("Delete: %q, %v", deleted, err)
	}
	if _, err := idpkit.Delete(ctx, idpkit.DeleteOptions{Reference: dst + ":2"}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("Delete of a deleted tag: %v", err)
	}
	other := openStore(t)
	if _, err := other.Pull(ctx, idpkit.RemoteRef{Reference: dst + ":2"}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("Pull of a deleted tag: %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := idpkit.Copy(cancelled, idpkit.CopyOptions{Source: src + ":1", Destination: dst + ":9"}); !errors.Is(err, idpkit.ErrCancelled) {
		t.Fatalf("Copy with a cancelled context: %v", err)
	}
}

func TestLoginLogout(t *testing.T) {
	tls, user, password, ca := tlsRig(t)
	ctx := t.Context()
	docker := t.TempDir()
	t.Setenv("DOCKER_CONFIG", docker) // never the user's own ~/.docker
	t.Setenv("REGISTRY_AUTH_FILE", "")
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}, Attempts: idpkit.Ptr[uint32](1)}
	repo := uniqueRepo(tls, "login")
	login := idpkit.RegistryHost{Host: tls, RegistryOptions: reg}

	wrong := idpkit.Secret("wrong-" + string(password) + "-go-login")
	_, err := idpkit.Login(ctx, login, idpkit.Credentials{Username: user, Password: wrong})
	if !errors.Is(err, idpkit.ErrAuth) || !strings.Contains(err.Error(), tls) || !strings.Contains(err.Error(), user) || strings.Contains(err.Error(), "go-login") {
		t.Fatalf("Login with a wrong password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(docker, "config.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused login stored something: %v", err)
	}

	res, err := idpkit.Login(ctx, login, idpkit.Credentials{Username: user, Password: password})
	if err != nil || res.StoredIn != filepath.Join(docker, "config.json") || res.Username != user {
		t.Fatalf("Login: %+v, %v", res, err)
	}
	// Later calls find the stored credentials.
	if _, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg}); err != nil && !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("ListTags after Login: %v", err)
	}
	if _, err := idpkit.Login(ctx, login, idpkit.Credentials{Password: password}); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("Login without a user: %v", err)
	}
	if _, err := idpkit.Login(ctx, login); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("Login without credentials: %v", err)
	}

	if removed, err := idpkit.Logout(ctx, idpkit.LogoutOptions{Host: tls}); err != nil || !removed {
		t.Fatalf("Logout: %v, %v", removed, err)
	}
	if removed, err := idpkit.Logout(ctx, idpkit.LogoutOptions{Host: tls}); err != nil || removed {
		t.Fatalf("second Logout: %v, %v", removed, err)
	}
	if _, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg}); !errors.Is(err, idpkit.ErrAuth) {
		t.Fatalf("ListTags after Logout: %v", err)
	}
}

func TestTrustCheckAndAdd(t *testing.T) {
	tls, _, _, ca := tlsRig(t)
	expired := strings.TrimPrefix(rigEnv("IDPKIT_RIG_TLS_EXPIRED_URL"), "https://")
	requirePeer(t, "nginx", "IDPKIT_RIG_TLS_EXPIRED_URL")
	ctx := t.Context()

	report, err := idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: tls, CAFiles: []string{ca}})
	if err != nil || report.Verdict != idpkit.VerdictTrusted || !report.Trusted || len(report.Chain) == 0 {
		t.Fatalf("TrustCheck with the rig's CA: %+v, %v", report, err)
	}
	alone := idpkit.TrustCheckOptions{Host: tls, CertsD: []string{}, NoPlatformRoots: true}
	report, err = idpkit.TrustCheck(ctx, alone)
	if err != nil || report.Verdict != idpkit.VerdictUnknownIssuer || report.Trusted || !strings.Contains(report.Message, "idpkit trust add") {
		t.Fatalf("TrustCheck without the CA: %+v, %v", report, err)
	}
	report, err = idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: expired, CAFiles: []string{ca}})
	if err != nil || report.Verdict != idpkit.VerdictExpired || report.Chain[0].NotAfter == "" {
		t.Fatalf("TrustCheck of the expired host %s: %+v, %v", expired, report, err)
	}

	certsD := t.TempDir()
	path, err := idpkit.TrustAdd(ctx, idpkit.TrustAddOptions{Host: tls, CAFile: ca, CertsD: certsD})
	if err != nil || path != filepath.Join(certsD, tls, "ca.crt") {
		t.Fatalf("TrustAdd: %q, %v", path, err)
	}
	report, err = idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: tls, CertsD: []string{certsD}, NoPlatformRoots: true})
	if err != nil || !report.Trusted {
		t.Fatalf("TrustCheck with the added CA: %+v, %v", report, err)
	}
	if _, err := idpkit.TrustAdd(ctx, idpkit.TrustAddOptions{Host: tls, CAFile: filepath.Join(fixture(t), "app", "run.sh"), CertsD: certsD}); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("TrustAdd of a file that is no certificate: %v", err)
	}
}

// idpbuilder's way to Gitea: the cluster's kube-apiserver holds the one self-signed
// certificate nginx serves for Gitea (idpbuilder's CA:TRUE certificate as the leaf) and
// Gitea's credentials. Untrusted before TrustExtract; afterwards, trusting only the
// extracted file and logged in from the cluster: push, pull, tags, copy and delete.
func TestClusterCAAndLogin(t *testing.T) {
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	gitea := requirePeer(t, "gitea", "IDPKIT_RIG_GITEA_REGISTRY")
	kubeconfig, giteaUser, giteaCA := rigEnv("IDPKIT_RIG_KUBECONFIG"), rigEnv("IDPKIT_RIG_GITEA_USER"), rigEnv("IDPKIT_RIG_GITEA_CA")
	if kubeconfig == "" || giteaUser == "" || giteaCA == "" {
		t.Fatalf("peer kube-apiserver: IDPKIT_RIG_KUBECONFIG, IDPKIT_RIG_GITEA_USER or IDPKIT_RIG_GITEA_CA is missing: start the rig with tests/rig/up")
	}
	ctx := t.Context()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // never the user's own ~/.docker
	t.Setenv("REGISTRY_AUTH_FILE", "")
	certsD := t.TempDir()
	cluster := idpkit.ClusterOptions{Kubeconfig: kubeconfig, Host: gitea, CertsD: certsD}

	// An image for Gitea: HOST/<lower-case user>/NAME:v1.
	s := openStore(t)
	repo := fmt.Sprintf("%s/%s/gotest-cluster-%d-%d", gitea, strings.ToLower(giteaUser), os.Getpid(), time.Now().UnixNano())
	ref, copyRef := repo+":v1", repo+":v1-copy"
	built := build(t, s, fixture(t), ref)

	// Before the extraction nothing trusts Gitea's self-signed certificate.
	nothing := idpkit.RegistryOptions{CertsD: []string{}, NoPlatformRoots: true, Attempts: idpkit.Ptr[uint32](1)}
	if res, err := s.Push(ctx, idpkit.PushOptions{Source: ref, RegistryOptions: nothing}); !errors.Is(err, idpkit.ErrUntrusted) || !strings.Contains(err.Error(), "self-signed") || res != nil {
		t.Fatalf("Push to %s before TrustExtract: %+v, %v", gitea, res, err)
	}
	report, err := idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: gitea, CertsD: []string{}, NoPlatformRoots: true})
	if err != nil || report.Trusted || len(report.Chain) != 1 || !report.Chain[0].SelfSigned ||
		!strings.Contains(report.Message, "self-signed") || !strings.Contains(report.Message, "idpkit trust extract") {
		t.Fatalf("TrustCheck of %s before TrustExtract: %+v, %v", gitea, report, err)
	}

	// Extract: exactly the certificate nginx serves for Gitea, from the cluster.
	extracted, err := idpkit.TrustExtract(ctx, cluster)
	if err != nil || extracted.Source != "default/idpbuilder-cert ca.crt" || extracted.Path != filepath.Join(certsD, gitea, "ca.crt") {
		t.Fatalf("TrustExtract: %+v, %v", extracted, err)
	}
	installed, err1 := os.ReadFile(extracted.Path)
	want, err2 := os.ReadFile(giteaCA)
	if err1 != nil || err2 != nil || len(want) == 0 || !bytes.Equal(installed, want) {
		t.Fatalf("TrustExtract installed at %s (%d bytes, %v) something else than %s (%d bytes, %v)", extracted.Path, len(installed), err1, giteaCA, len(want), err2)
	}

	// The extracted file alone makes Gitea trusted (a pinned self-signed anchor).
	reg := idpkit.RegistryOptions{CertsD: []string{certsD}, NoPlatformRoots: true}
	report, err = idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: gitea, CertsD: []string{certsD}, NoPlatformRoots: true})
	if err != nil || report.Verdict != idpkit.VerdictTrusted || !report.Trusted {
		t.Fatalf("TrustCheck of %s with the extracted CA alone: %+v, %v", gitea, report, err)
	}

	// The login comes from the cluster.
	res, err := idpkit.LoginFromCluster(ctx, idpkit.LoginFromClusterOptions{Host: gitea, Cluster: cluster, RegistryOptions: reg})
	if err != nil || res.Username != giteaUser {
		t.Fatalf("LoginFromCluster: %+v, %v", res, err)
	}
	for _, secret := range []string{rigEnv("IDPKIT_RIG_GITEA_PASSWORD"), rigEnv("IDPKIT_RIG_GITEA_TOKEN")} {
		if doc, _ := json.Marshal(res); secret != "" && strings.Contains(string(doc), secret) {
			t.Fatalf("the login result shows a secret")
		}
	}

	// Push and pull with the extracted trust and the stored cluster login (no credentials
	// passed).
	pushed, err := s.Push(ctx, idpkit.PushOptions{Source: ref, RegistryOptions: reg})
	if err != nil || pushed.Digest != built.Digest {
		t.Fatalf("Push %s: %+v, %v (built %s)", ref, pushed, err, built.Digest)
	}
	pulled, err := openStore(t).Pull(ctx, idpkit.RemoteRef{Reference: ref, RegistryOptions: reg})
	if err != nil || pulled.Digest != built.Digest {
		t.Fatalf("Pull %s back: %+v, %v (pushed %s)", ref, pulled, err, built.Digest)
	}

	// Tags, a copy under a second tag of the same repository, tags again.
	tags, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg})
	if err != nil || !slices.Contains(tags, "v1") || slices.Contains(tags, "v1-copy") {
		t.Fatalf("ListTags %s after the push: %v, %v", repo, tags, err)
	}
	copied, err := idpkit.Copy(ctx, idpkit.CopyOptions{Source: ref, Destination: copyRef, RegistryOptions: reg})
	if err != nil || copied.Digest != built.Digest || copied.BytesUploaded != 0 {
		t.Fatalf("Copy %s to %s: %+v, %v", ref, copyRef, copied, err)
	}
	tags, err = idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg})
	if err != nil || !slices.Contains(tags, "v1") || !slices.Contains(tags, "v1-copy") {
		t.Fatalf("ListTags %s after the copy: %v, %v", repo, tags, err)
	}

	// Delete the copy's manifest: its digest comes back and the tag is gone. A manifest
	// delete is by digest: Gitea drops the manifest with every tag on it (v1 too).
	// Refused without Force: v1 shares the manifest and would go too.
	if _, err := idpkit.Delete(ctx, idpkit.DeleteOptions{Reference: copyRef, RegistryOptions: reg}); !errors.Is(err, idpkit.ErrConflict) || !strings.Contains(err.Error(), "also tagged v1") {
		t.Fatalf("Delete of a shared manifest without Force: %v", err)
	}
	deleted, err := idpkit.Delete(ctx, idpkit.DeleteOptions{Reference: copyRef, Force: true, RegistryOptions: reg})
	if err != nil || deleted != built.Digest {
		t.Fatalf("Delete %s: %q, %v", copyRef, deleted, err)
	}
	if _, err := idpkit.Delete(ctx, idpkit.DeleteOptions{Reference: copyRef, RegistryOptions: reg}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("Delete of the deleted copy: %v", err)
	}
	tags, err = idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg})
	if err != nil || slices.Contains(tags, "v1-copy") || slices.Contains(tags, "v1") {
		t.Fatalf("ListTags %s after the delete: %v, %v", repo, tags, err)
	}

	if removed, err := idpkit.Logout(ctx, idpkit.LogoutOptions{Host: gitea}); err != nil || !removed {
		t.Fatalf("Logout of the cluster login: %v, %v", removed, err)
	}

	_, err = idpkit.TrustExtract(ctx, idpkit.ClusterOptions{Kubeconfig: kubeconfig, Context: "nope"})
	if !errors.Is(err, idpkit.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("TrustExtract of an unknown context: %v; want NOT_FOUND naming it", err)
	}
}

func TestBreakerThresholdReachesTheLibrary(t *testing.T) {
	for _, c := range []struct {
		threshold *uint32
		want      string
	}{{nil, `"breaker_threshold":10`}, {idpkit.Ptr[uint32](3), `"breaker_threshold":3`}, {idpkit.Ptr[uint32](0), `"breaker_threshold":0`}} {
		doc, err := idpkit.ResolveOptions(t.Context(), idpkit.ResolveOptionsOptions{
			Operation: "push",
			Options:   idpkit.PushOptions{Source: "a:1", RegistryOptions: idpkit.RegistryOptions{BreakerThreshold: c.threshold}},
		})
		if err != nil || !strings.Contains(string(doc), c.want) {
			t.Fatalf("BreakerThreshold %v reaches the library as %s (%v), want %s", c.threshold, doc, err, c.want)
		}
	}
}

// A host that accepts the connection and never answers the handshake: without
// cancellation TrustCheck would wait out its 10 s timeout.
func TestTrustCheckStopsWhenCtxIsDone(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	report, err := idpkit.TrustCheck(ctx, idpkit.TrustCheckOptions{Host: silent.Addr().String()})
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) || report != nil {
		t.Fatalf("TrustCheck of a silent host past its deadline: %+v, %v", report, err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("TrustCheck took %v after its deadline", took)
	}
	if _, err := idpkit.TrustExtract(ctx, idpkit.ClusterOptions{}); !errors.Is(err, idpkit.ErrCancelled) {
		t.Fatalf("TrustExtract with a done ctx: %v", err)
	}
}
