//! Options and results of the image operations: plain serde structs shared by every binding.
//! JSON field names are the Rust names (snake_case); Node maps them to camelCase.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            other => Err(crate::Error::invalid(format!(
                "compression: unknown value {other:?}; use gzip or zstd"
            ))),
        }
    }
}

/// What `build` needs. Every field but `context` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BuildOptions {
    /// The directory whose contents become the new layer.
    #[schemars(extend("x-path" = true))]
    pub context: PathBuf,
    /// References to tag the image with in the store (`registry/repo:tag`).
    pub tags: Vec<String>,
    /// Base image: in the store, else pulled from its registry (see `pull`); `scratch` or
    /// none for an image with only this layer.
    pub from: Option<String>,
    /// Where the context lands inside the image.
    pub prefix: String,
    /// The config's `Entrypoint` (replaces the base image's).
    pub entrypoint: Option<Vec<String>>,
    /// The config's `Cmd`, default arguments (replaces the base image's).
    pub cmd: Option<Vec<String>>,
    /// Environment variables; they override the base image's variables of the same name.
    pub env: BTreeMap<String, String>,
    /// The config's `WorkingDir`.
    pub workdir: Option<String>,
    /// The config's `User` (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// Config labels.
    pub labels: BTreeMap<String, String>,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// `os/arch[/variant]`; defaults to the base image's platform, else the host's.
    pub platform: Option<String>,
    /// Patterns excluded on top of the context's `.dockerignore`.
    pub excludes: Vec<String>,
    /// Layer compression: `gzip` (what every runtime reads) or `zstd`.
    pub compression: Compression,
    /// Compression level; defaults to gzip 1 / zstd 3.
    pub level: Option<i32>,
    /// Compression threads; defaults to every core. Never changes the output bytes.
    pub threads: Option<usize>,
    /// Timestamp for file entries and the config's `created`; defaults to `SOURCE_DATE_EPOCH`,
    /// else 0 (1970-01-01).
    pub source_date_epoch: Option<i64>,
    /// Ignore the layer cache and re-read every file.
    pub no_cache: bool,
    /// How a base named by `from` that is not in the store is pulled: trust, insecure
    /// hosts, retries, platform (credentials: the call's, else the stored login).
    pub pull: crate::registry::RegistryOptions,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            context: PathBuf::from("."),
            tags: Vec::new(),
            from: None,
            prefix: "/".to_string(),
            entrypoint: None,
            cmd: None,
            env: BTreeMap::new(),
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            platform: None,
            excludes: Vec::new(),
            compression: Compression::Gzip,
            level: None,
            threads: None,
            source_date_epoch: None,
            no_cache: false,
            pull: crate::registry::RegistryOptions::default(),
        }
    }
}

/// One layer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LayerInfo {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
}

/// What `build` produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    pub size: u64,
    /// Files and directories written into the layer.
    pub entries: u64,
}

/// One row of `images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageSummary {
    /// The normalized reference the image is tagged with, or `None` for an untagged entry.
    pub reference: Option<String>,
    pub digest: String,
    /// Manifest, config and layers, compressed.
    pub size: u64,
    /// The config's `created` (RFC 3339), if any.
    #[schemars(extend("format" = "date-time"))]
    pub created: Option<String>,
    pub media_type: String,
}

/// `inspect`: an image of the store, its manifest and config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageInspect {
    pub reference: Option<String>,
    /// The manifest's digest.
    pub digest: String,
    pub manifest: super::ImageManifest,
    /// The image config; none for an artifact whose config is not an image config.
    pub config: Option<super::ImageConfig>,
}

/// `gc`: what was removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GcReport {
    pub removed_blobs: u64,
    pub freed_bytes: u64,
}
