//! The OCI distribution protocol on reqwest + rustls: push from and pull into the local
//! store, tags, catalog, delete, login/logout. Gitea's registry first, any compliant
//! registry after (see `shared/notes/peers.md` for what Gitea needs).
//!
//! Public functions block (they run on [`crate::runtime`]); progress and audit go to an
//! [`EventSink`].

pub mod auth;
mod challenge;
mod client;
mod pull;
mod push;

pub use auth::Credential;

use crate::config;
use crate::error::{Error, Result};
use crate::event::EventSink;
use crate::event::SinkScope;
use crate::oci::Reference;
use crate::trust::TrustOptions;
use client::{no_body, Client};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, LINK};
use reqwest::Method;
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
    /// The digest of the stored manifest.
    pub digest: String,
    /// When the remote reference is an index: its digest (the manifest is the platform's).
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

fn scope_pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn scope_push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// The registry part of a `host[:port]` argument, or of a reference.
fn registry_of(s: &str) -> String {
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    s.split('/').next().unwrap_or(s).to_string()
}

impl crate::oci::Store {
    /// Pushes `source` (an image in the store) to `destination` (default: `source` itself,
    /// which then must name a registry). Blobs the registry has are skipped, the rest go up
    /// in parallel; manifests follow one at a time.
    pub fn push(
        &self,
        source: &str,
        destination: Option<&str>,
        opts: &RegistryOptions,
        sink: Option<&EventSink>,
    ) -> Result<PushResult> {
        let scope = SinkScope::new(sink);
        crate::runtime::block_on_cancellable(
            opts.cancel.as_ref(),
            push::push(self, source, destination, opts, scope.sink()),
        )
    }

    /// Pulls `reference` into the store, verifying every blob against its digest. An
    /// index resolves to the manifest of `opts.platform` (default: this machine's).
    pub fn pull(
        &self,
        reference: &str,
        opts: &RegistryOptions,
        sink: Option<&EventSink>,
    ) -> Result<PullResult> {
        let scope = SinkScope::new(sink);
        crate::runtime::block_on_cancellable(
            opts.cancel.as_ref(),
            pull::pull(self, reference, opts, scope.sink()),
        )
    }
}

/// Follows `Link: <...>; rel="next"` pages of a list endpoint and collects `field`.
async fn paginate(client: &Client, first: String, scope: &str, field: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut url = Some(first);
    let mut pages = 0;
    while let Some(u) = url.take() {
        pages += 1;
        if pages > 10_000 {
            break;
        }
        let resp = client
            .send(Method::GET, &u, scope, HeaderMap::new(), &no_body, true)
            .await?;
        if !resp.status().is_success() {
            return Err(client.error_for(resp, &format!("GET {field}")).await);
        }
        url = match resp
            .headers()
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
        {
            Some(l) => Some(next_page(client, &l)?),
            None => None,
        };
        let body = client
            .read_limited(resp, client::LIST_PAGE_MAX, "list page", &u)
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| e.to_string())
            .map_err(|e| {
                Error::new(
                    crate::ErrorKind::Network,
                    format!("{}: list answer is not JSON: {e}", client.registry),
                )
            })?;
        if let Some(items) = v.get(field).and_then(|t| t.as_array()) {
            out.extend(items.iter().filter_map(|t| t.as_str().map(String::from)));
        }
    }
    Ok(out)
}

/// The URL of the next page: on the registry's own origin only. A page elsewhere would
/// print another host's tags as this registry's (and, before, received its credentials).
fn next_page(client: &Client, link: &str) -> Result<String> {
    let url = client.absolute(link)?;
    if !client.is_own_origin(&url) {
        return Err(Error::new(
            crate::ErrorKind::Policy,
            format!(
                "{}: its next-page Link points at another host ({}); refused, the list would mix \
                 in another server's answer",
                client.registry,
                reqwest::Url::parse(&url)
                    .map(|u| client::origin_of(&u))
                    .unwrap_or(url.clone())
            ),
        ));
    }
    Ok(url)
}

/// `<url>; rel="next"` → url.
fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (u, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            u.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Tags of a repository (`host[:port]/path`), following `Link` pagination.
pub fn list_tags(
    repository: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Vec<String>> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let r = Reference::parse(repository)?;
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&r.registry, opts, sink).await?;
        let url = format!("{}/v2/{}/tags/list?n=1000", client.base, r.repository);
        paginate(&client, url, &scope_pull(&r.repository), "tags").await
    })
}

/// Repositories of a registry (`/v2/_catalog`, paginated).
pub fn catalog(
    registry: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Vec<String>> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let reg = registry_of(registry);
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&reg, opts, sink).await?;
        let url = format!("{}/v2/_catalog?n=1000", client.base);
        paginate(&client, url, "registry:catalog:*", "repositories").await
    })
}

/// Deletes a manifest by tag or digest; returns the digest deleted.
pub fn delete(reference: &str, opts: &RegistryOptions, sink: Option<&EventSink>) -> Result<String> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let r = Reference::parse(reference)?;
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&r.registry, opts, sink).await?;
        let scope = format!("repository:{}:pull,push,delete", r.repository);
        let digest = match &r.digest {
            Some(d) => d.clone(),
            None => {
                let tag = r.tag.clone().unwrap_or_default();
                pull::head_manifest(&client, &r.repository, &tag, &scope)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(format!("{reference}: no such tag on {}", r.registry))
                    })?
            }
        };
        let url = format!("{}/v2/{}/manifests/{digest}", client.base, r.repository);
        let resp = client
            .send(
                Method::DELETE,
                &url,
                &scope,
                HeaderMap::new(),
                &no_body,
                true,
            )
            .await?;
        if resp.status().is_success() {
            return Ok(digest);
        }
        let mut e = client.error_for(resp, "DELETE manifest").await;
        if e.kind == crate::ErrorKind::Policy {
            e.message.push_str("; the registry does not allow deletes (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true)");
        }
        Err(e)
    })
}

/// Copies an image between repositories or registries; within one registry (including a
/// re-tag in the same repository) blobs are mounted or already there, so only manifests
/// move. Across registries the image goes through a temporary store (an index resolves to
/// `opts.platform` then).
pub fn copy(
    source: &str,
    destination: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<PushResult> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let src = Reference::parse(source)?;
    let dst = Reference::parse(destination)?;
    if src.registry == dst.registry {
        if let Some(r) = crate::runtime::block_on_cancellable(
            opts.cancel.as_ref(),
            copy_within(&src, &dst, opts, sink),
        )? {
            return Ok(r);
        }
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::new(crate::ErrorKind::Io, format!("temporary store: {e}")))?;
    let store = crate::oci::Store::open(tmp.path().join("store"))?;
    // The destination's credentials stay with the destination (within one registry, the
    // same credentials serve both ends).
    let from = if src.registry == dst.registry {
        opts.clone()
    } else {
        RegistryOptions {
            credential: Some(match &opts.source_credential {
                Some(c) => c.clone(),
                None => auth::resolve_stored(&src.registry)?,
            }),
            ..opts.clone()
        }
    };
    let pulled = store.pull(source, &from, sink)?;
    store.push(&pulled.reference, Some(destination), opts, sink)
}

/// Same-registry copy without moving blob bytes; `None` when the registry will not mount.
async fn copy_within(
    src: &Reference,
    dst: &Reference,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Option<PushResult>> {
    let client = Client::connect(&dst.registry, opts, sink).await?;
    let mut scope = scope_push(&dst.repository);
    if src.repository != dst.repository {
        scope.push_str(&format!(" repository:{}:pull", src.repository));
    }
    let want = src
        .digest
        .clone()
        .or_else(|| src.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (bytes, media, digest) =
        pull::get_manifest(&client, &src.repository, &want, &scope).await?;
    let mut manifests = Vec::new();
    if push::is_index(&media) {
        let idx: serde_json::Value = serde_json::from_slice(&bytes)?;
        for m in idx
            .get("manifests")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default()
        {
            let d = m.get("digest").and_then(|x| x.as_str()).unwrap_or_default();
            manifests.push(pull::get_manifest(&client, &src.repository, d, &scope).await?);
        }
    }
    manifests.push((bytes, media, digest.clone()));
    let mut result = PushResult {
        reference: dst.to_string(),
        digest: digest.clone(),
        blobs_uploaded: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        bytes_uploaded: 0,
        unchanged: false,
    };
    let mut seen = std::collections::HashSet::new();
    for (b, m, d) in &manifests {
        if push::is_index(m) {
            continue;
        }
        for (blob, _) in push::manifest_blobs(b, d)? {
            if !seen.insert(blob.clone()) {
                continue;
            }
            let head = format!("{}/v2/{}/blobs/{blob}", client.base, dst.repository);
            let resp = client
                .send(
                    Method::HEAD,
                    &head,
                    &scope,
                    HeaderMap::new(),
                    &no_body,
                    true,
                )
                .await?;
            if resp.status().is_success() {
                result.blobs_skipped += 1;
                crate::event::emit(sink, crate::Event::BlobSkipped { digest: blob });
                continue;
            }
            let url = format!(
                "{}/v2/{}/blobs/uploads/?mount={blob}&from={}",
                client.base, dst.repository, src.repository
            );
            let resp = client
                .send(Method::POST, &url, &scope, HeaderMap::new(), &no_body, true)
                .await?;
            if resp.status() != reqwest::StatusCode::CREATED {
                return Ok(None);
            }
            result.blobs_mounted += 1;
            crate::event::emit(
                sink,
                crate::Event::BlobMounted {
                    digest: blob,
                    from: src.repository.clone(),
                },
            );
        }
    }
    let target = dst.tag.clone().unwrap_or_else(|| digest.clone());
    let list = manifests.into_iter().map(|(b, m, d)| (d, m, b)).collect();
    push::put_manifests(&client, &dst.repository, &scope, list, &target, sink).await?;
    Ok(Some(result))
}

/// Checks `username`/`password` against `registry` and stores them in Docker's format
/// (`REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`, or the configured helper).
pub fn login(
    registry: &str,
    username: &str,
    password: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<LoginResult> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let reg = registry_of(registry);
    if username.is_empty() || password.is_empty() {
        return Err(Error::invalid(
            "login needs a user name and a password or token",
        ));
    }
    let mut o = opts.clone();
    o.credential = Some(Credential::basic(username, password, "login"));
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&reg, &o, sink).await?;
        client.verify_credentials().await
    })?;
    let stored_in = auth::store_login(&reg, username, password)?;
    Ok(LoginResult {
        registry: reg,
        username: username.to_string(),
        stored_in,
    })
}

/// `login` with Gitea's credentials read from the cluster (Secret `gitea/gitea-credential`,
/// token preferred), as idpbuilder creates them; the secret never leaves this function.
pub fn login_from_cluster(
    registry: &str,
    cluster: &crate::trust::ClusterOptions,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<LoginResult> {
    let c = crate::trust::gitea_credential(cluster, opts.cancel.as_ref())?;
    login(registry, &c.username, &c.secret, opts, sink)
}

/// Removes stored credentials of `registry`; `false` when there were none.
pub fn logout(registry: &str) -> Result<bool> {
    auth::remove_login(&registry_of(registry))
}

pub(crate) fn accept_manifests() -> HeaderValue {
    HeaderValue::from_static(
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
         application/vnd.docker.distribution.manifest.list.v2+json, \
         application/vnd.docker.distribution.manifest.v2+json",
    )
}

pub(crate) fn accept_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT, accept_manifests());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
    }

    #[test]
    fn options_debug_hides_credentials() {
        let o = RegistryOptions {
            credential: Some(Credential::basic("u", "hunter2-secret", "t")),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("hunter2-secret"));
    }
}
