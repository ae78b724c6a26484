//! The sandbox operations' options, results and entry points (the contract's
//! `sandbox_*` operations call these).

use super::config::SandboxConfig;
use super::job_run::{self, JobOutcome};
use super::plan::{self, compose, job, Plan};
use super::workspace::{self, SandboxRun};
use crate::error::{Error, Result};
use crate::gitops::git_cache::GitRemoteOptions;
use crate::kube::{check_name, KubeClient, KubeOptions};
use crate::Call;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn runs_root(root: &Option<PathBuf>) -> PathBuf {
    root.clone()
        .unwrap_or_else(crate::config::default_sandbox_dir)
}

/// `sandbox clone URL [--rev REV]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SandboxCloneOptions {
    #[serde(flatten)]
    pub remote: GitRemoteOptions,
    /// The runs directory. Default `$IDPKIT_SANDBOX_HOME`, else
    /// `$XDG_DATA_HOME/idpkit/sandboxes`.
    #[schemars(extend("x-path" = true))]
    pub root: Option<PathBuf>,
}

pub fn clone(o: &SandboxCloneOptions, call: &Call) -> Result<SandboxRun> {
    if o.remote.url.is_empty() {
        return Err(Error::invalid("give the repository's URL to clone"));
    }
    let (source, options) = o.remote.resolve(call)?;
    workspace::clone(&runs_root(&o.root), &source, &options, call)
}

/// Where the runs are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxRunsOptions {
    /// The runs directory (default as for sandbox_clone).
    #[schemars(extend("x-path" = true))]
    pub root: Option<PathBuf>,
}

/// The runs, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SandboxRuns {
    pub runs: Vec<SandboxRun>,
}

pub fn list(o: &SandboxRunsOptions) -> Result<SandboxRuns> {
    Ok(SandboxRuns {
        runs: workspace::list(&runs_root(&o.root))?,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxRemoveOptions {
    /// The run's id (`sandbox ls` shows them).
    pub id: String,
    /// The runs directory (default as for sandbox_clone).
    #[schemars(extend("x-path" = true))]
    pub root: Option<PathBuf>,
}

pub fn remove(o: &SandboxRemoveOptions) -> Result<SandboxRun> {
    workspace::remove(&runs_root(&o.root), &o.id)
}

/// Which project to plan, under which config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxPlanOptions {
    /// The project's directory: a checkout, or a run's directory or id.
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The sandbox config. Default: `$IDPKIT_SANDBOX_CONFIG`, else `idpkit-sandbox.toml`
    /// in the project, else the defaults.
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
}

/// The checkout a `dir` option means: a run's directory means its checkout.
pub(crate) fn project_dir(dir: &Path) -> Result<PathBuf> {
    if dir.as_os_str().is_empty() {
        return Err(Error::invalid(
            "give the project's directory (a checkout or a sandbox run)",
        ));
    }
    if dir.join(workspace::RUN_FILE).is_file() {
        return Ok(dir.join(workspace::CHECKOUT_DIR));
    }
    // A run's id (`sandbox ls`), when no directory of that name is here.
    if !dir.exists() && dir.components().count() == 1 {
        let id = dir.to_string_lossy();
        if let Ok(run) = workspace::run_dir(&crate::config::default_sandbox_dir(), &id) {
            if run.join(workspace::RUN_FILE).is_file() {
                return Ok(run.join(workspace::CHECKOUT_DIR));
            }
        }
    }
    Ok(dir.to_path_buf())
}

pub(crate) fn plan_of(dir: &Path, config: Option<&Path>) -> Result<(PathBuf, SandboxConfig, Plan)> {
    let project = project_dir(dir)?;
    let (cfg, path) = SandboxConfig::locate(config, &process_env, &project)?;
    let p = plan::plan(&project, &cfg, path, &process_env)?;
    Ok((project, cfg, p))
}

pub fn plan(o: &SandboxPlanOptions) -> Result<Plan> {
    plan_of(&o.dir, o.config.as_deref()).map(|(_, _, p)| p)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxComposeOptions {
    /// The project's directory: a checkout, or a run's directory or id.
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The sandbox config (as for sandbox_plan).
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
    /// Where to write the compose file (atomically); none: only returned.
    #[schemars(extend("x-path" = true))]
    pub output: Option<PathBuf>,
}

/// The plan as Compose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComposeFile {
    /// `COMPOSE_PROFILES`'s value (`claude,with-postgres`).
    pub compose_profiles: String,
    /// The compose file (YAML).
    pub compose: String,
    /// Where it was written.
    #[schemars(extend("x-path" = true))]
    pub file: Option<PathBuf>,
    pub plan: Plan,
}

pub fn compose(o: &SandboxComposeOptions) -> Result<ComposeFile> {
    let (project, cfg, p) = plan_of(&o.dir, o.config.as_deref())?;
    let project = std::path::absolute(&project).unwrap_or(project);
    let doc = compose::document(&p, &cfg, &project);
    let text = compose::to_yaml(&p, &doc)?;
    if let Some(out) = &o.output {
        crate::fsx::write_atomic(out, text.as_bytes())?;
    }
    Ok(ComposeFile {
        compose_profiles: p.compose_profiles(),
        compose: text,
        file: o.output.clone(),
        plan: p,
    })
}

/// How a Job manifest is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxJobOptions {
    /// The project's directory: a run's directory or checkout (its repository and commit
    /// are the run's), or any git checkout (its `origin` and HEAD).
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The sandbox config (as for sandbox_plan).
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
    /// The Job's name. Default: the config's prefix and the run's id (or the directory's
    /// name).
    pub name: Option<String>,
    /// The namespace. Default: the config's (`default`).
    pub namespace: Option<String>,
    /// The repository the Job clones. Default: the run's, else the checkout's `origin`.
    pub repo_url: Option<String>,
    /// The commit the Job checks out. Default: the run's, else the checkout's HEAD.
    pub commit: Option<String>,
    pub format: ManifestFormat,
    /// Create the Job in the cluster.
    pub apply: bool,
    /// With apply: have the API server validate and admit the Job without storing it.
    pub dry_run: bool,
    /// With apply: follow the Job to its end, its main container's log as `log_line`
    /// events, and return its exit status.
    pub wait: bool,
    /// With wait: give up after this many seconds. Default: the Job's deadline plus 5
    /// minutes.
    pub timeout_seconds: Option<u64>,
    /// Where the cluster is.
    pub cluster: KubeOptions,
}

/// A sandbox Job, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobManifest {
    pub name: String,
    pub namespace: String,
    /// The Job as YAML or JSON (as the server returned it when applied).
    pub manifest: String,
    /// Whether it was sent to the cluster (and stored, unless dry_run).
    pub applied: bool,
    pub dry_run: bool,
    /// The Job's uid in the cluster, once stored.
    pub uid: Option<String>,
    /// How it ended (with wait).
    pub outcome: Option<JobOutcome>,
    pub plan: Plan,
}

/// The repository and commit a Job clones, and the run it belongs to.
fn job_source(
    project: &Path,
    o: &SandboxJobOptions,
) -> Result<(String, String, Option<String>, Option<String>)> {
    let run = workspace::run_of(project);
    let (mut url, mut commit, mut git_ref, id) = match &run {
        Some(r) => (
            Some(r.url.clone()),
            Some(r.commit.clone()),
            r.resolved_ref.clone(),
            Some(r.id.clone()),
        ),
        None => (None, None, None, None),
    };
    if url.is_none() || commit.is_none() {
        if let Ok(repo) = git2::Repository::discover(project) {
            if url.is_none() {
                url = repo
                    .find_remote("origin")
                    .ok()
                    .and_then(|r| r.url().ok().map(str::to_string));
            }
            if commit.is_none() {
                commit = repo
                    .head()
                    .ok()
                    .and_then(|h| h.peel_to_commit().ok())
                    .map(|c| c.id().to_string());
                git_ref = repo
                    .head()
                    .ok()
                    .filter(|h| h.is_branch())
                    .and_then(|h| h.name().ok().map(str::to_string));
            }
        }
    }
    let url = o.repo_url.clone().or(url).ok_or_else(|| {
        Error::invalid(format!(
            "the Job clones the project, and {} is neither a sandbox run nor a checkout with \
             an origin remote; give repo_url (--repo-url)",
            project.display()
        ))
    })?;
    let commit = o.commit.clone().or(commit).ok_or_else(|| {
        Error::invalid(format!(
            "{} has no commit checked out; give commit (--commit)",
            project.display()
        ))
    })?;
    if !(7..=40).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!(
            "commit {commit:?} is not a commit id (7 to 40 hex digits); give the full id \
             (`git rev-parse HEAD`)"
        )));
    }
    // A password in it is refused here: the Job only references credentials, from the
    // Secret [job] git_credentials_secret names.
    crate::gitops::git::check_url(&url)?;
    Ok((url, commit, git_ref, id))
}

pub fn run_job(o: &SandboxJobOptions, call: &Call) -> Result<JobManifest> {
    if (o.dry_run || o.wait) && !o.apply {
        return Err(Error::invalid(
            "dry_run and wait go with apply (--apply): without it the Job is only printed",
        ));
    }
    if o.dry_run && o.wait {
        return Err(Error::invalid(
            "a dry run stores no Job, so there is nothing to wait for",
        ));
    }
    let (project, cfg, p) = plan_of(&o.dir, o.config.as_deref())?;
    let (repo_url, commit, git_ref, run) = job_source(&project, o)?;
    let namespace = o.namespace.clone().unwrap_or(cfg.job.namespace.clone());
    // A run's id is unique; a checkout's directory name is not, so its commit goes with it.
    let base = run.clone().unwrap_or_else(|| {
        let dirname = std::path::absolute(&project)
            .ok()
            .and_then(|a| a.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".into());
        let short: String = commit.chars().take(7).collect();
        let dirname: String = dirname.chars().take(40).collect();
        format!("{dirname}-{short}")
    });
    let name = o
        .name
        .clone()
        .unwrap_or_else(|| job::job_name(&cfg.job.name_prefix, &base));
    check_name("namespace", &namespace)?;
    check_name("Job name", &name)?;
    if name.len() > 63 {
        return Err(Error::invalid(format!(
            "Job name {name:?} is longer than 63 characters (its pods' label would be refused)"
        )));
    }
    let target = job::JobTarget {
        name: name.clone(),
        namespace: namespace.clone(),
        repo_url,
        commit,
        git_ref,
        run,
    };
    let mut manifest = job::job(&p, &cfg, &target);
    let mut result = JobManifest {
        name,
        namespace,
        manifest: String::new(),
        applied: false,
        dry_run: o.dry_run,
        uid: None,
        outcome: None,
        plan: p,
    };
    if o.apply {
        let client = KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
        manifest = client.create_job(&manifest, o.dry_run)?;
        // The server's bookkeeping of who set which field says nothing to a reader.
        manifest.metadata.managed_fields = None;
        if o.dry_run {
            forget_identity(&mut manifest);
        }
        result.applied = true;
        if !o.dry_run {
            result.uid = manifest.metadata.uid.clone();
        }
        if o.wait {
            let timeout = o
                .timeout_seconds
                .unwrap_or(cfg.job.active_deadline_seconds.max(0) as u64 + 300);
            result.outcome = Some(job_run::wait(
                &client,
                &result.namespace,
                &result.name,
                &cfg.profiles.main,
                Duration::from_secs(timeout),
                call.cancel(),
                call.sink(),
            )?);
        }
    }
    result.manifest = match o.format {
        ManifestFormat::Yaml => serde_saphyr::to_string(&manifest)
            .map_err(|e| Error::internal(format!("the Job as YAML: {e}")))?,
        ManifestFormat::Json => serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::internal(format!("the Job as JSON: {e}")))?,
    };
    Ok(result)
}

/// A dry run's answer carries the uid (and the selector and labels made from it), time and
/// version a stored Job would have had: left in, the manifest would look like a Job that
/// exists. They are removed; what the server defaulted stays.
fn forget_identity(job: &mut k8s_openapi::api::batch::v1::Job) {
    let m = &mut job.metadata;
    m.uid = None;
    m.creation_timestamp = None;
    m.resource_version = None;
    m.generation = None;
    if let Some(spec) = job.spec.as_mut() {
        spec.selector = None;
        if let Some(labels) = spec
            .template
            .metadata
            .as_mut()
            .and_then(|t| t.labels.as_mut())
        {
            labels.retain(|k, _| !k.ends_with("controller-uid"));
        }
    }
}
