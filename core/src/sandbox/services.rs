//! `sandbox up | status | env | down`: the plan's services as local supervised processes
//! (`local/`), their state in the run's `services/` directory. Also the options of the
//! general `run` operation (a Procfile or process-compose-style file), whose status and
//! shutdown go through the same `sandbox status` and `sandbox down`.

use super::detect::Service;
use super::facade::{plan_of, project_dir};
use super::local;
use super::workspace;
use crate::error::{Error, Result};
use crate::supervise::{self, state, Mode, SupervisorStatus};
use crate::Call;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The services' directory inside a run.
pub const SERVICES_DIR: &str = "services";

fn default_timeout() -> u64 {
    60
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxUpOptions {
    /// A run's directory or id, or a checkout (its state then goes in `.idpkit/services`).
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The sandbox config (as for sandbox_plan).
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
    /// The services to run. Default: the plan's.
    pub services: Option<Vec<Service>>,
    /// Seconds to wait for every service to be ready; then everything started is stopped.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Stay until cancelled (or `sandbox down`) instead of returning once ready; the
    /// services stop when it returns.
    pub foreground: bool,
    /// Send each line the services print as a `process_output` event.
    pub output_events: bool,
}

impl Default for SandboxUpOptions {
    fn default() -> Self {
        SandboxUpOptions {
            dir: PathBuf::new(),
            config: None,
            services: None,
            timeout_seconds: default_timeout(),
            foreground: false,
            output_events: false,
        }
    }
}

/// The services brought up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SandboxServices {
    pub status: SupervisorStatus,
    /// The connection variables (`DATABASE_URL`, `REDIS_URL`, `PGHOST`, …). They hold the
    /// services' throwaway passwords.
    pub env: BTreeMap<String, String>,
    /// The same as a dotenv file (mode 0600).
    #[schemars(extend("x-path" = true))]
    pub env_file: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxServicesOptions {
    /// A run's directory or id, a checkout, or a supervisor's state directory (`run`'s).
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxDownOptions {
    /// A run's directory or id, a checkout, or a supervisor's state directory (`run`'s).
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// Seconds to wait for the ordered shutdown.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

impl Default for SandboxDownOptions {
    fn default() -> Self {
        SandboxDownOptions {
            dir: PathBuf::new(),
            timeout_seconds: default_timeout(),
        }
    }
}

/// The connection variables of a run's services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServicesEnv {
    pub env: BTreeMap<String, String>,
    #[schemars(extend("x-path" = true))]
    pub env_file: PathBuf,
}

/// `run FILE`: supervise the processes of a Procfile, TOML or YAML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    /// A Procfile (`name: command` lines), or a `.toml`/`.yaml` file in process-compose's
    /// shape.
    #[schemars(extend("x-path" = true))]
    pub file: PathBuf,
    /// Where its status, lock and logs go. Default: `.idpkit-run` beside the file.
    #[schemars(extend("x-path" = true))]
    pub state_dir: Option<PathBuf>,
    /// Only these processes, with what they depend on. Default: all.
    pub only: Vec<String>,
    /// Return once every process is ready, leaving them supervised by this program (until
    /// `sandbox down` on the state directory, or its end), instead of staying until
    /// cancelled or every process ended.
    pub background: bool,
    /// Seconds `background` waits for readiness.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Send each line the processes print as a `process_output` event.
    pub output_events: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            file: PathBuf::new(),
            state_dir: None,
            only: Vec::new(),
            background: false,
            timeout_seconds: default_timeout(),
            output_events: false,
        }
    }
}

/// The state directory `dir` means: a supervisor's own, a run's `services/`, or a
/// checkout's `.idpkit/services`.
pub fn state_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join(state::STATUS_FILE).is_file() {
        return Ok(dir.to_path_buf());
    }
    let checkout = project_dir(dir)?;
    // A run's checkout is `{run}/src`: its services live in the run.
    if let Some(run) = checkout.parent() {
        if checkout.file_name() == Some(std::ffi::OsStr::new(workspace::CHECKOUT_DIR))
            && run.join(workspace::RUN_FILE).is_file()
        {
            return Ok(run.join(SERVICES_DIR));
        }
    }
    Ok(checkout.join(".idpkit").join(SERVICES_DIR))
}

pub fn up(o: &SandboxUpOptions, call: &Call) -> Result<SandboxServices> {
    let (_, cfg, plan) = plan_of(&o.dir, o.config.as_deref())?;
    let services: Vec<_> = match &o.services {
        None => plan.services.clone(),
        // Named ones come from the config, whether or not detection found them.
        Some(only) => Service::ALL
            .into_iter()
            .filter(|s| only.contains(s))
            .filter_map(|s| super::plan::service_from_config(s, &cfg))
            .collect(),
    };
    if services.is_empty() {
        return Err(Error::invalid(format!(
            "{}: the plan has no services to bring up; name them (services: [postgres, …])",
            o.dir.display()
        )));
    }
    let dir = state_dir(&o.dir)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    // Absolute: the paths go into the servers' arguments and config files.
    let dir = std::fs::canonicalize(&dir).map_err(|e| Error::io("open", &dir, e))?;
    // The supervisor's lock before anything is prepared: services running there keep
    // their ports, files and variables untouched by a second `up`.
    let lock = supervise::engine::lock_or_conflict(&dir)?;
    let (spec, env) = local::prepare(&services, &dir)?;
    let mode = if o.foreground {
        Mode::Foreground
    } else {
        Mode::Background {
            timeout: Duration::from_secs(o.timeout_seconds),
        }
    };
    let status = supervise::supervise_locked(spec, &dir, Some(lock), mode, o.output_events, call)?;
    Ok(SandboxServices {
        status,
        env,
        env_file: dir.join(local::ENV_FILE),
    })
}

pub fn status(o: &SandboxServicesOptions) -> Result<SupervisorStatus> {
    supervise::status(&state_dir(&o.dir)?)
}

pub fn down(o: &SandboxDownOptions, call: &Call) -> Result<SupervisorStatus> {
    supervise::down(
        &state_dir(&o.dir)?,
        Duration::from_secs(o.timeout_seconds),
        call.sink(),
    )
}

pub fn env(o: &SandboxServicesOptions) -> Result<ServicesEnv> {
    let dir = state_dir(&o.dir)?;
    Ok(ServicesEnv {
        env: local::read_env(&dir)?,
        env_file: dir.join(local::ENV_FILE),
    })
}

pub fn run(o: &RunOptions, call: &Call) -> Result<SupervisorStatus> {
    if o.file.as_os_str().is_empty() {
        return Err(Error::invalid(
            "give the file to run: a Procfile, or a .toml/.yaml file",
        ));
    }
    let mut spec = supervise::file::read(&o.file)?;
    if !o.only.is_empty() {
        spec = only(spec, &o.only)?;
    }
    let dir = o
        .state_dir
        .clone()
        .unwrap_or_else(|| supervise::file::default_state_dir(&o.file));
    let mode = if o.background {
        Mode::Background {
            timeout: Duration::from_secs(o.timeout_seconds),
        }
    } else {
        Mode::Foreground
    };
    supervise::supervise(spec, &dir, mode, o.output_events, call)
}

/// `spec` cut to `names` and what they depend on.
fn only(
    mut spec: supervise::SupervisorSpec,
    names: &[String],
) -> Result<supervise::SupervisorSpec> {
    let mut keep: Vec<String> = Vec::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        let Some(p) = spec.processes.get(&n) else {
            return Err(Error::invalid(format!(
                "only: {n:?} is not a process in the file; it has {}",
                spec.processes
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !keep.contains(&n) {
            todo.extend(p.depends_on.keys().cloned());
            keep.push(n);
        }
    }
    spec.processes.retain(|k, _| keep.contains(k));
    Ok(spec)
}
