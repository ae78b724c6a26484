package idpkit_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"idpkit.dev/idpkit"
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
	// Both come from the library's one serializer, so the same document is the same bytes.
	if len(remote.Manifest) == 0 || !bytes.Equal(remote.Manifest, local.Manifest) {
		t.Fatalf("InspectRemote's manifest differs from Inspect's:\n%s\n%s", remote.Manifest, local.Manifest)
	}
	if len(remote.Config) == 0 || !bytes.Equal(remote.Config, local.Config) {
		t.Fatalf("InspectRemote's config differs from Inspect's:\n%s\n%s", remote.Config, local.Config)
	}
	// An image manifest, not an index: no index digest and no platforms.
	if remote.IndexDigest != "" || len(remote.Platforms) != 0 || remote.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("InspectRemote of an image manifest: index_digest %q, platforms %v, media_type %q", remote.IndexDigest, remote.Platforms, remote.MediaType)
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
