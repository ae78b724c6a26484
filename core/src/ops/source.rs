//! GitOps source operations: source_fetch_artifact, source_list, source_gc.

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::gitops::cache::gc::{GcPolicy, GcResult, SourceListing};
use crate::gitops::cache::Cache;
use crate::gitops::{self, CacheOptions, FetchArtifactOptions, SourceFetched};
use crate::oci::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Uses of a fetch: events (retries, audit of insecure hosts) and cancel.
const FETCH: Uses = Uses {
    events: true,
    cancel: true,
    credential: false,
    source_credential: false,
};

pub struct SourceFetchArtifact;
impl Operation for SourceFetchArtifact {
    const NAME: &'static str = "source_fetch_artifact";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Fetches a tarball by URL and digest into the source cache \
        (verified while streaming, extracted safely, published whole); returns its directory.";
    const USES: Uses = FETCH;
    const POSITIONAL: &'static [&'static str] = &["url", "digest"];
    type Options = FetchArtifactOptions;
    type Output = SourceFetched;
    fn run(_: Option<&Store>, o: &FetchArtifactOptions, call: &Call) -> Result<SourceFetched> {
        gitops::fetch_artifact(o, call)
    }
}

pub struct SourceList;
impl Operation for SourceList {
    const NAME: &'static str = "source_list";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Lists the entries of the source cache, newest first, with their age and last use.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = CacheOptions;
    type Output = Vec<SourceListing>;
    fn run(_: Option<&Store>, o: &CacheOptions, _: &Call) -> Result<Vec<SourceListing>> {
        Cache::open(o.cache.as_deref())?.list()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SourceGcOptions {
    #[serde(flatten)]
    pub cache: CacheOptions,
    #[serde(flatten)]
    pub policy: GcPolicy,
}

pub struct SourceGc;
impl Operation for SourceGc {
    const NAME: &'static str = "source_gc";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Removes source cache entries by policy (newest N per source, \
        age, size budget); never an entry in use, never a file that is not an entry.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = SourceGcOptions;
    type Output = GcResult;
    fn run(_: Option<&Store>, o: &SourceGcOptions, _: &Call) -> Result<GcResult> {
        Cache::open(o.cache.cache.as_deref())?.gc(&o.policy)
    }
}

pub struct SourceFetchFlux;
impl Operation for SourceFetchFlux {
    const NAME: &'static str = "source_fetch_flux";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Fetches the artifact of a Flux source (GitRepository, \
        OCIRepository, Bucket, HelmChart) read from the cluster into the source cache; returns \
        its directory.";
    const USES: Uses = FETCH;
    const POSITIONAL: &'static [&'static str] = &["kind", "namespace", "name"];
    type Options = crate::gitops::flux::FetchFluxOptions;
    type Output = SourceFetched;
    fn run(
        _: Option<&Store>,
        o: &crate::gitops::flux::FetchFluxOptions,
        call: &Call,
    ) -> Result<SourceFetched> {
        crate::gitops::flux::fetch_flux(o, call)
    }
}

pub struct SourceFetchGit;
impl Operation for SourceFetchGit {
    const NAME: &'static str = "source_fetch_git";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Fetches a git revision (shallow, exactly one commit) into the \
        source cache; returns its directory.";
    const USES: Uses = Uses {
        credential: true,
        ..FETCH
    };
    const POSITIONAL: &'static [&'static str] = &["url", "revision"];
    type Options = crate::gitops::git_cache::FetchGitOptions;
    type Output = SourceFetched;
    fn run(
        _: Option<&Store>,
        o: &crate::gitops::git_cache::FetchGitOptions,
        call: &Call,
    ) -> Result<SourceFetched> {
        crate::gitops::git_cache::fetch_git(o, call)
    }
}

pub struct SourceFetchArgo;
impl Operation for SourceFetchArgo {
    const NAME: &'static str = "source_fetch_argo";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Fetches every git source of an Argo CD Application, with the \
        credentials and host keys Argo CD would use, into the source cache.";
    const USES: Uses = FETCH;
    const POSITIONAL: &'static [&'static str] = &["namespace", "name"];
    type Options = crate::gitops::argo::FetchArgoOptions;
    type Output = crate::gitops::argo::ArgoFetched;
    fn run(
        _: Option<&Store>,
        o: &crate::gitops::argo::FetchArgoOptions,
        call: &Call,
    ) -> Result<crate::gitops::argo::ArgoFetched> {
        crate::gitops::argo::fetch_argo(o, call)
    }
}

pub struct SourceWatchFlux;
impl Operation for SourceWatchFlux {
    const NAME: &'static str = "source_watch_flux";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Keeps a Flux source's entry in the source cache current: \
        fetches its artifact, then each new revision as the object changes (a watch), each \
        reported by a `source_fetched` event, until cancelled; cancel ends it normally, with \
        how many revisions it fetched and the last.";
    const USES: Uses = FETCH;
    const POSITIONAL: &'static [&'static str] = &["kind", "namespace", "name"];
    type Options = crate::gitops::flux::FetchFluxOptions;
    type Output = crate::gitops::watch::SourceWatched;
    fn run(
        _: Option<&Store>,
        o: &crate::gitops::flux::FetchFluxOptions,
        call: &Call,
    ) -> Result<crate::gitops::watch::SourceWatched> {
        crate::gitops::watch::watch_flux(o, call)
    }
}

pub struct SourceWatchArgo;
impl Operation for SourceWatchArgo {
    const NAME: &'static str = "source_watch_argo";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Keeps an Argo CD Application's git sources current in the \
        source cache: fetches them, then again whenever their sources or synced revisions \
        change, each source reported by a `source_fetched` event, until cancelled; cancel ends \
        it normally, with how many it fetched and the last.";
    const USES: Uses = FETCH;
    const POSITIONAL: &'static [&'static str] = &["namespace", "name"];
    type Options = crate::gitops::argo::FetchArgoOptions;
    type Output = crate::gitops::watch::SourceWatched;
    fn run(
        _: Option<&Store>,
        o: &crate::gitops::argo::FetchArgoOptions,
        call: &Call,
    ) -> Result<crate::gitops::watch::SourceWatched> {
        crate::gitops::watch::watch_argo(o, call)
    }
}
