package idpkit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

const (
	manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
	indexMediaType    = "application/vnd.oci.image.index.v1+json"
)

// InspectRemote reads a pushed image's manifest and config from the registry with no store at
// all (the store that built it is closed first), and they are what the store's Inspect showed.
// Without credentials the TLS registry refuses: ErrAuth, and no password in the message.
func TestInspectRemote(t *testing.T) {
	tls, user, password, ca := tlsRig(t)
	ctx := t.Context()
	s := openStore(t)
	ref := uniqueRepo(tls, "inspect-remote") + ":1"
	built := build(t, s, fixture(t), ref)
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}, Attempts: idpkit.Ptr[uint32](1)}
	creds := idpkit.Credentials{Username: user, Password: password}
	pushed, err := s.Push(ctx, idpkit.PushOptions{Source: ref, RegistryOptions: reg}, creds)
	if err != nil || pushed.Digest != built.Digest {
		t.Fatalf("Push %s: %+v, %v", ref, pushed, err)
	}
	local, err := s.Inspect(ctx, idpkit.ImageRef{Reference: ref})
	if err != nil {
		t.Fatalf("Inspect %s: %v", ref, err)
	}
	// From here on no store exists: InspectRemote takes none.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	opts := idpkit.RemoteRef{Reference: ref, RegistryOptions: reg}
	remote, err := idpkit.InspectRemote(ctx, opts, creds)
	if err != nil {
		t.Fatalf("InspectRemote %s: %v", ref, err)
	}
	if remote.Reference != ref || remote.Digest != pushed.Digest {
		t.Fatalf("InspectRemote: reference %q digest %q, want %q and the pushed %q", remote.Reference, remote.Digest, ref, pushed.Digest)
	}
	// The registry's manifest and config, typed, are what the store held.
	if remote.Manifest.SchemaVersion != 2 || len(remote.Manifest.Layers) != 1 || remote.Manifest.Layers[0].Digest != built.Layer.Digest ||
		remote.Manifest.Config.Digest != built.ConfigDigest || !reflect.DeepEqual(remote.Manifest, local.Manifest) {
		t.Fatalf("InspectRemote's manifest %+v, want Inspect's %+v (layer %s, config %s)", remote.Manifest, local.Manifest, built.Layer.Digest, built.ConfigDigest)
	}
	if remote.Config == nil || !reflect.DeepEqual(remote.Config, local.Config) || remote.Config.Rootfs.DiffIDs[0] != built.Layer.DiffID {
		t.Fatalf("InspectRemote's config %+v, want Inspect's %+v", remote.Config, local.Config)
	}
	// An image manifest, not an index: no index and no platforms.
	if remote.Index != nil || remote.IndexDigest != "" || len(remote.Platforms) != 0 || remote.MediaType != manifestMediaType {
		t.Fatalf("InspectRemote of an image manifest: index %+v, index_digest %q, platforms %v, media_type %q", remote.Index, remote.IndexDigest, remote.Platforms, remote.MediaType)
	}

	// No stored login either: the call's credentials are the only way in.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	_, err = idpkit.InspectRemote(ctx, opts)
	if !errors.Is(err, idpkit.ErrAuth) || !strings.Contains(err.Error(), tls) || strings.Contains(err.Error(), string(password)) {
		t.Fatalf("InspectRemote without credentials: want ErrAuth naming %s without the password, got %v", tls, err)
	}
	wrong := idpkit.Credentials{Username: user, Password: "wrong-" + password + "-go-inspect"}
	_, err = idpkit.InspectRemote(ctx, opts, wrong)
	if !errors.Is(err, idpkit.ErrAuth) || strings.Contains(err.Error(), string(password)) || strings.Contains(err.Error(), "go-inspect") {
		t.Fatalf("InspectRemote with a wrong password: want ErrAuth without the password, got %v", err)
	}
}

// A multi-platform image, as `docker buildx` or `crane index append` leave one on a registry:
// one image built per platform (linux/amd64, linux/arm64) and pushed, then an index of them
// (the generated ImageIndex, marshalled) PUT as repo:multi. The local Inspect shows each
// image's config typed; InspectRemote reads the index itself typed and the chosen platform's
// manifest and config; Copy with AllPlatforms takes the index byte for byte (same digest) and
// both manifests to the TLS registry.
func TestInspectRemoteIndex(t *testing.T) {
	plain := requirePeer(t, "registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
	tls, user, password, ca := tlsRig(t)
	ctx := t.Context()
	s := openStore(t)
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	repo := uniqueRepo(plain, "index")
	epoch := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var children []idpkit.Descriptor
	var layers []string
	for _, arch := range []string{"amd64", "arm64"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "arch"), []byte(arch+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ref := repo + ":" + arch
		built, err := s.Build(ctx, idpkit.BuildOptions{
			Context: dir, Tags: []string{ref}, Platform: "linux/" + arch,
			Env: map[string]string{"ARCH": arch}, Cmd: []string{"/bin/true"}, Workdir: "/srv",
			SourceDateEpoch: idpkit.Ptr(epoch.Unix()),
		})
		if err != nil {
			t.Fatalf("Build for linux/%s: %v", arch, err)
		}
		// The local image's config, typed: platform, env, created as a time, diff ids.
		in, err := s.Inspect(ctx, idpkit.ImageRef{Reference: ref})
		if err != nil || in.Config == nil || in.Config.Config == nil {
			t.Fatalf("Inspect %s: %+v, %v", ref, in, err)
		}
		cfg := in.Config
		if cfg.OS != "linux" || cfg.Architecture != arch || !slices.Contains(cfg.Config.Env, "ARCH="+arch) ||
			!slices.Equal(cfg.Config.Cmd, []string{"/bin/true"}) || cfg.Config.WorkingDir != "/srv" {
			t.Fatalf("Inspect %s: config %+v, container config %+v", ref, cfg, cfg.Config)
		}
		if cfg.Created == nil || !cfg.Created.Equal(epoch) {
			t.Fatalf("Inspect %s: created %v, want the build's SOURCE_DATE_EPOCH %v", ref, cfg.Created, epoch)
		}
		if cfg.Rootfs.Type != "layers" || !slices.Equal(cfg.Rootfs.DiffIDs, []string{built.Layer.DiffID}) || built.Layer.DiffID == built.Layer.Digest {
			t.Fatalf("Inspect %s: rootfs %+v, want the layer's uncompressed digest %s", ref, cfg.Rootfs, built.Layer.DiffID)
		}
		if _, err := s.Push(ctx, idpkit.PushOptions{Source: ref}); err != nil {
			t.Fatalf("Push %s: %v", ref, err)
		}
		blob, err := os.Stat(filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(built.Digest, "sha256:")))
		if err != nil {
			t.Fatalf("the manifest blob of %s: %v", ref, err)
		}
		children = append(children, idpkit.Descriptor{
			MediaType: manifestMediaType, Digest: built.Digest, Size: uint64(blob.Size()),
			Platform: &idpkit.Platform{OS: "linux", Architecture: arch},
		})
		layers = append(layers, built.Layer.Digest)
	}
	index, err := json.Marshal(idpkit.ImageIndex{
		SchemaVersion: 2, MediaType: indexMediaType, Manifests: children,
		Annotations: map[string]string{"org.opencontainers.image.title": "go-multi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	indexDigest := putIndex(t, repo, "multi", index)

	// Read without pulling: the index itself, typed, and the chosen platform's manifest and config.
	arm := idpkit.RegistryOptions{Platform: "linux/arm64"}
	remote, err := idpkit.InspectRemote(ctx, idpkit.RemoteRef{Reference: repo + ":multi", RegistryOptions: arm})
	if err != nil {
		t.Fatalf("InspectRemote %s:multi: %v", repo, err)
	}
	// Digest, MediaType, Manifest and Config describe the chosen platform's manifest.
	if remote.MediaType != manifestMediaType || remote.IndexDigest != indexDigest || !slices.Equal(remote.Platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("InspectRemote of an index: media_type %q, index_digest %q (want %s), platforms %v", remote.MediaType, remote.IndexDigest, indexDigest, remote.Platforms)
	}
	got := remote.Index
	if got == nil || got.SchemaVersion != 2 || got.MediaType != indexMediaType || len(got.Manifests) != 2 ||
		got.Annotations["org.opencontainers.image.title"] != "go-multi" {
		t.Fatalf("InspectRemote: index %+v", got)
	}
	for i, m := range got.Manifests {
		if m.Digest != children[i].Digest || m.Size != children[i].Size || m.MediaType != manifestMediaType ||
			m.Platform == nil || m.Platform.OS != "linux" || m.Platform.Architecture != children[i].Platform.Architecture {
			t.Fatalf("InspectRemote: index manifest %d is %+v (platform %+v), want %+v", i, m, m.Platform, children[i])
		}
	}
	if remote.Digest != children[1].Digest || remote.Config == nil || remote.Config.Architecture != "arm64" {
		t.Fatalf("InspectRemote with linux/arm64: digest %s (want %s), config %+v", remote.Digest, children[1].Digest, remote.Config)
	}
	if l := remote.Manifest.Layers; len(l) != 1 || l[0].Digest != layers[1] || remote.Manifest.MediaType != manifestMediaType {
		t.Fatalf("InspectRemote with linux/arm64: manifest %+v, want the arm64 layer %s", remote.Manifest, layers[1])
	}

	// Copy with every platform to the TLS registry: the index arrives byte for byte (its
	// digest is the result's) and each platform's manifest with it.
	dst := uniqueRepo(tls, "index-copy")
	reg := idpkit.RegistryOptions{CAFiles: []string{ca}}
	creds := idpkit.Credentials{Username: user, Password: password}
	all := reg
	all.AllPlatforms = true
	copied, err := idpkit.Copy(ctx, idpkit.CopyOptions{Source: repo + ":multi", Destination: dst + ":all", RegistryOptions: all}, creds)
	if err != nil || copied.Digest != indexDigest {
		t.Fatalf("Copy with AllPlatforms: %+v, %v; want the index's digest %s", copied, err, indexDigest)
	}
	there, err := idpkit.InspectRemote(ctx, idpkit.RemoteRef{Reference: dst + ":all", RegistryOptions: reg}, creds)
	if err != nil || there.IndexDigest != indexDigest || there.Index == nil || !reflect.DeepEqual(there.Index, got) {
		t.Fatalf("InspectRemote of the copied index: %+v, %v", there, err)
	}
	for i, child := range children {
		m, err := idpkit.InspectRemote(ctx, idpkit.RemoteRef{Reference: dst + "@" + child.Digest, RegistryOptions: reg}, creds)
		if err != nil || m.Digest != child.Digest || m.Config == nil || m.Config.Architecture != child.Platform.Architecture ||
			len(m.Manifest.Layers) != 1 || m.Manifest.Layers[0].Digest != layers[i] {
			t.Fatalf("the copied %s manifest %s: %+v, %v", child.Platform.Architecture, child.Digest, m, err)
		}
	}
}

// putIndex PUTs an index document as repo:tag on the plain registry, as a client that built it
// does, and returns the digest the registry names it by.
func putIndex(t *testing.T, repo, tag string, index []byte) string {
	t.Helper()
	host, path, _ := strings.Cut(repo, "/")
	url := fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, path, tag)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, bytes.NewReader(index))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", indexMediaType)
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %s", url, resp.Status)
	}
	digest := resp.Header.Get("Docker-Content-Digest")
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256(index)); digest != want {
		t.Fatalf("PUT %s: the registry names the index %q, want %s", url, digest, want)
	}
	return digest
}
