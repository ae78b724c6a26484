//! The OCI distribution protocol on reqwest + rustls: push from and pull into the local
//! store, tags, catalog, delete, login/logout. Gitea's registry first, any compliant
//! registry after (see `shared/notes/peers.md` for what Gitea needs).
//!
//! Public functions block (they run on [`crate::runtime`]); progress and audit go to an
//! [`EventSink`].

pub mod auth;
mod challenge;
mod client;
mod copy;
mod list;
mod manifest;
mod pull;
mod push;
mod remote;
mod types;

pub use auth::Credential;
pub use copy::copy;
pub use list::{catalog, delete, list_tags};
pub use remote::{fetch_blob, fetch_manifest, inspect_remote, RemoteInspect, RemoteManifest};
pub use types::*;
// The store resolves an index it holds with the same platform match a pull makes.
pub(crate) use manifest::pick_platform_in;

use crate::error::{Error, Result};
use crate::event::EventSink;
use crate::event::SinkScope;
use client::Client;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};

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

/// Runs `work` with a client connected to `registry` on the shared runtime: cancellable
/// through `opts.cancel`, with events scoped to the call (they end when it returns). The
/// frame of every one-registry call (tags, catalog, delete, manifest, blob, inspect).
fn with_client<T>(
    registry: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
    work: impl AsyncFnOnce(&Client) -> Result<T>,
) -> Result<T> {
    let scope = SinkScope::new(sink);
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(registry, opts, scope.sink()).await?;
        work(&client).await
    })
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
