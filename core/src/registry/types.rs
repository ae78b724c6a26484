//! Options and results of the registry operations: serde types shared by every front end.

use super::Credential;
use crate::config;
use crate::trust::TrustOptions;
use serde::{Deserialize, Serialize};

/// Options of every registry operation. Serde: the same fields in every binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct RegistryOptions {
    #[serde(flatten)]
    pub trust: TrustOptions,
    /// Credentials to use instead of looking them up (environment, Docker config).
    #[serde(skip)]
    pub credential: Option<Credential>,
    /// Credentials for the source registry of `copy` across registries; by default the
    /// source registry's stored login. `credential` and `IDPKIT_REGISTRY_*` are the
    /// destination's and never go to the source.
    #[serde(skip)]
    pub source_credential: Option<Credential>,
    /// Stops the operation soon after it fires (bindings wire Ctrl-C, `AbortSignal` and
    /// `context.Context` here); what was half-written locally is removed.
    #[serde(skip)]
    pub cancel: Option<crate::CancelToken>,
    /// Parallel blob transfers.
    pub jobs: usize,
    /// Blobs up to this size are uploaded in one request.
    pub monolithic_max: u64,
    /// Size of one PATCH of a chunked upload.
    pub chunk_size: u64,
    /// Attempts per request or blob (first try included).
    pub attempts: u32,
    /// Longest time one request or blob keeps being retried (first try included).
    pub retry_budget_secs: u64,
    /// First retry delay; it doubles per attempt, with jitter (a `Retry-After` wins).
    pub backoff_base_ms: u64,
    /// Longest delay between two tries.
    pub backoff_max_ms: u64,
    /// Seconds to establish a connection (TCP and TLS).
    pub connect_timeout_secs: u64,
    /// Seconds without any byte from the registry before a request counts as failed.
    pub read_timeout_secs: u64,
    /// Failed tries in a row, across all requests of one operation, after which it stops
    /// sending (the circuit breaker); 0 disables it.
    pub breaker_threshold: u32,
    /// `os/arch[/variant]` picked from an image index on pull (default: this machine's).
    pub platform: Option<String>,
    /// Pull or copy every platform of an index: the index and all its manifests, tagged as
    /// the index (`crane`'s default, `skopeo --all`); `platform` is then ignored.
    pub all_platforms: bool,
    /// Repositories of the same registry to try a cross-repository mount from.
    pub mount_from: Vec<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            trust: TrustOptions::default(),
            credential: None,
            source_credential: None,
            cancel: None,
            jobs: config::DEFAULT_REGISTRY_JOBS,
            monolithic_max: config::DEFAULT_MONOLITHIC_MAX,
            chunk_size: config::DEFAULT_CHUNK_SIZE,
            attempts: config::DEFAULT_REGISTRY_ATTEMPTS,
            retry_budget_secs: 120,
            backoff_base_ms: 500,
            backoff_max_ms: 10_000,
            connect_timeout_secs: 15,
            read_timeout_secs: 120,
            breaker_threshold: 2 * config::DEFAULT_REGISTRY_ATTEMPTS,
            platform: None,
            all_platforms: false,
            mount_from: Vec::new(),
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushResult {
    /// The remote reference pushed to.
    pub reference: String,
    /// The digest of the pushed manifest (or index).
    pub digest: String,
    pub blobs_uploaded: usize,
    pub blobs_skipped: usize,
    pub blobs_mounted: usize,
    pub bytes_uploaded: u64,
    /// The manifest was already there under the tag: nothing was sent.
    pub unchanged: bool,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PullResult {
    /// The store key the image is tagged with.
    pub reference: String,
    /// The digest of the stored manifest (with `all_platforms`, of the stored index).
    pub digest: String,
    /// When the remote reference is an index: its digest (the manifest is the platform's,
    /// or with `all_platforms` the index itself).
    pub index_digest: Option<String>,
    pub blobs_fetched: usize,
    pub blobs_present: usize,
    pub bytes_fetched: u64,
}

/// Result of `login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginResult {
    pub registry: String,
    pub username: String,
    /// The file (or credential helper) the credentials were written to.
    pub stored_in: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_hides_credentials() {
        let o = RegistryOptions {
            credential: Some(Credential::basic("u", "hunter2-secret", "t")),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("hunter2-secret"));
    }
}
