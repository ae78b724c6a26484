//! GitOps source caching: what a Flux source or a URL points at, as a local directory that
//! is fast when cached, never half-written, never written outside the cache.

pub mod argo;
pub mod artifact;
pub mod cache;
pub mod flux;
pub mod git;
pub mod git_cache;
pub mod revision;
pub mod watch;

use crate::call::Call;
use crate::digest::Digest;
use crate::error::Result;
use crate::trust::TrustOptions;
use artifact::{ArtifactLimits, Download};
use cache::{Cache, EntryRecord};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a fetch gives: the entry's directory and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceFetched {
    /// The entry's directory: the source's files.
    #[schemars(extend("x-path" = true))]
    pub path: PathBuf,
    /// `artifact`, `GitRepository namespace/name`, …
    pub source: String,
    pub url: String,
    pub revision: String,
    pub digest: String,
    /// Bytes downloaded when it was filled.
    pub size: u64,
    pub files: u64,
    /// Bytes of file content in the entry.
    pub bytes: u64,
    /// Whether the entry was already in the cache (nothing was downloaded).
    pub hit: bool,
    /// Symlinks not created (`name -> target`).
    pub skipped_symlinks: Vec<String>,
}

impl SourceFetched {
    fn new(path: PathBuf, r: EntryRecord, hit: bool) -> SourceFetched {
        SourceFetched {
            path,
            source: r.source,
            url: r.url,
            revision: r.revision,
            digest: r.digest,
            size: r.size,
            files: r.files,
            bytes: r.bytes,
            hit,
            skipped_symlinks: r.skipped_symlinks,
        }
    }
}

/// Where the cache is: `cache`, else `$IDPKIT_CACHE`, else the XDG cache directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct CacheOptions {
    /// The cache root.
    #[schemars(extend("x-path" = true))]
    pub cache: Option<PathBuf>,
}

/// `source fetch artifact URL --digest ALGO:HEX`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct FetchArtifactOptions {
    /// The tarball's URL (http or https, gzipped tar).
    pub url: String,
    /// Its digest, `sha256:…`, `sha384:…` or `sha512:…`: verified before anything is cached.
    pub digest: String,
    /// Replaces the URL's `host[:port]` (source-controller's in-cluster address, seen from
    /// outside through a port-forward or an ingress).
    pub host_override: Option<String>,
    #[serde(flatten)]
    pub cache: CacheOptions,
    #[serde(flatten)]
    pub limits: ArtifactLimits,
    #[serde(flatten)]
    pub trust: TrustOptions,
}

/// Fetches a plain artifact into `{cache}/artifact/{algorithm}-{hex}`.
pub fn fetch_artifact(o: &FetchArtifactOptions, call: &Call) -> Result<SourceFetched> {
    let digest = Digest::parse(&o.digest)
        .map_err(|e| crate::Error::invalid(format!("option digest: {}", e.message)))?;
    let cache = Cache::open(o.cache.cache.as_deref())?;
    let entry = cache.artifact_entry(&digest);
    fetch_to_entry(
        &entry,
        &digest,
        "artifact".into(),
        &o.url,
        &o.digest,
        o.host_override.as_deref(),
        &o.limits,
        &o.trust,
        call,
    )
}

/// Fills `entry` from the artifact at `url` (verified against `digest`), or hits it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_to_entry(
    entry: &Path,
    digest: &Digest,
    source: String,
    url: &str,
    revision: &str,
    host_override: Option<&str>,
    limits: &ArtifactLimits,
    trust: &TrustOptions,
    call: &Call,
) -> Result<SourceFetched> {
    let fetch_url = artifact::override_host(url, host_override)?;
    let (record, hit) =
        cache::entry::get_or_fill(entry, &digest.to_string(), call.cancel(), |dir| {
            let d = Download {
                url: &fetch_url,
                digest,
                trust,
                limits,
                sink: call.sink(),
                cancel: call.cancel(),
            };
            let f = artifact::fetch_into(&d, dir)?;
            let mut r = EntryRecord::new(
                source,
                url.to_string(),
                revision.to_string(),
                digest.to_string(),
            );
            r.size = f.size;
            r.files = f.report.files;
            r.bytes = f.report.bytes;
            r.skipped_symlinks = f.report.skipped_symlinks;
            Ok(r)
        })?;
    Ok(SourceFetched::new(entry.to_path_buf(), record, hit))
}
