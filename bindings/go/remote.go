package idpkit

/*
#include <stdlib.h>
#include <idpkit.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
)

// RemoteOptions shape the registry calls that take no progress callback (ListTags,
// Catalog, Delete); the fields are as for PushOptions.
type RemoteOptions struct {
	Registry RegistryOptions
	Username string
	Password Secret
}

// ListTagsOptions shape ListTags.
type ListTagsOptions = RemoteOptions

// CopyOptions shape Copy; the fields are as for PushOptions. The credentials are the
// destination's: across registries the source is read with its own stored login.
type CopyOptions struct {
	Registry RegistryOptions
	Username string
	Password Secret
	OnEvent  func(Event)
}

// LoginResult is what Login stored.
type LoginResult struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	// StoredIn is the file (or credential helper) the credentials were written to.
	StoredIn string `json:"stored_in"`
}

// decodeAnswer decodes a JSON document the library returned and frees it.
func decodeAnswer(cout *C.char, out any) error {
	defer C.idpkit_string_free(cout)
	if err := json.Unmarshal([]byte(C.GoString(cout)), out); err != nil {
		return &Error{Kind: KindInternal, Message: fmt.Sprintf("decoding the library's answer: %v", err)}
	}
	return nil
}

// jsonAnswer runs a store-less C call that returns a JSON document and decodes it into out.
func jsonAnswer(out any, fn func(out **C.char, err **C.idpkit_error) C.idpkit_result) error {
	var cout *C.char
	var cerr *C.idpkit_error
	if r := fn(&cout, &cerr); r != C.IDPKIT_RESULT_OK {
		return takeError(r, cerr)
	}
	return decodeAnswer(cout, out)
}

// jsonResult runs a store-less C call and decodes its JSON answer into a new T.
func jsonResult[T any](fn func(out **C.char, err **C.idpkit_error) C.idpkit_result) (*T, error) {
	var result T
	if err := jsonAnswer(&result, fn); err != nil {
		return nil, err
	}
	return &result, nil
}

// stringAnswer runs a store-less C call that returns a plain string.
func stringAnswer(fn func(out **C.char, err **C.idpkit_error) C.idpkit_result) (string, error) {
	var cout *C.char
	var cerr *C.idpkit_error
	if r := fn(&cout, &cerr); r != C.IDPKIT_RESULT_OK {
		return "", takeError(r, cerr)
	}
	defer C.idpkit_string_free(cout)
	return C.GoString(cout), nil
}

// Copy copies the image source (host[:port]/repo:tag or ...@sha256:...) to destination.
// Within one registry (a re-tag included) the blobs are mounted or already there, so only
// manifests move; across registries the image streams through a temporary store (an index
// resolves to opts.Registry.Platform then). Cancelling ctx stops it soon after.
func Copy(ctx context.Context, source, destination string, opts CopyOptions) (*PushResult, error) {
	rc, err := newRegistryCall(ctx, opts.Registry, opts.Username, opts.Password, opts.OnEvent)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	csrc, free1 := cstr(source, false)
	defer free1()
	cdst, free2 := cstr(destination, false)
	defer free2()
	callback, userData := rc.callback()
	result, err := jsonResult[PushResult](func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_registry_copy(csrc, cdst, rc.options, rc.username, rc.password, callback, userData, cancel, out, cerr)
		})
	})
	return result, withCause(ctx, err)
}

// ListTags lists the tags of repository (host[:port]/path), following the registry's
// pagination. ctx is checked when the call starts only (idpkit_registry_list_tags takes no
// idpkit_cancel): bound it with opts.Registry.Attempts and the timeouts.
func ListTags(ctx context.Context, repository string, opts ListTagsOptions) ([]string, error) {
	return remoteList(ctx, repository, opts, func(arg *C.char, rc *registryCall, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_registry_list_tags(arg, rc.options, rc.username, rc.password, out, cerr)
	})
}

// Catalog lists the repositories of registry (host[:port]) from /v2/_catalog, following
// the registry's pagination. ctx is checked when the call starts only, as for ListTags.
func Catalog(ctx context.Context, registry string, opts RemoteOptions) ([]string, error) {
	return remoteList(ctx, registry, opts, func(arg *C.char, rc *registryCall, out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_registry_catalog(arg, rc.options, rc.username, rc.password, out, cerr)
	})
}

func remoteList(ctx context.Context, arg string, opts RemoteOptions, call func(arg *C.char, rc *registryCall, out **C.char, cerr **C.idpkit_error) C.idpkit_result) ([]string, error) {
	rc, err := newRegistryCall(ctx, opts.Registry, opts.Username, opts.Password, nil)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	carg, free := cstr(arg, false)
	defer free()
	var list []string
	err = jsonAnswer(&list, func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return call(carg, rc, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Delete deletes the manifest reference names (by tag or @sha256: digest) from its
// registry and returns the digest deleted. ctx is checked when the call starts only.
func Delete(ctx context.Context, reference string, opts RemoteOptions) (string, error) {
	rc, err := newRegistryCall(ctx, opts.Registry, opts.Username, opts.Password, nil)
	if err != nil {
		return "", err
	}
	defer rc.free()
	cref, free := cstr(reference, false)
	defer free()
	return stringAnswer(func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_registry_delete(cref, rc.options, rc.username, rc.password, out, cerr)
	})
}

// Login checks username and password (or token) against registry (host[:port]) and stores
// them as `docker login` does: in $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json
// (default ~/.docker/config.json), or through the credential helper configured there.
// Later calls without credentials find them. opts carries trust and timeouts. ctx is
// checked when the call starts only.
func Login(ctx context.Context, registry, username string, password Secret, opts RegistryOptions) (*LoginResult, error) {
	if username == "" || password == "" {
		return nil, &Error{Kind: KindInvalidInput, Message: "login needs a user name and a password or token"}
	}
	// The registryCall keeps the C copy of the password and wipes it when freed; it goes to
	// the library as an argument, never in the options JSON.
	rc, err := newRegistryCall(ctx, opts, username, password, nil)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	creg, free := cstr(registry, false)
	defer free()
	return jsonResult[LoginResult](func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_registry_login(creg, rc.username, rc.password, rc.options, out, cerr)
	})
}

// LoginFromCluster is Login with Gitea's credentials read from the cluster (Secret
// gitea/gitea-credential: its token, else its password), as idpbuilder creates them. The
// credentials go from the cluster to the stored login without passing through Go.
func LoginFromCluster(ctx context.Context, registry string, cluster ClusterOptions, opts RegistryOptions) (*LoginResult, error) {
	rc, err := newRegistryCall(ctx, opts, "", "", nil)
	if err != nil {
		return nil, err
	}
	defer rc.free()
	ccluster, free1, err := jsonArg(cluster, "cluster options")
	if err != nil {
		return nil, err
	}
	defer free1()
	creg, free2 := cstr(registry, false)
	defer free2()
	return jsonResult[LoginResult](func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_registry_login_from_cluster(creg, ccluster, rc.options, out, cerr)
	})
}

// Logout removes the stored credentials of registry; false when there were none.
func Logout(registry string) (bool, error) {
	creg, free := cstr(registry, false)
	defer free()
	var removed C.bool
	var cerr *C.idpkit_error
	if r := C.idpkit_registry_logout(creg, &removed, &cerr); r != C.IDPKIT_RESULT_OK {
		return false, takeError(r, cerr)
	}
	return bool(removed), nil
}

// jsonArg marshals v into a C string for an options argument.
func jsonArg(v any, what string) (*C.char, func(), error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("%s: %v", what, err)}
	}
	c, free := cstr(string(doc), false)
	return c, free, nil
}
