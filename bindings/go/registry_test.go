package idpkit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// rigEnv returns the rig's IDPKIT_RIG_* variable: from the environment, else from the rig's
// env file (.rig/rig.env, written by tests/rig/up).
func rigEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "..", ".rig", "rig.env"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return strings.Trim(v, "'\"")
		}
	}
	return ""
}

// requirePeer fails (never skips) the test, naming the peer, when the rig's peer is not up,
// and returns its host:port.
func requirePeer(t *testing.T, peer, variable string) string {
	t.Helper()
	addr := rigEnv(variable)
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://")
	addr, _, _ = strings.Cut(addr, "/")
	if addr == "" {
		t.Fatalf("peer %s: $%s is not set and .rig/rig.env is missing: start the rig with tests/rig/up", peer, variable)
	}
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("peer %s is not answering at %s (%v): start the rig with tests/rig/up", peer, addr, err)
	}
	_ = conn.Close()
	if peer == "registry-plain" {
		client := http.Client{Timeout: 3 * time.Second}
		resp, err := client.Get("http://" + addr + "/v2/")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("peer %s at %s does not answer GET /v2/ with 200 (%v): start the rig with tests/rig/up", peer, addr, err)
		}
		_ = resp.Body.Close()
	}
	return addr
}

func uniqueRepo(registry, name string) string {
	return fmt.Sprintf("%s/gotest/%s-%d-%d", registry, name, os.Getpid(), time.Now().UnixNano())
}

func TestRegistryPushListTagsPull(t *testing.T) {
	registry := requirePeer(t, "registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
	ctx := t.Context()
	s := openStore(t)
	repo := uniqueRepo(registry, "app")
	built := build(t, s, fixture(t), repo+":1")

	var events []idpkit.Event
	pushed, err := s.Push(ctx, idpkit.PushOptions{
		Source:          repo + ":1",
		RegistryOptions: idpkit.RegistryOptions{Jobs: idpkit.Ptr[uint](2)},
	}, idpkit.OnEvent(func(e idpkit.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if pushed.Reference != repo+":1" || pushed.Digest != built.Digest || pushed.BlobsUploaded != 2 ||
		pushed.BytesUploaded == 0 || pushed.Unchanged {
		t.Fatalf("Push result %+v (built %s)", pushed, built.Digest)
	}
	types := map[idpkit.EventType]int{}
	for _, e := range events {
		types[e.Type]++
	}
	if types[idpkit.EventBlobDone] != 2 || types[idpkit.EventManifestPushed] != 1 {
		t.Fatalf("push events %v", types)
	}
	for _, e := range events {
		if e.Type == idpkit.EventManifestPushed && (e.Reference != repo+":1" || e.Digest != built.Digest) {
			t.Fatalf("manifest_pushed %+v", e)
		}
	}

	again, err := s.Push(ctx, idpkit.PushOptions{Source: repo + ":1", Destination: repo + ":2"})
	if err != nil || again.BlobsUploaded != 0 || again.BlobsSkipped != 2 || again.Digest != built.Digest {
		t.Fatalf("Push to a second tag: %+v, %v", again, err)
	}
	if same, err := s.Push(ctx, idpkit.PushOptions{Source: repo + ":1"}); err != nil || !same.Unchanged {
		t.Fatalf("Push again: %+v, %v", same, err)
	}
	tags, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo})
	slices.Sort(tags)
	if err != nil || !slices.Equal(tags, []string{"1", "2"}) {
		t.Fatalf("ListTags: %v, %v", tags, err)
	}

	other := openStore(t)
	var fetched int
	pulled, err := other.Pull(ctx, idpkit.RemoteRef{
		Reference:       repo + ":2",
		RegistryOptions: idpkit.RegistryOptions{Jobs: idpkit.Ptr[uint](2)},
	}, idpkit.OnEvent(func(e idpkit.Event) {
		if e.Type == idpkit.EventBlobDone {
			fetched++
		}
	}))
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if pulled.Digest != built.Digest || pulled.BlobsFetched != 2 || pulled.IndexDigest != "" || fetched != 2 {
		t.Fatalf("Pull result %+v, %d blob_done events", pulled, fetched)
	}
	a, err := other.Inspect(ctx, idpkit.ImageRef{Reference: pulled.Reference})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Inspect(ctx, idpkit.ImageRef{Reference: repo + ":1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest || !reflect.DeepEqual(a.Manifest, b.Manifest) || !reflect.DeepEqual(a.Config, b.Config) {
		t.Fatalf("pulled image differs:\n%+v %+v\n%+v %+v", a.Manifest, a.Config, b.Manifest, b.Config)
	}

	if _, err := other.Pull(ctx, idpkit.RemoteRef{Reference: repo + ":missing"}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("Pull of a missing tag: %v", err)
	}
}

func TestRegistryTLSCredentials(t *testing.T) {
	registry := requirePeer(t, "registry-tls", "IDPKIT_RIG_REGISTRY_TLS")
	user, password, ca := rigEnv("IDPKIT_RIG_REGISTRY_USER"), rigEnv("IDPKIT_RIG_REGISTRY_PASSWORD"), rigEnv("IDPKIT_RIG_CA")
	if user == "" || password == "" || ca == "" {
		t.Fatalf("peer registry-tls: IDPKIT_RIG_REGISTRY_USER, _PASSWORD or IDPKIT_RIG_CA is missing: start the rig with tests/rig/up")
	}
	ctx := t.Context()
	s := openStore(t)
	repo := uniqueRepo(registry, "tls")
	built := build(t, s, fixture(t), repo+":1")
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}, Attempts: idpkit.Ptr[uint32](2)}
	creds := idpkit.Credentials{Username: user, Password: idpkit.Secret(password)}

	pushed, err := s.Push(ctx, idpkit.PushOptions{Source: repo + ":1", RegistryOptions: reg}, creds)
	if err != nil || pushed.Digest != built.Digest {
		t.Fatalf("Push over TLS with the rig's credentials: %+v, %v", pushed, err)
	}
	tags, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg}, creds)
	if err != nil || !slices.Equal(tags, []string{"1"}) {
		t.Fatalf("ListTags over TLS: %v, %v", tags, err)
	}

	wrong := idpkit.Credentials{Username: user, Password: idpkit.Secret("wrong-" + password + "-go-secret")}
	_, err = idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg}, wrong)
	if !errors.Is(err, idpkit.ErrAuth) || strings.Contains(err.Error(), "go-secret") {
		t.Fatalf("ListTags with a wrong password: %v", err)
	}
	opts := idpkit.PushOptions{Source: repo + ":1", RegistryOptions: reg}
	_, err = s.Push(ctx, opts, wrong)
	if !errors.Is(err, idpkit.ErrAuth) || strings.Contains(err.Error(), "go-secret") {
		t.Fatalf("Push with a wrong password: %v", err)
	}
	_, err = s.Pull(ctx, idpkit.RemoteRef{Reference: repo + ":1", RegistryOptions: idpkit.RegistryOptions{Attempts: idpkit.Ptr[uint32](1)}}, creds)
	if !errors.Is(err, idpkit.ErrUntrusted) {
		t.Fatalf("Pull over TLS without the rig's CA: %v", err)
	}
	// The credentials print and marshal without the password.
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{wrong, &wrong, wrong.Password} {
			if text := fmt.Sprintf(format, v); strings.Contains(text, "go-secret") {
				t.Fatalf("%s shows the password: %s", format, text)
			}
		}
	}
	if doc, err := json.Marshal(struct{ C idpkit.Credentials }{wrong}); err != nil || strings.Contains(string(doc), "go-secret") {
		t.Fatalf("json.Marshal shows the password: %s (%v)", doc, err)
	}
}

func TestRegistryErrorsWithoutAPeer(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	unreachable := "127.0.0.1:9/gotest/app"
	build(t, s, fixture(t), unreachable+":1")
	fast := idpkit.RegistryOptions{Attempts: idpkit.Ptr[uint32](1), ConnectTimeoutSecs: idpkit.Ptr[uint64](2)}

	_, err := s.Push(ctx, idpkit.PushOptions{Source: unreachable + ":1", RegistryOptions: fast})
	if !errors.Is(err, idpkit.ErrNetwork) {
		t.Fatalf("Push to an unreachable registry: %v", err)
	}
	if _, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: unreachable, RegistryOptions: fast}); !errors.Is(err, idpkit.ErrNetwork) {
		t.Fatalf("ListTags of an unreachable registry: %v", err)
	}
	if _, err := s.Push(ctx, idpkit.PushOptions{Source: "missing:1"}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Fatalf("Push of a missing image: %v", err)
	}
	if _, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: "Not A Repo"}); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("ListTags of a malformed repository: %v", err)
	}
	pull := idpkit.RemoteRef{Reference: unreachable + ":1", RegistryOptions: fast}
	if _, err := s.Pull(ctx, pull, idpkit.Credentials{Username: "u"}); !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "Password is missing") {
		t.Fatalf("a username without a password: %v", err)
	}
	if _, err := s.Pull(ctx, pull, idpkit.Credentials{Password: "p"}); !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "Username is missing") {
		t.Fatalf("a password without a username: %v", err)
	}
	if _, err := s.Pull(ctx, pull, idpkit.Credentials{Username: "u", Password: "p", Token: "t"}); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Fatalf("a password and a token: %v", err)
	}
	_, err = s.Pull(ctx, pull, idpkit.Credentials{Username: "u", Password: "hunter2-secret"})
	if !errors.Is(err, idpkit.ErrNetwork) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Pull with credentials from an unreachable registry: %v", err)
	}
	_, err = s.Pull(ctx, pull, idpkit.Credentials{Token: "tok-hunter3-secret"})
	if !errors.Is(err, idpkit.ErrNetwork) || strings.Contains(err.Error(), "hunter3") {
		t.Fatalf("Pull with a token from an unreachable registry: %v", err)
	}

	// An unknown field is refused by the library, naming it and the allowed ones.
	_, err = idpkit.ResolveOptions(ctx, idpkit.ResolveOptionsOptions{Operation: "push", Options: map[string]any{"source": "a:1", "job": 2}})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "`job`") || !strings.Contains(err.Error(), "`jobs`") {
		t.Fatalf("an unknown option: %v", err)
	}

	// Every field of RegistryOptions is one the library knows (unknown ones are refused).
	every := idpkit.RegistryOptions{
		CAFiles: []string{}, InsecureHosts: []string{"example.invalid"}, CertsD: []string{},
		NoPlatformRoots: true, Jobs: idpkit.Ptr[uint](1), MonolithicMax: idpkit.Ptr[uint64](1 << 20),
		ChunkSize: idpkit.Ptr[uint64](1 << 20), Attempts: idpkit.Ptr[uint32](1),
		BackoffBaseMs: idpkit.Ptr[uint64](1), BackoffMaxMs: idpkit.Ptr[uint64](2), ConnectTimeoutSecs: idpkit.Ptr[uint64](2),
		ReadTimeoutSecs: idpkit.Ptr[uint64](5), RetryBudgetSecs: idpkit.Ptr[uint64](5),
		BreakerThreshold: idpkit.Ptr[uint32](0), Platform: "linux/amd64", MountFrom: []string{"gotest/other"},
	}
	if _, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: unreachable, RegistryOptions: every}); !errors.Is(err, idpkit.ErrNetwork) {
		t.Fatalf("ListTags with every option set: %v", err)
	}

	// A cancelled context stops the call before it starts.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Pull(cancelled, idpkit.RemoteRef{Reference: unreachable + ":1"})
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull with a cancelled context: %v", err)
	}
	if _, err := s.Push(cancelled, idpkit.PushOptions{Source: unreachable + ":1"}); !errors.Is(err, idpkit.ErrCancelled) {
		t.Fatalf("Push with a cancelled context: %v", err)
	}
	if _, err := idpkit.ListTags(cancelled, idpkit.ListTagsOptions{Repository: unreachable}); !errors.Is(err, idpkit.ErrCancelled) {
		t.Fatalf("ListTags with a cancelled context: %v", err)
	}

	// A closed store.
	_ = s.Close()
	if _, err := s.Push(ctx, idpkit.PushOptions{Source: unreachable + ":1"}); !errors.Is(err, idpkit.ErrClosed) {
		t.Fatalf("Push on a closed store: %v", err)
	}
}

func TestRegistryCancelledWhileRunning(t *testing.T) {
	registry := requirePeer(t, "registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
	s := openStore(t)
	repo := uniqueRepo(registry, "cancel")
	build(t, s, fixture(t), repo+":1")
	// Cancel at the first event and stall: the library notices within 20 ms.
	cancelOnFirst := func(cancel context.CancelFunc) func(idpkit.Event) {
		first := true
		return func(idpkit.Event) {
			if first {
				first = false
				cancel()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.Push(ctx, idpkit.PushOptions{Source: repo + ":1"}, idpkit.OnEvent(cancelOnFirst(cancel)))
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Push cancelled while running: %v", err)
	}
	if _, err := s.Push(t.Context(), idpkit.PushOptions{Source: repo + ":1"}); err != nil {
		t.Fatalf("Push after the cancelled one: %v", err)
	}
	other := openStore(t)
	ctx, cancel = context.WithCancel(t.Context())
	_, err = other.Pull(ctx, idpkit.RemoteRef{Reference: repo + ":1"}, idpkit.OnEvent(cancelOnFirst(cancel)))
	if !errors.Is(err, idpkit.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull cancelled while running: %v", err)
	}
	if images, err := other.Images(t.Context()); err != nil || len(images) != 0 {
		t.Fatalf("a cancelled pull stored %v (%v)", images, err)
	}
}

func TestRegistryPushCallbackPanicIsReraised(t *testing.T) {
	registry := requirePeer(t, "registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
	s := openStore(t)
	repo := uniqueRepo(registry, "panic")
	build(t, s, fixture(t), repo+":1")
	defer func() {
		if v := recover(); v != "callback broke" {
			t.Fatalf("recovered %v", v)
		}
		// The push itself went through.
		tags, err := idpkit.ListTags(t.Context(), idpkit.ListTagsOptions{Repository: repo})
		if err != nil || !slices.Equal(tags, []string{"1"}) {
			t.Fatalf("ListTags after the push: %v, %v", tags, err)
		}
	}()
	_, _ = s.Push(t.Context(), idpkit.PushOptions{Source: repo + ":1"}, idpkit.OnEvent(func(idpkit.Event) { panic("callback broke") }))
	t.Fatal("Push did not re-raise the callback's panic")
}
