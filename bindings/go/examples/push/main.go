// Command push builds an OCI image from a directory with idpkit and pushes it to a
// registry, from Go.
//
//	go run ./examples/push -store /tmp/store 127.0.0.1:38451/team/app:dev ./app
//
// Credentials: -user NAME with the password in $IDPKIT_PUSH_PASSWORD (never on the command
// line), else idpkit looks them up ($IDPKIT_REGISTRY_USERNAME/_PASSWORD, Docker's config).
// -ca-file trusts a private CA; a loopback registry without TLS needs nothing. Ctrl-C stops
// the build or the push (the context reaches the library through idpkit_cancel).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"idpkit.dev/idpkit"
)

func main() {
	storeDir := flag.String("store", "", "store directory (default: $IDPKIT_STORE or the XDG data dir)")
	user := flag.String("user", "", "registry user name (password in $IDPKIT_PUSH_PASSWORD)")
	caFile := flag.String("ca-file", "", "PEM file of a CA to trust for the registry")
	jobs := flag.Int("jobs", 0, "parallel blob uploads (0: the library's default)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: push [-store DIR] [-user NAME] [-ca-file PEM] REGISTRY/REPO:TAG CONTEXT_DIR")
		os.Exit(2)
	}
	ref, contextDir := flag.Arg(0), flag.Arg(1)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var store *idpkit.Store
	var err error
	if *storeDir != "" {
		store, err = idpkit.OpenStore(*storeDir)
	} else {
		store, err = idpkit.OpenDefaultStore()
	}
	if err != nil {
		fail(err)
	}
	defer store.Close()

	built, err := store.Build(ctx, idpkit.BuildOptions{Context: contextDir, Tags: []string{ref}})
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "built %s (%d entries)\n", built.Digest, built.Entries)

	opts := idpkit.PushOptions{Source: ref}
	if *jobs > 0 {
		opts.Jobs = idpkit.Ptr(uint(*jobs))
	}
	if *caFile != "" {
		opts.CAFiles = []string{*caFile}
	}
	var creds idpkit.Credentials // none: looked up (IDPKIT_REGISTRY_*, Docker's config)
	if *user != "" {
		creds = idpkit.Credentials{Username: *user, Password: idpkit.Secret(os.Getenv("IDPKIT_PUSH_PASSWORD"))}
	}
	pushed, err := store.Push(ctx, opts, creds, idpkit.OnEvent(func(e idpkit.Event) {
		switch e.Type {
		case idpkit.EventBlobDone:
			fmt.Fprintf(os.Stderr, "uploaded %s (%d bytes)\n", e.Digest, e.Size)
		case idpkit.EventBlobSkipped:
			fmt.Fprintf(os.Stderr, "already there %s\n", e.Digest)
		case idpkit.EventRetryScheduled:
			fmt.Fprintf(os.Stderr, "retrying %s: %s\n", e.What, e.Reason)
		}
	}))
	if err != nil {
		fail(err)
	}
	state := "pushed"
	if pushed.Unchanged {
		state = "unchanged"
	}
	fmt.Printf("%s %s@%s (%d blobs uploaded, %d skipped, %d bytes)\n", state, pushed.Reference,
		pushed.Digest, pushed.BlobsUploaded, pushed.BlobsSkipped, pushed.BytesUploaded)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	switch {
	case errors.Is(err, idpkit.ErrCancelled):
		os.Exit(130)
	case errors.Is(err, idpkit.ErrAuth):
		fmt.Fprintln(os.Stderr, "hint: -user NAME with the password in $IDPKIT_PUSH_PASSWORD")
	}
	os.Exit(1)
}
