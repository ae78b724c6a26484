// Command flux-archive writes a directory as the gzipped tarball Flux's source-controller
// serves as a source's artifact, made by source-controller's own code: the body of
// Storage.Archive with sanitizeHeader and setDefaultMode, from github.com/fluxcd/pkg
// artifact/storage/archive.go (the package source-controller's internal/storage/storage.go
// moved to in 2025; fluxcd/pkg e2cfd1a2, source-controller 39b711b1), standard library
// only. The result:
//   - Go's archive/tar entries in filepath.Walk order (lexical, each directory before its
//     contents), the root itself first as a directory named "."; names relative to the root,
//     directories without a trailing slash;
//   - regular files and directories only (symlinks and anything else left out);
//   - uid/gid 0, no user or group names, zero modification/access/change times;
//   - modes 0750 for directories, 0700 for files with any execute bit, 0600 for the rest;
//   - Go's compress/gzip at its default level (no name, no modification time in the gzip
//     header).
//
// The filter is the one a GitRepository without .sourceignore and spec.ignore gets,
// SourceIgnoreFilter(nil, domain): fluxcd/pkg sourceignore's VCS patterns (.git/,
// .gitignore, .gitmodules, .gitattributes) and default patterns (images, archives, CI files,
// .goreleaser.yml, .sops.yaml, .flux.yaml), matched as go-git's gitignore matcher matches
// them. A .sourceignore in the tree changes that filter; this copy refuses the tree rather
// than approximate it.
//
// Usage: flux-archive DIR OUT.tar.gz   (prints the artifact's digest, sha256:<hex>, and size)
//
// Copyright 2025 The Flux authors (Archive, sanitizeHeader, setDefaultMode, the patterns);
// Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file
// except in compliance with the License. You may obtain a copy of the License at
// http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to
// in writing, software distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License
// for the specific language governing permissions and limitations under the License.
// Changes for idpkit's rig: a main, the output path as an argument instead of the storage's
// artifact path, the digest printed instead of set on a meta.Artifact, and the default
// ignore matcher written out with the standard library instead of go-git's gitignore package.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	// DefaultFileMode is the permission mode applied to files inside an artifact archive.
	DefaultFileMode int64 = 0o600
	// DefaultDirMode is the permission mode applied to all directories inside an artifact archive.
	DefaultDirMode int64 = 0o750
	// DefaultExeFileMode is the permission mode applied to executable files inside an artifact archive.
	DefaultExeFileMode int64 = 0o700
)

// fluxcd/pkg sourceignore: ExcludeVCS, then ExcludeExt, ExcludeCI and ExcludeExtra.
const (
	ExcludeVCS   = ".git/,.gitignore,.gitmodules,.gitattributes"
	ExcludeExt   = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
	ExcludeCI    = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml"
	ExcludeExtra = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"
)

// writeCounter is an implementation of io.Writer
// that only records the number of bytes written.
type writeCounter struct {
	written int64
}

// Write implements the io.Writer interface.
func (wc *writeCounter) Write(p []byte) (int, error) {
	n := len(p)
	wc.written += int64(n)
	return n, nil
}

// ArchiveFileFilter must return true if a file should not be included
// in the archive after inspecting the given path and/or os.FileInfo.
type ArchiveFileFilter func(p string, fi os.FileInfo) bool

// pattern is one exclusion of the default set, parsed as go-git's gitignore.ParsePattern
// parses it: a trailing slash means directories only; a leading "**/" matches at any
// depth, which for a single name is what a name without a slash does anyway.
type pattern struct {
	name    string
	dirOnly bool
}

func defaultPatterns() []pattern {
	var ps []pattern
	for _, p := range strings.Split(strings.Join([]string{ExcludeVCS, ExcludeExt, ExcludeCI, ExcludeExtra}, ","), ",") {
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(strings.TrimPrefix(p, "**/"), "/")
		ps = append(ps, pattern{name: p, dirOnly: dirOnly})
	}
	return ps
}

// defaultFilter is SourceIgnoreFilter(nil, domain) for the root dir: a path is left out when
// one of its components (below the root) matches a pattern, except that a directories-only
// pattern does not match the last component of a file (go-git's simpleNameMatch).
func defaultFilter(dir string) ArchiveFileFilter {
	ps := defaultPatterns()
	domain := strings.Split(dir, string(filepath.Separator))
	return func(p string, fi os.FileInfo) bool {
		path := strings.Split(p, string(filepath.Separator))
		if len(path) <= len(domain) {
			return false
		}
		path = path[len(domain):]
		for _, pt := range ps {
			for i, name := range path {
				if ok, err := filepath.Match(pt.name, name); err != nil || !ok {
					continue
				}
				if pt.dirOnly && !fi.IsDir() && i == len(path)-1 {
					break
				}
				return true
			}
		}
		return false
	}
}

// Archive archives the given directory as a tarball to out (through a temporary sibling
// renamed into place), excluding any ArchiveFileFilter matches. While archiving, any
// environment specific data (for example, the user and group name) is stripped from file
// headers. It returns the digest and size of what it wrote.
func Archive(out string, dir string, filter ArchiveFileFilter) (digest string, size int64, err error) {
	if f, err := os.Stat(dir); os.IsNotExist(err) || !f.IsDir() {
		return "", 0, fmt.Errorf("invalid dir path: %s", dir)
	}

	tf, err := os.CreateTemp(filepath.Split(out))
	if err != nil {
		return "", 0, err
	}
	tmpName := tf.Name()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()

	d := sha256.New()
	sz := &writeCounter{}
	mw := io.MultiWriter(d, tf, sz)

	gw := gzip.NewWriter(mw)
	tw := tar.NewWriter(gw)
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}

		// Ignore anything that is not a file or directories e.g. symlinks
		if m := fi.Mode(); !(m.IsRegular() || m.IsDir()) {
			return nil
		}

		// Skip filtered files
		if filter != nil && filter(p, fi) {
			return nil
		}

		header, err := tar.FileInfoHeader(fi, p)
		if err != nil {
			return err
		}

		// The name needs to be modified to maintain directory structure
		// as tar.FileInfoHeader only has access to the base name of the file.
		// Ref: https://golang.org/src/archive/tar/common.go?#L626
		relFilePath := p
		if filepath.IsAbs(dir) {
			relFilePath, err = filepath.Rel(dir, p)
			if err != nil {
				return err
			}
		}
		sanitizeHeader(relFilePath, header)

		if err := tw.WriteHeader(header); err != nil {
			return err
		}

		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := io.Copy(tw, f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}); err != nil {
		tw.Close()
		gw.Close()
		tf.Close()
		return "", 0, err
	}

	if err := tw.Close(); err != nil {
		gw.Close()
		tf.Close()
		return "", 0, err
	}
	if err := gw.Close(); err != nil {
		tf.Close()
		return "", 0, err
	}
	if err := tf.Close(); err != nil {
		return "", 0, err
	}

	if err := os.Chmod(tmpName, 0o600); err != nil {
		return "", 0, err
	}

	if err := os.Rename(tmpName, out); err != nil {
		return "", 0, err
	}

	return "sha256:" + hex.EncodeToString(d.Sum(nil)), sz.written, nil
}

// sanitizeHeader modifies the tar.Header to be relative to the root of the
// archive and removes any environment specific data.
func sanitizeHeader(relP string, h *tar.Header) {
	// Modify the name to be relative to the root of the archive,
	// this ensures we maintain the same structure when extracting.
	h.Name = relP

	// We want to remove any environment specific data as well, this
	// ensures the checksum is purely content based.
	h.Gid = 0
	h.Uid = 0
	h.Uname = ""
	h.Gname = ""
	h.ModTime = time.Time{}
	h.AccessTime = time.Time{}
	h.ChangeTime = time.Time{}

	// Override the mode to be the default for the type of file.
	setDefaultMode(h)
}

// setDefaultMode sets the default mode for the given header.
func setDefaultMode(h *tar.Header) {
	if h.FileInfo().IsDir() {
		h.Mode = DefaultDirMode
		return
	}

	if h.FileInfo().Mode().IsRegular() {
		mode := h.FileInfo().Mode()
		if mode&os.ModeType == 0 && mode&0o111 != 0 {
			h.Mode = DefaultExeFileMode
			return
		}
		h.Mode = DefaultFileMode
		return
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: flux-archive DIR OUT.tar.gz")
		os.Exit(2)
	}
	dir, out := os.Args[1], os.Args[2]
	if _, err := os.Stat(filepath.Join(dir, ".sourceignore")); err == nil {
		fmt.Fprintf(os.Stderr, "flux-archive: %s has a .sourceignore; this copy of source-controller's archiver only applies the default ignore patterns\n", dir)
		os.Exit(1)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flux-archive: %v\n", err)
		os.Exit(1)
	}
	digest, size, err := Archive(out, abs, defaultFilter(abs))
	if err != nil {
		fmt.Fprintf(os.Stderr, "flux-archive: archiving %s into %s: %v\n", dir, out, err)
		os.Exit(1)
	}
	fmt.Printf("%s %d\n", digest, size)
}
