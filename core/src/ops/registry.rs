//! Registry operations: push, pull, list_tags, catalog, copy, delete, login,
//! login_from_cluster, logout.

use super::{need_store, Operation, Uses};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::oci::Store;
use crate::registry::{
    self, Credential, LoginResult, PullResult, PushResult, RegistryOptions, RemoteInspect,
};
use crate::trust::ClusterOptions;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The registry options a core function reads, with the call's credentials and cancel
/// token (which never travel in options).
fn with_call(o: &RegistryOptions, call: &Call) -> RegistryOptions {
    RegistryOptions {
        credential: call.credential().cloned(),
        source_credential: call.source_credential().cloned(),
        cancel: call.cancel().cloned(),
        ..o.clone()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PushOptions {
    /// The image of the store to push.
    pub source: String,
    /// Where to (`host[:port]/repo:tag`); default `source` itself, which then names a registry.
    pub destination: Option<String>,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

/// One remote reference (`host[:port]/repo:tag` or `...@sha256:...`) and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RemoteRef {
    pub reference: String,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListTagsOptions {
    /// `host[:port]/path`, without a tag.
    pub repository: String,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

/// A registry (`host[:port]`) and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RegistryHost {
    pub host: String,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CopyOptions {
    pub source: String,
    pub destination: String,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LoginFromClusterOptions {
    /// The registry (`host[:port]`) to log in to.
    pub host: String,
    /// Where the cluster is (its Secret `gitea/gitea-credential` holds the credentials).
    pub cluster: ClusterOptions,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogoutOptions {
    pub host: String,
}

pub struct Push;
impl Operation for Push {
    const NAME: &'static str = "push";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str =
        "Pushes an image of the store to a registry; blobs the registry has are skipped.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["source", "destination"];
    type Options = PushOptions;
    type Output = PushResult;
    fn run(store: Option<&Store>, o: &PushOptions, call: &Call) -> Result<PushResult> {
        let opts = with_call(&o.registry, call);
        need_store(store, Self::NAME)?.push(&o.source, o.destination.as_deref(), &opts, call.sink())
    }
}

pub struct Pull;
impl Operation for Pull {
    const NAME: &'static str = "pull";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str =
        "Pulls an image into the store, verifying every blob; an index resolves to `platform`.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["reference"];
    type Options = RemoteRef;
    type Output = PullResult;
    fn run(store: Option<&Store>, o: &RemoteRef, call: &Call) -> Result<PullResult> {
        let opts = with_call(&o.registry, call);
        need_store(store, Self::NAME)?.pull(&o.reference, &opts, call.sink())
    }
}

pub struct ListTags;
impl Operation for ListTags {
    const NAME: &'static str = "list_tags";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The tags of a repository, following the registry's pages.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["repository"];
    type Options = ListTagsOptions;
    type Output = Vec<String>;
    fn run(_: Option<&Store>, o: &ListTagsOptions, call: &Call) -> Result<Vec<String>> {
        registry::list_tags(&o.repository, &with_call(&o.registry, call), call.sink())
    }
}

pub struct Catalog;
impl Operation for Catalog {
    const NAME: &'static str = "catalog";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The repositories of a registry (`/v2/_catalog`).";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["host"];
    type Options = RegistryHost;
    type Output = Vec<String>;
    fn run(_: Option<&Store>, o: &RegistryHost, call: &Call) -> Result<Vec<String>> {
        registry::catalog(&o.host, &with_call(&o.registry, call), call.sink())
    }
}

pub struct Copy;
impl Operation for Copy {
    const NAME: &'static str = "copy";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Copies an image between repositories or registries (mounts within one registry).";
    const USES: Uses = Uses {
        source_credential: true,
        ..Uses::EVENTS_CANCEL_CREDENTIAL
    };
    const POSITIONAL: &'static [&'static str] = &["source", "destination"];
    type Options = CopyOptions;
    type Output = PushResult;
    fn run(_: Option<&Store>, o: &CopyOptions, call: &Call) -> Result<PushResult> {
        let opts = with_call(&o.registry, call);
        registry::copy(&o.source, &o.destination, &opts, call.sink())
    }
}

/// A manifest to delete, by tag or digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DeleteOptions {
    pub reference: String,
    /// Delete by tag even when other tags point at the same manifest (they go too).
    pub force: bool,
    #[serde(flatten)]
    pub registry: RegistryOptions,
}

pub struct Delete;
impl Operation for Delete {
    const NAME: &'static str = "delete";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Deletes a manifest by tag or digest; returns the digest deleted.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["reference"];
    type Options = DeleteOptions;
    type Output = String;
    fn run(_: Option<&Store>, o: &DeleteOptions, call: &Call) -> Result<String> {
        registry::delete(
            &o.reference,
            o.force,
            &with_call(&o.registry, call),
            call.sink(),
        )
    }
}

pub struct Login;
impl Operation for Login {
    const NAME: &'static str = "login";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Checks the call's username and password against a registry and stores them.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["host"];
    type Options = RegistryHost;
    type Output = LoginResult;
    fn run(_: Option<&Store>, o: &RegistryHost, call: &Call) -> Result<LoginResult> {
        let Some(Credential::Basic {
            username, password, ..
        }) = call.credential()
        else {
            return Err(Error::invalid(
                "login needs a username and a password (a Gitea token works as the password)",
            ));
        };
        let opts = RegistryOptions {
            cancel: call.cancel().cloned(),
            ..o.registry.clone()
        };
        registry::login(&o.host, username, password, &opts, call.sink())
    }
}

pub struct LoginFromCluster;
impl Operation for LoginFromCluster {
    const NAME: &'static str = "login_from_cluster";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Logs in to a registry with Gitea's credentials read from an idpbuilder cluster.";
    const USES: Uses = Uses {
        credential: false,
        ..Uses::EVENTS_CANCEL_CREDENTIAL
    };
    const POSITIONAL: &'static [&'static str] = &["host"];
    type Options = LoginFromClusterOptions;
    type Output = LoginResult;
    fn run(_: Option<&Store>, o: &LoginFromClusterOptions, call: &Call) -> Result<LoginResult> {
        let opts = RegistryOptions {
            cancel: call.cancel().cloned(),
            ..o.registry.clone()
        };
        registry::login_from_cluster(&o.host, &o.cluster, &opts, call.sink())
    }
}

pub struct Logout;
impl Operation for Logout {
    const NAME: &'static str = "logout";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Removes the stored login of a registry; false when there was none.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["host"];
    type Options = LogoutOptions;
    type Output = bool;
    fn run(_: Option<&Store>, o: &LogoutOptions, _: &Call) -> Result<bool> {
        registry::logout(&o.host)
    }
}

pub struct InspectRemote;
impl Operation for InspectRemote {
    const NAME: &'static str = "inspect_remote";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Reads a remote image's manifest and config without pulling it (an index resolves to `platform`).";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["reference"];
    type Options = RemoteRef;
    type Output = RemoteInspect;
    fn run(_: Option<&Store>, o: &RemoteRef, call: &Call) -> Result<RemoteInspect> {
        registry::inspect_remote(&o.reference, &with_call(&o.registry, call), call.sink())
    }
}
