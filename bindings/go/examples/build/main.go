// Command build builds an OCI image from a directory into an idpkit store, from Go.
//
//	go run ./examples/build -store /tmp/store -tag app:dev ./app
//
// Ctrl-C cancels the build (the context reaches the library through idpkit_cancel).
// bench/ffi.sh times it against the idpkit CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"idpkit.dev/idpkit"
)

func main() {
	storeDir := flag.String("store", "", "store directory (default: $IDPKIT_STORE or the XDG data dir)")
	tag := flag.String("tag", "", "tag for the image, like app:dev")
	compression := flag.String("compression", "gzip", "gzip or zstd")
	noCache := flag.Bool("no-cache", false, "ignore the layer cache")
	quiet := flag.Bool("q", false, "print only the digest")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: build [-store DIR] [-tag REF] [-no-cache] CONTEXT_DIR")
		os.Exit(2)
	}

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
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer store.Close()

	opts := idpkit.BuildOptions{
		Context:     flag.Arg(0),
		Compression: idpkit.Compression(*compression),
		NoCache:     *noCache,
	}
	if *tag != "" {
		opts.Tags = []string{*tag}
	}
	var call []idpkit.CallOption
	if !*quiet {
		call = append(call, idpkit.OnEvent(func(e idpkit.Event) {
			if e.Type == idpkit.EventLayerDone {
				fmt.Fprintf(os.Stderr, "layer %s (%d bytes)\n", e.Digest, e.Size)
			}
		}))
	}

	start := time.Now()
	res, err := store.Build(ctx, opts, call...)
	switch {
	case errors.Is(err, idpkit.ErrCancelled):
		fmt.Fprintln(os.Stderr, "cancelled")
		os.Exit(130)
	case errors.Is(err, idpkit.ErrNotFound):
		fmt.Fprintln(os.Stderr, "no such context or base image:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *quiet {
		fmt.Println(res.Digest)
		return
	}
	fmt.Printf("%s %v %d entries, %d bytes, %s\n", res.Digest, res.Tags, res.Entries, res.Size, time.Since(start).Round(time.Millisecond))
}
