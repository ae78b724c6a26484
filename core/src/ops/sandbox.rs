//! Sandbox operations (docs/sandbox.md): runs (clone, list, remove), the plan, and its
//! Compose and Kubernetes Job renderings.

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::oci::Store;
use crate::sandbox::facade;
use crate::sandbox::plan::Plan;
use crate::sandbox::workspace::SandboxRun;

pub use crate::sandbox::facade::{
    ComposeFile, JobManifest, ManifestFormat, SandboxCloneOptions, SandboxComposeOptions,
    SandboxJobOptions, SandboxPlanOptions, SandboxRemoveOptions, SandboxRuns, SandboxRunsOptions,
};

pub struct SandboxClone;
impl Operation for SandboxClone {
    const NAME: &'static str = "sandbox_clone";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Clones a repository into a new sandbox run (never a reused \
        checkout) and records the run: repository, revision, resolved commit, branch, time.";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["url"];
    type Options = SandboxCloneOptions;
    type Output = SandboxRun;
    fn run(_: Option<&Store>, o: &SandboxCloneOptions, call: &Call) -> Result<SandboxRun> {
        facade::clone(o, call)
    }
}

pub struct SandboxList;
impl Operation for SandboxList {
    const NAME: &'static str = "sandbox_list";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Lists the sandbox runs, oldest first.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = SandboxRunsOptions;
    type Output = SandboxRuns;
    fn run(_: Option<&Store>, o: &SandboxRunsOptions, _: &Call) -> Result<SandboxRuns> {
        facade::list(o)
    }
}

pub struct SandboxRemove;
impl Operation for SandboxRemove {
    const NAME: &'static str = "sandbox_remove";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Removes a sandbox run (its checkout and record); returns it.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["id"];
    type Options = SandboxRemoveOptions;
    type Output = SandboxRun;
    fn run(_: Option<&Store>, o: &SandboxRemoveOptions, _: &Call) -> Result<SandboxRun> {
        facade::remove(o)
    }
}

pub struct SandboxPlanOp;
impl Operation for SandboxPlanOp {
    const NAME: &'static str = "sandbox_plan";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Detects the projects in a directory (Ruby, Node, Python, \
        Go) and plans their sandbox: runtime, version and image, services, setup steps, with \
        the evidence (file and line) for each; falls back to every service when detection \
        cannot decide, and says why.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxPlanOptions;
    type Output = Plan;
    fn run(_: Option<&Store>, o: &SandboxPlanOptions, _: &Call) -> Result<Plan> {
        facade::plan(o)
    }
}

pub struct SandboxComposeOp;
impl Operation for SandboxComposeOp {
    const NAME: &'static str = "sandbox_compose";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The sandbox plan as a Compose file (services with the \
        Kubernetes sidecars' images, env and health checks) and its COMPOSE_PROFILES value.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxComposeOptions;
    type Output = ComposeFile;
    fn run(_: Option<&Store>, o: &SandboxComposeOptions, _: &Call) -> Result<ComposeFile> {
        facade::compose(o)
    }
}

pub struct SandboxJobOp;
impl Operation for SandboxJobOp {
    const NAME: &'static str = "sandbox_job";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The sandbox plan as a Kubernetes Job (clone step, services \
        as native sidecars, Secret references only, non-root, no retries); optionally created \
        (or dry-run) in the cluster and followed to its end with the main container's log and \
        exit status.";
    const USES: Uses = Uses {
        events: true,
        cancel: true,
        credential: false,
        source_credential: false,
    };
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxJobOptions;
    type Output = JobManifest;
    fn run(_: Option<&Store>, o: &SandboxJobOptions, call: &Call) -> Result<JobManifest> {
        facade::run_job(o, call)
    }
}
