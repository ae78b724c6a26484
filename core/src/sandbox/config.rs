//! The sandbox config, `idpkit-sandbox.toml`: every name a plan uses (image repository,
//! version maps, profiles, service images and probes, the Job's limits and Secret
//! references, the push guard's policy), with the defaults of the claude-sandbox decisions.
//!
//! A file overrides the defaults key by key: its tables are merged into the default tables
//! (so `[services.postgres] image = "postgis/postgis:16-3.4"` changes the image and keeps
//! the probe), and any key the defaults do not have is an error naming it.

use super::detect::{Ecosystem, Service};
use crate::error::{Error, Result};
use crate::gitguard::GuardPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::gitguard::{CONFIG_FILE, ENV_CONFIG};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub image: ImageConfig,
    /// Per ecosystem, a runtime series (`3.3`) to the exact version its image holds
    /// (`3.3.6`). A project asking for `3.3.1` gets the `3.3` image; none or `latest` the
    /// newest series.
    pub versions: BTreeMap<String, BTreeMap<String, String>>,
    pub profiles: ProfileConfig,
    pub services: BTreeMap<String, ServiceConfig>,
    pub job: JobConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_guard: Option<GuardPolicy>,
}

/// How the sandbox image is named: `{repository}:{ecosystem}-{series}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    pub repository: String,
    /// Where the project is mounted (Compose) or cloned (Job) in the main container.
    pub workdir: String,
}

/// Compose profile names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The main (agent) container's profile and Compose service name.
    pub main: String,
    /// A service's profile is this prefix and its name (`with-postgres`).
    pub service_prefix: String,
}

/// One backing service, the same in Compose and as a Job's sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub image: String,
    pub port: u16,
    /// The container's environment (no secret: the service listens only to its pod or
    /// Compose network, and trusts it).
    pub env: BTreeMap<String, String>,
    /// Arguments after the image's entrypoint.
    pub args: Vec<String>,
    /// The readiness command (exit 0 when ready), run in the service's container.
    pub health: Vec<String>,
    /// Seconds between probes, and how many failures give up.
    pub health_interval_seconds: u32,
    pub health_retries: u32,
    /// The variable the main container reads the connection URL from, and the URL with
    /// `{host}` for the service's host (`localhost` in a pod, the service name in Compose).
    pub url_env: String,
    pub url: String,
    /// The non-root user the image's server runs as.
    pub run_as_user: i64,
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

/// The Kubernetes Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    pub namespace: String,
    /// The Job's name is this prefix and the run's id (or the directory's name).
    pub name_prefix: String,
    pub active_deadline_seconds: i64,
    pub ttl_seconds_after_finished: i32,
    /// The main container's command; empty: the image's entrypoint.
    pub command: Vec<String>,
    pub run_as_user: i64,
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
    /// Secrets whose every key becomes an environment variable of the main container
    /// (`envFrom`; what `idpkit secrets push` writes).
    pub env_from_secrets: Vec<String>,
    /// Single variables from a Secret: `NAME = "secret-name/key"`.
    pub secret_env: BTreeMap<String, String>,
    /// A Secret with `username` and `password` keys the clone step authenticates with
    /// (idpbuilder's and Argo CD's shape); empty: clone anonymously.
    pub git_credentials_secret: String,
    /// The clone step's image (it needs `git` and `sh`); empty: the sandbox image.
    pub clone_image: String,
}

impl SandboxConfig {
    /// The config at `path` merged over the defaults.
    pub fn from_file(path: &Path) -> Result<SandboxConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("read the sandbox config", path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// `text` (a TOML document named `origin` in errors) merged over the defaults.
    pub fn from_toml(text: &str, origin: &str) -> Result<SandboxConfig> {
        let user: toml::Table = toml::from_str(text)
            .map_err(|e| Error::invalid(format!("{origin}: {}", e.to_string().trim_end())))?;
        let mut merged = toml::Table::try_from(SandboxConfig::default())
            .map_err(|e| Error::internal(format!("the default sandbox config: {e}")))?;
        merge(&mut merged, user);
        let config: SandboxConfig = toml::Value::Table(merged).try_into().map_err(|e| {
            Error::invalid(format!(
                "{origin}: {} (the keys are documented in docs/sandbox.md)",
                e.to_string().trim_end()
            ))
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// The config in force: `explicit`, else `$IDPKIT_SANDBOX_CONFIG`, else
    /// `idpkit-sandbox.toml` in `dir`, else the defaults. Returns the file it came from.
    pub fn locate(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        dir: &Path,
    ) -> Result<(SandboxConfig, Option<PathBuf>)> {
        match crate::gitguard::config_path(explicit, env, Some(dir)) {
            Some(p) => Ok((SandboxConfig::from_file(&p)?, Some(p))),
            None => Ok((SandboxConfig::default(), None)),
        }
    }

    /// The service's settings (every [`Service`] has defaults).
    pub fn service(&self, s: Service) -> &ServiceConfig {
        &self.services[s.name()]
    }

    /// The version map of `eco` (empty when the config has none).
    pub fn version_map(&self, eco: Ecosystem) -> Option<&BTreeMap<String, String>> {
        self.versions.get(eco.name()).filter(|m| !m.is_empty())
    }

    fn check(&self, origin: &str) -> Result<()> {
        for name in self.versions.keys() {
            if !Ecosystem::ALL.iter().any(|e| e.name() == name) {
                return Err(Error::invalid(format!(
                    "{origin}: [versions.{name}]: unknown ecosystem; the ecosystems are ruby, \
                     node, python and go"
                )));
            }
        }
        for name in self.services.keys() {
            if !Service::ALL.iter().any(|s| s.name() == name) {
                return Err(Error::invalid(format!(
                    "{origin}: [services.{name}]: unknown service; the services are postgres, \
                     mysql and redis"
                )));
            }
        }
        for (name, s) in &self.services {
            if s.image.is_empty() || s.health.is_empty() {
                return Err(Error::invalid(format!(
                    "{origin}: [services.{name}] needs an image and a health command"
                )));
            }
        }
        for (var, source) in &self.job.secret_env {
            if source
                .split_once('/')
                .is_none_or(|(s, k)| s.is_empty() || k.is_empty())
            {
                return Err(Error::invalid(format!(
                    "{origin}: [job.secret_env] {var} = {source:?}: write it as \
                     \"secret-name/key\""
                )));
            }
        }
        Ok(())
    }
}

/// Merges `over` into `base`: tables recursively, any other value replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let service = |image: &str, port: u16, user: i64| ServiceConfig {
            image: image.into(),
            port,
            env: BTreeMap::new(),
            args: vec![],
            health: vec![],
            health_interval_seconds: 2,
            health_retries: 30,
            url_env: String::new(),
            url: String::new(),
            run_as_user: user,
            cpu_request: "100m".into(),
            memory_request: "256Mi".into(),
            cpu_limit: "500m".into(),
            memory_limit: "512Mi".into(),
        };
        let postgres = ServiceConfig {
            env: env(&[
                ("POSTGRES_USER", "sandbox"),
                ("POSTGRES_DB", "sandbox_development"),
                // Reached only from its own pod or Compose network: no password to leak.
                ("POSTGRES_HOST_AUTH_METHOD", "trust"),
                ("PGDATA", "/var/lib/postgresql/data/pgdata"),
            ]),
            health: strings(&["pg_isready", "-h", "127.0.0.1", "-U", "sandbox"]),
            url_env: "DATABASE_URL".into(),
            url: "postgres://sandbox@{host}:5432/sandbox_development".into(),
            ..service("postgres:16-alpine", 5432, 70)
        };
        let mysql = ServiceConfig {
            env: env(&[
                ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
                ("MYSQL_DATABASE", "sandbox_development"),
            ]),
            health: strings(&["mysqladmin", "ping", "-h", "127.0.0.1"]),
            url_env: "DATABASE_URL".into(),
            url: "mysql2://root@{host}:3306/sandbox_development".into(),
            memory_request: "512Mi".into(),
            memory_limit: "1Gi".into(),
            ..service("mysql:8.4", 3306, 999)
        };
        let redis = ServiceConfig {
            args: strings(&["--save", "", "--appendonly", "no"]),
            health: strings(&["redis-cli", "ping"]),
            url_env: "REDIS_URL".into(),
            url: "redis://{host}:6379/0".into(),
            memory_request: "64Mi".into(),
            memory_limit: "128Mi".into(),
            ..service("redis:7-alpine", 6379, 999)
        };
        let ruby = env(&[("3.2", "3.2.6"), ("3.3", "3.3.6"), ("3.4", "3.4.7")]);
        SandboxConfig {
            image: ImageConfig {
                repository: "claude-sandbox".into(),
                workdir: "/workspace/src".into(),
            },
            versions: [("ruby".to_string(), ruby)].into_iter().collect(),
            profiles: ProfileConfig {
                main: "claude".into(),
                service_prefix: "with-".into(),
            },
            services: [("postgres", postgres), ("mysql", mysql), ("redis", redis)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            job: JobConfig {
                namespace: "default".into(),
                name_prefix: "sandbox-".into(),
                active_deadline_seconds: 3600,
                ttl_seconds_after_finished: 3600,
                command: vec![],
                run_as_user: 1000,
                cpu_request: "1".into(),
                memory_request: "2Gi".into(),
                cpu_limit: "2".into(),
                memory_limit: "4Gi".into(),
                env_from_secrets: vec![],
                secret_env: BTreeMap::new(),
                git_credentials_secret: String::new(),
                clone_image: String::new(),
            },
            git_guard: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_single_keys_and_keeps_the_rest() {
        let c = SandboxConfig::from_toml(
            "[services.postgres]\nimage = \"postgis/postgis:16-3.4-alpine\"\n\
             [versions.ruby]\n\"3.5\" = \"3.5.0\"\n[git_guard]\nprotected = [\"trunk\"]\n",
            "t.toml",
        )
        .unwrap();
        let pg = c.service(Service::Postgres);
        assert_eq!(pg.image, "postgis/postgis:16-3.4-alpine");
        assert_eq!(pg.health[0], "pg_isready");
        assert_eq!(c.versions["ruby"].len(), 4);
        assert_eq!(c.git_guard.unwrap().protected, vec!["trunk"]);
    }

    #[test]
    fn unknown_keys_and_bad_references_are_named() {
        let e = SandboxConfig::from_toml("[job]\nnamspace = \"x\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("namspace"), "{e}");
        let e =
            SandboxConfig::from_toml("[services.mongo]\nimage = \"m\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("services.mongo"), "{e}");
        let e = SandboxConfig::from_toml("[job.secret_env]\nTOKEN = \"nokey\"\n", "t.toml")
            .unwrap_err();
        assert!(e.to_string().contains("TOKEN"), "{e}");
        let e = SandboxConfig::from_toml("[job\n", "t.toml").unwrap_err();
        assert!(e.to_string().starts_with("t.toml"), "{e}");
    }
}
