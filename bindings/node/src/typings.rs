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
}
