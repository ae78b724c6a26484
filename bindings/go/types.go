package idpkit

import "encoding/json"

// Compression of the built layer.
type Compression string

const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// BuildOptions mirrors the core's BuildOptions JSON (snake_case fields). Only Context is
// required; a zero field takes the core's default.
type BuildOptions struct {
	// Context is the directory whose contents become the new layer.
	Context string `json:"context"`
	// Tags to give the image in the store (registry/repo:tag).
	Tags []string `json:"tags,omitempty"`
	// From is a base image in the store; "" or "scratch" for an image with only this layer.
	From string `json:"from,omitempty"`
	// Prefix is where the context lands inside the image; "" means "/".
	Prefix string `json:"prefix,omitempty"`
	// Entrypoint and Cmd: nil keeps the base image's; an empty, non-nil slice clears it.
	Entrypoint []string `json:"entrypoint"`
	Cmd        []string `json:"cmd"`
	// Env overrides the base image's variables of the same name.
	Env     map[string]string `json:"env,omitempty"`
	Workdir string            `json:"workdir,omitempty"`
	User    string            `json:"user,omitempty"`
	// Labels go into the image config, Annotations into the manifest.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Platform is os/arch[/variant]; "" means the base image's, else the host's.
	Platform string `json:"platform,omitempty"`
	// Excludes are .dockerignore patterns applied on top of the context's .dockerignore.
	Excludes    []string    `json:"excludes,omitempty"`
	Compression Compression `json:"compression,omitempty"`
	// Level is the compression level (gzip 0-9, zstd 1-22); nil means gzip 1 / zstd 3.
	Level *int `json:"level,omitempty"`
	// Threads for compression; 0 means every core. Never changes the output bytes.
	Threads int `json:"threads,omitempty"`
	// SourceDateEpoch stamps files and the config's created time; nil means
	// $SOURCE_DATE_EPOCH, else 0.
	SourceDateEpoch *int64 `json:"source_date_epoch,omitempty"`
	// NoCache ignores the layer cache and re-reads every file.
	NoCache bool `json:"no_cache,omitempty"`

	// OnEvent, when set, receives progress events. It runs on a thread of the library, one
	// event at a time, and only while Build runs; keep it quick. A panic in it is re-raised
	// by Build once the build has stopped.
	OnEvent func(Event) `json:"-"`
}

// LayerInfo is one stored layer.
type LayerInfo struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diff_id"`
	Size      uint64 `json:"size"`
	MediaType string `json:"media_type"`
}

// BuildResult is what Build produced.
type BuildResult struct {
	// Digest is the manifest digest (sha256:...): the image's identity.
	Digest       string    `json:"digest"`
	ConfigDigest string    `json:"config_digest"`
	Layer        LayerInfo `json:"layer"`
	// Tags now pointing at the image (normalized references).
	Tags []string `json:"tags"`
	// Cached reports whether the layer came from the layer cache.
	Cached bool `json:"cached"`
	// Size is the compressed size of all layers plus config and manifest.
	Size uint64 `json:"size"`
	// Entries is the number of files and directories in the layer.
	Entries uint64 `json:"entries"`
}

// ImageSummary is one image entry in the store.
type ImageSummary struct {
	// Reference is the normalized reference the entry is tagged with; "" when untagged.
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	Size      uint64 `json:"size"`
	// Created is the config's created time (RFC 3339), "" if unknown.
	Created   string `json:"created"`
	MediaType string `json:"media_type"`
}

// ImageInspect holds an image's parsed manifest and config as raw JSON.
type ImageInspect struct {
	Reference string          `json:"reference"`
	Digest    string          `json:"digest"`
	Manifest  json.RawMessage `json:"manifest"`
	Config    json.RawMessage `json:"config"`
}

// GCReport says what GC removed.
type GCReport struct {
	RemovedBlobs uint64 `json:"removed_blobs"`
	FreedBytes   uint64 `json:"freed_bytes"`
}

// ImportOptions select what Import copies.
type ImportOptions struct {
	// Tag picks the layout entry with this ref name; "" copies every entry.
	Tag string
	// Name is the reference to store the image as; "" keeps the layout's names.
	Name string
}

// ExportOptions shape what Export writes.
type ExportOptions struct {
	// Tag is the ref name in the layout; "" means the reference's tag.
	Tag string
}

// Event is one progress event, the core's Event flattened: Type says which fields are set.
//
//	build_started  Context
//	layer_progress Files, Bytes
//	layer_cached   Digest
//	layer_done     Digest, DiffID, Size
//	image_stored   Digest, Tags
//	warning        Message
//
// and from Push and Pull:
//
//	blob_started        Digest, Size
//	blob_progress       Digest, Bytes, Size
//	blob_done           Digest, Size
//	blob_skipped        Digest
//	blob_mounted        Digest, From
//	manifest_pushed     Digest, Reference
//	retry_scheduled     What, Attempt, DelayMs, Reason
//	insecure_connection Host, Reason
//
// New types may be added: ignore the ones you do not know.
type Event struct {
	Type    string   `json:"type"`
	Context string   `json:"context,omitempty"`
	Files   uint64   `json:"files,omitempty"`
	Bytes   uint64   `json:"bytes,omitempty"`
	Digest  string   `json:"digest,omitempty"`
	DiffID  string   `json:"diff_id,omitempty"`
	Size    uint64   `json:"size,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	Message string   `json:"message,omitempty"`
	// From is the repository a blob was mounted from.
	From string `json:"from,omitempty"`
	// Reference is the remote reference a manifest was pushed to.
	Reference string `json:"reference,omitempty"`
	What      string `json:"what,omitempty"`
	Attempt   uint32 `json:"attempt,omitempty"`
	DelayMs   uint64 `json:"delay_ms,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Host      string `json:"host,omitempty"`
	// Raw is the event's JSON document as the library sent it.
	Raw json.RawMessage `json:"-"`
}
