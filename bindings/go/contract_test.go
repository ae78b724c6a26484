package idpkit_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// Every field of the generated RegistryOptions, set in Go to a value other than its default,
// arrives in the core: ResolveOptions hands back the options push would run with.
func TestEveryRegistryOptionReachesTheCore(t *testing.T) {
	reg := idpkit.RegistryOptions{
		AllPlatforms: true, Attempts: idpkit.Ptr[uint32](9), BackoffBaseMs: idpkit.Ptr[uint64](11), BackoffMaxMs: idpkit.Ptr[uint64](22),
		BreakerThreshold: idpkit.Ptr[uint32](0), CAFiles: []string{"/nowhere/ca.pem"}, CertsD: []string{"/nowhere/certs.d"},
		ChunkSize: idpkit.Ptr[uint64](4321), ConnectTimeoutSecs: idpkit.Ptr[uint64](33),
		InsecureHosts: []string{"insecure.example:5000"}, Jobs: idpkit.Ptr[uint](7), MonolithicMax: idpkit.Ptr[uint64](1234),
		MountFrom: []string{"other/repo"}, NoPlatformRoots: true, Platform: "linux/arm64/v8",
		ReadTimeoutSecs: idpkit.Ptr[uint64](44), RetryBudgetSecs: idpkit.Ptr[uint64](55),
	}
	// A field added in core is generated into RegistryOptions: this test must set it too.
	v := reflect.ValueOf(reg)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("RegistryOptions.%s is not set by this test", v.Type().Field(i).Name)
		}
	}
	opts := idpkit.PushOptions{Source: "go-test:v1", Destination: "127.0.0.1:9/go/app:9", RegistryOptions: reg}
	decode := func(doc []byte) map[string]string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		out := map[string]string{}
		for k, v := range m {
			var b bytes.Buffer
			_ = json.Compact(&b, v)
			out[k] = b.String()
		}
		return out
	}
	sentDoc, _ := json.Marshal(opts)
	sent := decode(sentDoc)
	defaultsDoc, err := idpkit.ResolveOptions(t.Context(), idpkit.ResolveOptionsOptions{Operation: "push"})
	if err != nil {
		t.Fatal(err)
	}
	resolvedDoc, err := idpkit.ResolveOptions(t.Context(), idpkit.ResolveOptionsOptions{Operation: "push", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defaults, resolved := decode(defaultsDoc), decode(resolvedDoc)
	for k := range defaults {
		if _, ok := sent[k]; !ok {
			t.Errorf("push option %s is not sent by the Go struct", k)
		}
	}
	for k, v := range sent {
		if resolved[k] != v || defaults[k] == v {
			t.Errorf("push option %s: sent %s, the core runs with %s (default %s)", k, v, resolved[k], defaults[k])
		}
	}
	// Unset, every field takes the core's default: the zero struct sends nothing but source.
	zeroDoc, _ := json.Marshal(idpkit.PushOptions{Source: "a:1"})
	if got, _ := idpkit.ResolveOptions(t.Context(), idpkit.ResolveOptionsOptions{Operation: "push", Options: json.RawMessage(zeroDoc)}); decode(got)["jobs"] != defaults["jobs"] {
		t.Fatalf("a zero PushOptions (%s) resolves to %s, defaults %s", zeroDoc, got, defaultsDoc)
	}
}

// giteaRegistryToken trades the rig's Gitea personal access token for a registry bearer
// token at Gitea's /v2/token (Gitea's registry takes only those as bearer tokens).
func giteaRegistryToken(t *testing.T, gitea, user, pat, ca string) string {
	t.Helper()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+gitea+"/v2/token?service=container_registry&scope=*", nil)
	req.SetBasicAuth(user, pat)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Gitea /v2/token: %v", err)
	}
	defer resp.Body.Close()
	var answer struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK || answer.Token == "" {
		t.Fatalf("Gitea /v2/token: HTTP %d, %v", resp.StatusCode, err)
	}
	return answer.Token
}

// A TOKEN credential over TLS: push to and list Gitea's registry with a bearer token and no
// stored login; a wrong token is AUTH and never shown.
func TestPushWithAToken(t *testing.T) {
	gitea := requirePeer(t, "gitea", "IDPKIT_RIG_GITEA_REGISTRY")
	user, pat, ca := rigEnv("IDPKIT_RIG_GITEA_USER"), rigEnv("IDPKIT_RIG_GITEA_TOKEN"), rigEnv("IDPKIT_RIG_GITEA_CA")
	if user == "" || pat == "" || ca == "" {
		t.Fatalf("peer gitea: IDPKIT_RIG_GITEA_USER, _TOKEN or _CA is missing: start the rig with tests/rig/up")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no stored login: only the token can authorize
	t.Setenv("REGISTRY_AUTH_FILE", "")
	token := giteaRegistryToken(t, gitea, user, pat, ca)
	ctx := t.Context()
	s := openStore(t)
	repo := fmt.Sprintf("%s/%s/gotest-token-%d-%d", gitea, strings.ToLower(user), os.Getpid(), time.Now().UnixNano())
	built := build(t, s, fixture(t), repo+":v1")
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}, Attempts: idpkit.Ptr[uint32](1)}
	creds := idpkit.Credentials{Token: idpkit.Secret(token)}

	pushed, err := s.Push(ctx, idpkit.PushOptions{Source: repo + ":v1", RegistryOptions: reg}, creds)
	if err != nil || pushed.Digest != built.Digest {
		t.Fatalf("Push with a token: %+v, %v", pushed, err)
	}
	tags, err := idpkit.ListTags(ctx, idpkit.ListTagsOptions{Repository: repo, RegistryOptions: reg}, creds)
	if err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("ListTags with a token: %v, %v", tags, err)
	}
	wrong := idpkit.Credentials{Token: idpkit.Secret(token[:20] + "-go-token-wrong")}
	_, err = s.Push(ctx, idpkit.PushOptions{Source: repo + ":v1", RegistryOptions: reg}, wrong)
	if !errors.Is(err, idpkit.ErrAuth) || strings.Contains(err.Error(), "go-token-wrong") {
		t.Fatalf("Push with a wrong token: %v", err)
	}
	if text := fmt.Sprintf("%v %+v %#v", creds, creds, creds); strings.Contains(text, token) {
		t.Fatalf("the credentials print their token: %s", text)
	}
}

// The generated OCI types read an image config and manifest of another tool with the image
// spec's own names (`Env`, `ExposedPorts`, `os.version`, `diff_ids`, `mediaType`, ...) and write
// them back as the same document: no field lost, none added (no `"annotations": null`).
func TestOCIDocumentsRoundTrip(t *testing.T) {
	config := `{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2527","os.features":["win32k"],
		"created":"2024-05-06T07:08:09Z","author":"ci",
		"config":{"Env":["PATH=/bin"],"Cmd":["serve"],"Entrypoint":["/app"],"WorkingDir":"/app","User":"1000:1000",
			"ExposedPorts":{"80/tcp":{},"53/udp":{}},"Volumes":{"/data":{}},"Labels":{"a.b":"c"},"StopSignal":"SIGTERM"},
		"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]},
		"history":[{"created":"2024-05-06T07:08:09Z","created_by":"COPY . /app"},{"created_by":"EXPOSE 80","empty_layer":true,"comment":"c"}]}`
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x.example",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:cc","size":0},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:dd","size":12,
			"urls":["https://example.invalid/dd"],"annotations":{"k":"v"}}],
		"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ee","size":3}}`
	var cfg idpkit.ImageConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OSVersion != "10.0.20348.2527" || cfg.Config == nil || cfg.Config.WorkingDir != "/app" || len(cfg.Config.ExposedPorts) != 2 ||
		!cfg.Created.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) || len(cfg.Rootfs.DiffIDs) != 2 || !cfg.History[1].EmptyLayer {
		t.Fatalf("ImageConfig read as %+v (container config %+v)", cfg, cfg.Config)
	}
	var m idpkit.ImageManifest
	if err := json.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.Config.Size != 0 || m.Layers[0].URLs[0] != "https://example.invalid/dd" || m.Subject == nil || m.Subject.Size != 3 {
		t.Fatalf("ImageManifest read as %+v", m)
	}
	for _, c := range []struct {
		doc string
		v   any
	}{{config, cfg}, {manifest, m}} {
		back, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		if err := json.Unmarshal([]byte(c.doc), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(back, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T written back as\n%s\nwant\n%s", c.v, back, c.doc)
		}
	}
}
