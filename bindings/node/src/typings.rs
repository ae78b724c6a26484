//! TypeScript declarations of the option, result and event shapes.
//!
//! The runtime does not use these structs: options and results cross the boundary as JSON
//! values whose keys are converted generically (see `keys`), so a field added to a core type
//! works at once. These mirrors exist so that `napi build` writes precise declarations into
//! `index.d.ts`; add the field here too to make it visible to TypeScript.

use napi_derive::napi;
use std::collections::HashMap;

/// Options of `Store.build`. Every field has the core's default.
#[napi(object)]
pub struct BuildOptions {
    /// References to tag the image with in the store (`registry/repo:tag`).
    pub tags: Option<Vec<String>>,
    /// Base image in the store, or `scratch` (the default) for an image with only this layer.
    pub from: Option<String>,
    /// Where the context lands inside the image (default `/`).
    pub prefix: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// Environment variables; they override the base image's variables of the same name.
    pub env: Option<HashMap<String, String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Config labels.
    pub labels: Option<HashMap<String, String>>,
    /// Manifest annotations.
    pub annotations: Option<HashMap<String, String>>,
    /// `os/arch[/variant]`; defaults to the base image's platform, else the host's.
    pub platform: Option<String>,
    /// Patterns excluded on top of the context's `.dockerignore`.
    pub excludes: Option<Vec<String>>,
    /// Layer compression (default `gzip`).
    #[napi(ts_type = "'gzip' | 'zstd'")]
    pub compression: Option<String>,
    /// Compression level; defaults to gzip 1 / zstd 3.
    pub level: Option<i32>,
    /// Compression threads; defaults to every core. Never changes the output bytes.
    pub threads: Option<u32>,
    /// Timestamp (seconds since the epoch) for file entries and the config's `created`;
    /// defaults to `$SOURCE_DATE_EPOCH`, else 0.
    pub source_date_epoch: Option<i64>,
    /// Ignore the layer cache and re-read every file.
    pub no_cache: Option<bool>,
    /// Called on the event loop with each progress event (never blocks the build; an
    /// exception thrown here is reported as an uncaught exception).
    #[napi(ts_type = "(event: IdpkitEvent) => void")]
    pub on_progress: Option<serde_json::Value>,
    /// Aborting it stops the build at its next file; the promise rejects with
    /// `code === 'CANCELLED'`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// Options of `Store.importLayout`.
#[napi(object)]
pub struct ImportOptions {
    /// Import only the image with this tag (`ref.name` annotation) from the layout.
    pub tag: Option<String>,
    /// Store the imported image under this reference.
    pub name: Option<String>,
}

/// Options of `Store.export`.
#[napi(object)]
pub struct ExportOptions {
    /// The `ref.name` the image gets inside the layout (default: the reference's tag).
    pub tag: Option<String>,
}

/// One layer as stored.
#[napi(object)]
pub struct LayerInfo {
    pub digest: String,
    pub diff_id: String,
    pub size: f64,
    pub media_type: String,
}

/// What `Store.build` produced.
#[napi(object)]
pub struct BuildResult {
    /// Manifest digest (`sha256:...`): the image's identity.
    pub digest: String,
    pub config_digest: String,
    /// The layer built from the context.
    pub layer: LayerInfo,
    /// Tags now pointing at this image (normalized references).
    pub tags: Vec<String>,
    /// Whether the layer came from the layer cache.
    pub cached: bool,
    /// Total compressed size of all layers plus config and manifest.
    pub size: f64,
    /// Files and directories written into the layer.
    pub entries: f64,
}

/// One row of `Store.images`.
#[napi(object)]
pub struct ImageSummary {
    /// The normalized reference the image is tagged with, or `null` for an untagged entry.
    #[napi(ts_type = "string | null")]
    pub reference: Option<String>,
    pub digest: String,
    /// Manifest, config and layers, compressed.
    pub size: f64,
    /// The config's `created` (RFC 3339), or `null`.
    #[napi(ts_type = "string | null")]
    pub created: Option<String>,
    pub media_type: String,
}

/// `Store.inspect`: the manifest and config as parsed JSON (their own field names, untouched).
#[napi(object)]
pub struct ImageInspect {
    #[napi(ts_type = "string | null")]
    pub reference: Option<String>,
    pub digest: String,
    #[napi(ts_type = "Record<string, any>")]
    pub manifest: serde_json::Value,
    #[napi(ts_type = "Record<string, any>")]
    pub config: serde_json::Value,
}

/// `Store.gc`: what was removed.
#[napi(object)]
pub struct GcReport {
    pub removed_blobs: f64,
    pub freed_bytes: f64,
}

/// A progress event passed to `onProgress`, discriminated by `type`.
#[napi(discriminant = "type", discriminant_case = "snake_case")]
pub enum IdpkitEvent {
    /// A build started reading its context.
    BuildStarted { context: String },
    /// Bytes of file content read into the layer so far.
    LayerProgress { files: f64, bytes: f64 },
    /// The layer came from the layer cache: nothing was re-read.
    LayerCached { digest: String },
    /// The layer is written and hashed.
    LayerDone {
        digest: String,
        diff_id: String,
        size: f64,
    },
    /// An image manifest was stored (and tagged).
    ImageStored { digest: String, tags: Vec<String> },
    /// Something was skipped or looks wrong but the operation goes on.
    Warning { message: String },
    /// A blob transfer (upload or download) started.
    BlobStarted { digest: String, size: f64 },
    /// Bytes of a blob transferred so far (sent every few MiB).
    BlobProgress {
        digest: String,
        bytes: f64,
        size: f64,
    },
    /// A blob transfer finished and was verified.
    BlobDone { digest: String, size: f64 },
    /// The registry (or the store) already had the blob: nothing was sent.
    BlobSkipped { digest: String },
    /// The registry linked the blob from another repository instead of an upload.
    BlobMounted { digest: String, from: String },
    /// A manifest was accepted by the registry.
    ManifestPushed { digest: String, reference: String },
    /// A request failed transiently and will be tried again after `delayMs`.
    RetryScheduled {
        what: String,
        attempt: u32,
        delay_ms: f64,
        reason: String,
    },
    /// Audit: TLS verification was skipped, or plain HTTP used, for a host marked insecure.
    InsecureConnection { host: String, reason: String },
}

/// Options of `Store.push`, `Store.pull` and `listTags`: the core's `RegistryOptions`, each
/// with the core's default, plus credentials and progress.
#[napi(object)]
pub struct RegistryOptions {
    /// Extra CA files (PEM) trusted for every host of the operation.
    pub ca_files: Option<Vec<String>>,
    /// Hosts (`host` or `host:port`) whose certificate is not verified and which may be
    /// spoken to over plain HTTP. Every use emits an `insecure_connection` event.
    pub insecure_hosts: Option<Vec<String>>,
    /// certs.d roots to search; `null` means the defaults.
    #[napi(ts_type = "string[] | null")]
    pub certs_d: Option<Vec<String>>,
    /// Leave out the platform's roots and `SSL_CERT_*`.
    pub no_platform_roots: Option<bool>,
    /// Parallel blob transfers.
    pub jobs: Option<u32>,
    /// Blobs up to this size are uploaded in one request.
    pub monolithic_max: Option<f64>,
    /// Size of one PATCH of a chunked upload.
    pub chunk_size: Option<f64>,
    /// Attempts per request or blob (first try included).
    pub attempts: Option<u32>,
    pub backoff_base_ms: Option<f64>,
    pub backoff_max_ms: Option<f64>,
    pub connect_timeout_secs: Option<f64>,
    /// Seconds without any byte from the registry before a request counts as failed.
    pub read_timeout_secs: Option<f64>,
    /// Seconds one request or blob may spend retrying in all.
    pub retry_budget_secs: Option<f64>,
    /// Failed tries in a row, across the operation's requests, after which it stops sending
    /// (the circuit breaker); 0 disables it.
    pub breaker_threshold: Option<u32>,
    /// `os/arch[/variant]` picked from an image index on pull (default: this machine's).
    pub platform: Option<String>,
    /// Repositories of the same registry to try a cross-repository mount from.
    pub mount_from: Option<Vec<String>>,
    /// User name, with `password`; default: `IDPKIT_REGISTRY_*`, then the Docker config.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A registry bearer (identity) token, instead of `username` and `password`.
    pub token: Option<String>,
    /// Called on the event loop with each progress and audit event.
    #[napi(ts_type = "(event: IdpkitEvent) => void")]
    pub on_progress: Option<serde_json::Value>,
    /// Aborting it cancels the transfer (rejects with `code === 'CANCELLED'`).
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// What `Store.push` did.
#[napi(object)]
pub struct PushResult {
    /// The remote reference pushed to.
    pub reference: String,
    /// The digest of the pushed manifest (or index).
    pub digest: String,
    pub blobs_uploaded: f64,
    pub blobs_skipped: f64,
    pub blobs_mounted: f64,
    pub bytes_uploaded: f64,
    /// The manifest was already there under the tag: nothing was sent.
    pub unchanged: bool,
}

/// What `Store.pull` did.
#[napi(object)]
pub struct PullResult {
    /// The store key the image is tagged with.
    pub reference: String,
    /// The digest of the stored manifest.
    pub digest: String,
    /// When the remote reference is an index: its digest (the manifest is the platform's).
    #[napi(ts_type = "string | null")]
    pub index_digest: Option<String>,
    pub blobs_fetched: f64,
    pub blobs_present: f64,
    pub bytes_fetched: f64,
}
