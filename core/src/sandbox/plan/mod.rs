//! The plan: what a sandbox for a project needs (runtime and image, services, setup steps),
//! with the evidence behind it, decided once and rendered the same way as Compose services
//! ([`compose`]) and as a Kubernetes Job's sidecars ([`job`]).

pub mod compose;
pub mod job;
mod version;

use super::config::{SandboxConfig, ServiceConfig};
use super::detect::{self, Detection, Ecosystem, Project, Service, Unparsable};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A sandbox plan. The same serde type in every front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The directory planned.
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The sandbox config the plan used; none: the defaults.
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
    /// The main project's ecosystem (the root's project, else the first one found).
    pub runtime: Option<Ecosystem>,
    /// The runtime version the image holds (`3.3.6`), from the config's version map; the
    /// project's own request when the map has no entry for it.
    pub version: Option<String>,
    /// The sandbox image (`claude-sandbox:ruby-3.3`).
    pub image: String,
    /// The services, sorted; every service when the plan fell back.
    pub services: Vec<ServicePlan>,
    /// Compose profiles: the main one, then one per service (`claude`, `with-postgres`).
    pub profiles: Vec<String>,
    /// Setup commands, in order, each in its project's directory.
    pub setup: Vec<SetupStep>,
    /// Whether detection could not decide and the plan holds every service to be safe.
    pub fallback: bool,
    /// Why it fell back.
    pub fallback_reason: Option<String>,
    /// Every project found, with its evidence.
    pub projects: Vec<Project>,
    /// Files detection could not use.
    pub unparsable: Vec<Unparsable>,
    /// Things to know: version mismatches, versions outside the map, other runtimes.
    pub warnings: Vec<String>,
}

/// One backing service as both renderings use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServicePlan {
    pub service: Service,
    /// Its Compose service and sidecar container name (`postgres`).
    pub name: String,
    /// Its Compose profile (`with-postgres`).
    pub profile: String,
    pub image: String,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    pub args: Vec<String>,
    /// The readiness command: a Compose health check and a sidecar's startup probe.
    pub health: Vec<String>,
    pub health_interval_seconds: u32,
    pub health_retries: u32,
    /// The variable the main container finds the service at, and its value with the
    /// service's host written `{host}`.
    pub url_env: String,
    pub url: String,
}

impl ServicePlan {
    /// The connection URL with `host` for `{host}`.
    pub fn url_for(&self, host: &str) -> String {
        self.url.replace("{host}", host)
    }
}

/// One setup command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetupStep {
    /// The project's directory, relative (`.` for the root).
    pub dir: String,
    pub command: String,
}

/// Plans the sandbox for `dir` under `config` (found with `config_path`).
pub fn plan(
    dir: &Path,
    config: &SandboxConfig,
    config_path: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan> {
    if !dir.is_dir() {
        return Err(crate::Error::not_found(format!(
            "{} is not a directory; give the project's checkout",
            dir.display()
        )));
    }
    let found = detect::detect(dir, env);
    Ok(from_detection(dir, found, config, config_path))
}

/// The plan for what detection found.
pub fn from_detection(
    dir: &Path,
    found: Detection,
    config: &SandboxConfig,
    config_path: Option<PathBuf>,
) -> Plan {
    let mut warnings: Vec<String> = found
        .projects
        .iter()
        .flat_map(|p| {
            p.warnings
                .iter()
                .map(move |w| format!("{} ({} project): {w}", p.dir, p.ecosystem.name()))
        })
        .collect();
    let fallback_reason = if found.projects.is_empty() && found.unparsable.is_empty() {
        Some("no Ruby, Node, Python or Go project was recognized".to_string())
    } else if !found.unparsable.is_empty() {
        let files: Vec<&str> = found.unparsable.iter().map(|u| u.file.as_str()).collect();
        Some(format!(
            "detection could not read {}; every service is planned to be safe",
            files.join(", ")
        ))
    } else {
        None
    };
    let mut services: Vec<Service> = if fallback_reason.is_some() {
        Service::ALL.to_vec()
    } else {
        found
            .projects
            .iter()
            .flat_map(|p| p.services.iter().copied())
            .collect()
    };
    services.sort();
    services.dedup();
    let main = found.projects.first();
    let (version, image) = match main {
        Some(p) => {
            let v = version::resolve(p, config.version_map(p.ecosystem));
            warnings.extend(v.warning);
            (
                v.version,
                format!(
                    "{}:{}-{}",
                    config.image.repository,
                    p.ecosystem.name(),
                    v.series
                ),
            )
        }
        None => (None, format!("{}:latest", config.image.repository)),
    };
    if let Some(m) = main {
        for p in &found.projects[1..] {
            if p.ecosystem != m.ecosystem {
                warnings.push(format!(
                    "{} is a {} project; the image holds {} only, so its setup needs that \
                     runtime in the image",
                    p.dir,
                    p.ecosystem.name(),
                    m.ecosystem.name()
                ));
            }
        }
    }
    let services: Vec<ServicePlan> = services
        .into_iter()
        .map(|s| service_plan(s, config.service(s), config))
        .collect();
    for (i, s) in services.iter().enumerate() {
        if let Some(first) = services[..i].iter().find(|f| f.url_env == s.url_env) {
            warnings.push(format!(
                "{} and {} both set {}; it points at {} ({} is at {})",
                first.name,
                s.name,
                s.url_env,
                first.name,
                s.name,
                s.url_for("localhost")
            ));
        }
    }
    let mut profiles = vec![config.profiles.main.clone()];
    profiles.extend(services.iter().map(|s| s.profile.clone()));
    let setup = found
        .projects
        .iter()
        .flat_map(|p| {
            p.setup.iter().map(|c| SetupStep {
                dir: p.dir.clone(),
                command: c.clone(),
            })
        })
        .collect();
    Plan {
        dir: dir.to_path_buf(),
        config: config_path,
        runtime: main.map(|p| p.ecosystem),
        version,
        image,
        services,
        profiles,
        setup,
        fallback: fallback_reason.is_some(),
        fallback_reason,
        projects: found.projects,
        unparsable: found.unparsable,
        warnings,
    }
}

/// Service `s` as `config` defines it, whether or not a plan asked for it.
pub fn service_from_config(s: Service, config: &SandboxConfig) -> Option<ServicePlan> {
    config
        .services
        .get(s.name())
        .map(|c| service_plan(s, c, config))
}

fn service_plan(s: Service, c: &ServiceConfig, config: &SandboxConfig) -> ServicePlan {
    ServicePlan {
        service: s,
        name: s.name().to_string(),
        profile: format!("{}{}", config.profiles.service_prefix, s.name()),
        image: c.image.clone(),
        port: c.port,
        env: c.env.clone(),
        args: c.args.clone(),
        health: c.health.clone(),
        health_interval_seconds: c.health_interval_seconds,
        health_retries: c.health_retries,
        url_env: c.url_env.clone(),
        url: c.url.clone(),
    }
}

impl Plan {
    /// `COMPOSE_PROFILES`'s value: the profiles joined by commas.
    pub fn compose_profiles(&self) -> String {
        self.profiles.join(",")
    }

    /// The setup steps as one shell command (`cd api && bundle install && ...`), each in
    /// its project's directory; empty when there are none.
    pub fn setup_script(&self) -> String {
        self.setup
            .iter()
            .map(|s| {
                if s.dir == "." {
                    s.command.clone()
                } else {
                    format!("(cd {} && {})", shell_quote(&s.dir), s.command)
                }
            })
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// The main container's environment for services reached at `host(service)`.
    pub fn service_env(&self, host: impl Fn(&ServicePlan) -> String) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for s in &self.services {
            // Postgres and MySQL both name DATABASE_URL by default; in a fallback plan,
            // which has both, the first (postgres) keeps it.
            if !s.url_env.is_empty() && !env.contains_key(&s.url_env) {
                env.insert(s.url_env.clone(), s.url_for(&host(s)));
            }
        }
        env
    }

    /// The plan as text for people.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut t = String::new();
        let runtime = self.runtime.map_or("none", |e| e.name());
        let _ = writeln!(
            t,
            "runtime:  {runtime} {}",
            self.version.as_deref().unwrap_or("")
        );
        let _ = writeln!(t, "image:    {}", self.image);
        let names: Vec<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        let services = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        let _ = writeln!(t, "services: {services}");
        let _ = writeln!(t, "profiles: {}", self.compose_profiles());
        if let Some(r) = &self.fallback_reason {
            let _ = writeln!(t, "fallback: yes: {r}");
        }
        for s in &self.setup {
            let _ = writeln!(t, "setup:    [{}] {}", s.dir, s.command);
        }
        for p in &self.projects {
            let _ = writeln!(
                t,
                "project:  {} {}{}",
                p.dir,
                p.ecosystem.name(),
                p.framework
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            );
            for e in &p.evidence {
                let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
                let _ = writeln!(t, "  {}{at}: {}", e.file, e.found);
            }
        }
        for u in &self.unparsable {
            let _ = writeln!(t, "unparsable: {}: {}", u.file, u.reason);
        }
        for w in &self.warnings {
            let _ = writeln!(t, "warning:  {w}");
        }
        t
    }
}

/// `s` quoted for `sh` when it needs it.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
