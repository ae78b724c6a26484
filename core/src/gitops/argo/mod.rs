//! Argo CD Applications: every git source of one Application, with the credentials and host
//! keys Argo CD would use for it, fetched into
//! `{cache}/argocd-repo/{namespace}/{name}/{hash}` (hash of the normalized URL, the path and
//! the commit; see `git_cache`).

pub mod app;
pub mod creds;

use super::git::{GitOptions, GitSource, KnownHosts};
use super::{cache, git_cache, CacheOptions, SourceFetched};
use crate::error::{Error, Result};
use crate::event::{emit, Event};
use crate::kube::{KubeClient, KubeOptions};
use crate::trust::TrustOptions;
use crate::Call;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Argo CD's namespace when none is given.
pub const DEFAULT_NAMESPACE: &str = "argocd";
/// The ConfigMap (and its key) Argo CD keeps SSH host keys in.
pub const KNOWN_HOSTS_CM: (&str, &str) = ("argocd-ssh-known-hosts-cm", "ssh_known_hosts");

/// `source fetch argo NAMESPACE/NAME`: the git sources of an Argo CD Application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct FetchArgoOptions {
    /// The Application's namespace.
    pub namespace: String,
    pub name: String,
    /// Where the cluster is.
    pub cluster: KubeOptions,
    /// Argo CD's namespace, holding its `repository` and `repo-creds` Secrets and
    /// `argocd-ssh-known-hosts-cm`; default `argocd`.
    pub argocd_namespace: Option<String>,
    /// A Secret `namespace/name` with `username` and `password`, `token`, or
    /// `sshPrivateKey`, used for every git source instead of Argo CD's own Secrets.
    pub secret: Option<String>,
    /// known_hosts used when Argo CD's namespace has no `argocd-ssh-known-hosts-cm`;
    /// default `~/.ssh/known_hosts`.
    #[schemars(extend("x-path" = true))]
    pub known_hosts_file: Option<PathBuf>,
    #[serde(flatten)]
    pub cache: CacheOptions,
    /// Trust for HTTPS git hosts (the API server's comes from the kubeconfig).
    #[serde(flatten)]
    pub trust: TrustOptions,
}

/// What `source fetch argo` gives: one item per source of the Application, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArgoFetched {
    /// `Application namespace/name`.
    pub application: String,
    pub sources: Vec<ArgoSourceFetched>,
}

/// One source of an Application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArgoSourceFetched {
    /// Its place in `spec.sources` (0 for `spec.source`).
    pub index: u32,
    pub repo_url: String,
    /// Its `path` in the repository (`""` for the root).
    pub path: String,
    /// Its `ref` (multi-source Applications).
    pub ref_name: Option<String>,
    /// The revision asked for: the synced one from the status, else `targetRevision`.
    pub revision: Option<String>,
    /// The commit fetched.
    pub commit: Option<String>,
    /// The source's directory: `path` inside the entry.
    #[schemars(extend("x-path" = true))]
    pub dir: Option<PathBuf>,
    /// The cache entry (the whole checkout).
    pub fetched: Option<SourceFetched>,
    /// Where its credentials came from (`Secret argocd/repo-x (repository)`); none when
    /// it was fetched anonymously.
    pub credentials: Option<String>,
    /// Why it was not fetched (a Helm repository source).
    pub skipped: Option<String>,
}

/// Reads the Application and fetches each git source into the cache.
pub fn fetch_argo(o: &FetchArgoOptions, call: &Call) -> Result<ArgoFetched> {
    let target = Target::check(o)?;
    let client = KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
    let (_, object) = client.custom_object(
        app::GROUP,
        &app::VERSIONS,
        app::PLURAL,
        &o.namespace,
        &o.name,
    )?;
    fetch_sources(&client, &target, &object, o, call)
}

/// The Application and Argo CD's namespace, checked to be Kubernetes names.
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) argocd_ns: String,
}

impl Target {
    pub(crate) fn check(o: &FetchArgoOptions) -> Result<Target> {
        cache::check_kube_name("namespace", &o.namespace)?;
        cache::check_kube_name("name", &o.name)?;
        let argocd_ns = o.argocd_namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        cache::check_kube_name("argocd_namespace", argocd_ns)?;
        Ok(Target {
            what: format!("Application {}/{}", o.namespace, o.name),
            argocd_ns: argocd_ns.to_string(),
        })
    }
}

/// Fetches each git source of `object` (the Application as read or watched).
pub(crate) fn fetch_sources(
    client: &KubeClient,
    target: &Target,
    object: &serde_json::Value,
    o: &FetchArgoOptions,
    call: &Call,
) -> Result<ArgoFetched> {
    let what = &target.what;
    let sources = app::sources_of(object, what)?;
    let cache = cache::Cache::open(o.cache.cache.as_deref())?;
    let dir = cache
        .root()
        .join(cache::ARGO_DIR)
        .join(&o.namespace)
        .join(&o.name);
    let mut secrets: Option<Secrets> = None;
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let mut item = ArgoSourceFetched {
            index: s.index as u32,
            repo_url: s.repo_url.clone(),
            path: s.path.clone(),
            ref_name: s.ref_name.clone(),
            revision: s.revision.clone(),
            commit: None,
            dir: None,
            fetched: None,
            credentials: None,
            skipped: None,
        };
        if let Some(reason) = not_git(&s) {
            emit(
                call.sink(),
                Event::Warning {
                    message: format!(
                        "{what}: source {} ({}) skipped: {reason}",
                        s.index, s.repo_url
                    ),
                },
            );
            item.skipped = Some(reason);
            out.push(item);
            continue;
        }
        let secrets = match &mut secrets {
            Some(s) => s,
            None => secrets.insert(Secrets::read(client, &target.argocd_ns, o)?),
        };
        let chosen = creds::choose(
            &s.repo_url,
            secrets.explicit.as_ref(),
            &secrets.repositories,
            &secrets.repo_creds,
        )?;
        let options = GitOptions {
            auth: chosen.auth,
            trust: o.trust.clone(),
            known_hosts: secrets.known_hosts.clone(),
            insecure: chosen.insecure,
        };
        let source = GitSource {
            url: s.repo_url.clone(),
            revision: s.revision.clone(),
            depth: 1,
        };
        let label = format!("{what} source {}", s.index);
        let (fetched, commit) =
            git_cache::fetch_into_cache(&dir, &source, &s.path, label, &options, call)
                .map_err(|e| e.context(format!("{what} source {}", s.index)))?;
        let source_dir = fetched.path.join(&s.path);
        if !source_dir.is_dir() {
            return Err(Error::not_found(format!(
                "{what} source {}: path {:?} is not a directory of {} at {commit}",
                s.index, s.path, s.repo_url
            )));
        }
        item.commit = Some(commit);
        item.dir = Some(source_dir);
        item.fetched = Some(fetched);
        item.credentials = chosen.from;
        out.push(item);
    }
    Ok(ArgoFetched {
        application: what.clone(),
        sources: out,
    })
}

/// Why a source is not a git repository idpkit fetches, if it is not.
fn not_git(s: &app::AppSource) -> Option<String> {
    if let Some(chart) = &s.helm_chart {
        return Some(format!(
            "a Helm repository source (chart {chart}), not a git repository"
        ));
    }
    let lower = s.repo_url.to_ascii_lowercase();
    lower
        .starts_with("oci://")
        .then(|| "an OCI source, not a git repository".to_string())
}

/// What Argo CD's namespace (and the caller) hold for git: read once per fetch, and only
/// when a source needs it.
struct Secrets {
    explicit: Option<creds::NamedSecret>,
    repositories: Vec<creds::NamedSecret>,
    repo_creds: Vec<creds::NamedSecret>,
    known_hosts: KnownHosts,
}

impl Secrets {
    fn read(client: &KubeClient, argocd_ns: &str, o: &FetchArgoOptions) -> Result<Secrets> {
        let explicit = match &o.secret {
            None => None,
            Some(reference) => {
                let (ns, name) = reference.split_once('/').ok_or_else(|| {
                    Error::invalid(format!("option secret {reference:?} is not NAMESPACE/NAME"))
                })?;
                cache::check_kube_name("secret namespace", ns)?;
                cache::check_kube_name("secret name", name)?;
                let data = client.secret(ns, name)?.ok_or_else(|| {
                    Error::not_found(format!(
                        "Secret {reference} (option secret) not found on {}",
                        client.server()
                    ))
                })?;
                Some((reference.clone(), data))
            }
        };
        let labelled = |kind: &str| -> Result<Vec<creds::NamedSecret>> {
            if explicit.is_some() {
                return Ok(Vec::new());
            }
            Ok(client
                .secrets_with_label(argocd_ns, &format!("{}={kind}", creds::SECRET_TYPE_LABEL))?
                .into_iter()
                .map(|(name, d)| (format!("{argocd_ns}/{name}"), d))
                .collect())
        };
        let repositories = labelled("repository")?;
        let repo_creds = labelled("repo-creds")?;
        let (cm, key) = KNOWN_HOSTS_CM;
        let known_hosts = match client
            .config_map(argocd_ns, cm)?
            .and_then(|mut d| d.remove(key))
        {
            Some(text) => KnownHosts::Text(text),
            None => o
                .known_hosts_file
                .clone()
                .map_or(KnownHosts::User, KnownHosts::File),
        };
        Ok(Secrets {
            explicit,
            repositories,
            repo_creds,
            known_hosts,
        })
    }
}
