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

use crate::sandbox::services;
pub use crate::sandbox::services::{
    RunOptions, SandboxDownOptions, SandboxServices, SandboxServicesOptions, SandboxUpOptions,
    ServicesEnv,
};
pub use crate::supervise::SupervisorStatus;

const EVENTS_CANCEL: Uses = Uses {
    events: true,
    cancel: true,
    credential: false,
    source_credential: false,
};

pub struct SandboxUp;
impl Operation for SandboxUp {
    const NAME: &'static str = "sandbox_up";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Brings the plan's services (postgres, redis, mysql) up as \
        local supervised processes: data under the run, free loopback ports, throwaway \
        passwords, readiness probes; returns once all are ready, with their connection \
        variables (DATABASE_URL, REDIS_URL, …), and leaves them supervised by the calling \
        program until sandbox_down (or its end).";
    const USES: Uses = EVENTS_CANCEL;
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxUpOptions;
    type Output = SandboxServices;
    fn run(_: Option<&Store>, o: &SandboxUpOptions, call: &Call) -> Result<SandboxServices> {
        services::up(o, call)
    }
}

pub struct SandboxStatus;
impl Operation for SandboxStatus {
    const NAME: &'static str = "sandbox_status";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The status of a run's services (or of any `run`): each \
        process's state, pid, readiness, restarts, exit code and log file.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxServicesOptions;
    type Output = SupervisorStatus;
    fn run(_: Option<&Store>, o: &SandboxServicesOptions, _: &Call) -> Result<SupervisorStatus> {
        services::status(o)
    }
}

pub struct SandboxEnvOp;
impl Operation for SandboxEnvOp {
    const NAME: &'static str = "sandbox_env";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "The connection variables of a run's services \
        (DATABASE_URL, REDIS_URL, PGHOST, …), as the last sandbox_up wrote them.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxServicesOptions;
    type Output = ServicesEnv;
    fn run(_: Option<&Store>, o: &SandboxServicesOptions, _: &Call) -> Result<ServicesEnv> {
        services::env(o)
    }
}

pub struct SandboxDown;
impl Operation for SandboxDown {
    const NAME: &'static str = "sandbox_down";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Stops a run's services (or any `run`), wherever their \
        supervisor runs: in reverse dependency order, each process group signalled, then \
        killed after its timeout; cleans up after a supervisor that died. Sends the state \
        changes as events.";
    const USES: Uses = Uses {
        events: true,
        cancel: false,
        credential: false,
        source_credential: false,
    };
    const POSITIONAL: &'static [&'static str] = &["dir"];
    type Options = SandboxDownOptions;
    type Output = SupervisorStatus;
    fn run(_: Option<&Store>, o: &SandboxDownOptions, call: &Call) -> Result<SupervisorStatus> {
        services::down(o, call)
    }
}

pub struct Run;
impl Operation for Run {
    const NAME: &'static str = "run";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Supervises the processes of a Procfile or a \
        process-compose-style TOML/YAML file: dependency order with conditions, readiness \
        and liveness probes, restarts with backoff, rotated logs, ordered shutdown when \
        cancelled or stopped with sandbox_down.";
    const USES: Uses = EVENTS_CANCEL;
    const POSITIONAL: &'static [&'static str] = &["file"];
    type Options = RunOptions;
    type Output = SupervisorStatus;
    fn run(_: Option<&Store>, o: &RunOptions, call: &Call) -> Result<SupervisorStatus> {
        services::run(o, call)
    }
}
