//! `idpkit sandbox …`: runs (clone, ls, rm), the plan, its Compose and Job renderings, and
//! a sandbox's secrets (`sandbox secrets push`, the same command as `secrets push`).

use crate::output::Output;
use crate::secrets_cmds::{self, PushArgs};
use crate::source_cmds::GitArgs;
use clap::{Args, Subcommand};
use idpkit::kube::KubeOptions;
use idpkit::ops::{
    ManifestFormat, SandboxCloneOptions, SandboxComposeOptions, SandboxJobOptions,
    SandboxPlanOptions, SandboxRemoveOptions, SandboxRunsOptions,
};
use idpkit::sandbox::facade;
use idpkit::{Call, Event, EventSink, Result};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Clone a repository into a new run (never a reused checkout); prints the run's
    /// checkout (--json: the run: id, commit, branch, …).
    #[command(after_help = "Examples:
  idpkit sandbox clone https://gitea.cnoe.localtest.me:8443/giteaAdmin/shop.git --rev main \\
      --username giteaAdmin --password-stdin --ca-file idpbuilder-ca.crt < password.txt
  idpkit sandbox clone git@github.com:org/app.git --ssh-key ~/.ssh/id_ed25519")]
    Clone {
        url: String,
        #[command(flatten)]
        root: RootArg,
        #[command(flatten)]
        git: GitArgs,
    },
    /// List the runs, oldest first: id, commit, repository.
    Ls {
        #[command(flatten)]
        root: RootArg,
    },
    /// Remove a run (its checkout and record).
    Rm {
        /// The run's id (`sandbox ls`).
        id: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Detect the project(s) in DIR and print the plan: runtime, version, image, services,
    /// setup steps, evidence, fallback (--json: the plan).
    #[command(after_help = "Examples:
  idpkit sandbox plan ~/.local/share/idpkit/sandboxes/shop-20261204-133000-1a2b3c
  idpkit sandbox plan . --json | jq .services")]
    Plan(PlanArgs),
    /// Write the plan as a Compose file (-o FILE; default: print it) and print
    /// COMPOSE_PROFILES=… for `docker compose`.
    #[command(after_help = "Example:
  eval \"$(idpkit sandbox compose . -o sandbox-compose.yaml)\" && docker compose -f sandbox-compose.yaml up")]
    Compose {
        #[command(flatten)]
        plan: PlanArgs,
        /// Write the compose file here (atomically) instead of printing it.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the plan as a Kubernetes Job; --apply creates it (--dry-run: the API server
    /// validates it, stores nothing), --wait follows it, printing the main container's log,
    /// and exits with its exit status.
    #[command(after_help = "Examples:
  idpkit sandbox job ./shop > job.yaml
  idpkit sandbox job ./shop --apply --dry-run --context kind-localdev
  idpkit sandbox job ./shop --apply --wait --namespace sandboxes")]
    Job(JobArgs),
    /// Bring the plan's services (postgres, redis, mysql) up as local supervised
    /// processes (no container engine): data under the run, free loopback ports,
    /// throwaway passwords; returns once all are ready and prints their variables.
    #[command(after_help = "Examples:
  idpkit sandbox up shop-20261204-133000-1a2b3c
  idpkit sandbox up . --service postgres --service redis
  eval \"$(idpkit sandbox env . --export)\" && bundle exec rails test
  idpkit sandbox up . --foreground   # stays; Ctrl-C stops the services")]
    Up(crate::supervise_cmds::UpArgs),
    /// The services' status: state, pid, readiness, restarts, exit code (--json: all, with
    /// each log file).
    Status {
        /// A run's id or directory, a checkout, or a `run` state directory.
        dir: PathBuf,
    },
    /// Print the services' connection variables (DATABASE_URL, REDIS_URL, PGHOST, …) as
    /// KEY='value' lines; --export prefixes `export `.
    Env {
        /// A run's id or directory, or a checkout.
        dir: PathBuf,
        #[arg(long)]
        export: bool,
    },
    /// Stop the services (or a detached `run`) in reverse dependency order; cleans up
    /// after a supervisor that died.
    Down {
        /// A run's id or directory, a checkout, or a `run` state directory.
        dir: PathBuf,
        /// How long the ordered shutdown may take.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
        timeout: std::time::Duration,
    },
    /// A sandbox's secrets.
    #[command(subcommand)]
    Secrets(SandboxSecretsCommand),
}

#[derive(Args, Debug, Clone)]
pub struct RootArg {
    /// The runs directory (default: $IDPKIT_SANDBOX_HOME, else
    /// $XDG_DATA_HOME/idpkit/sandboxes).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// The project: a checkout, or a run's directory.
    dir: PathBuf,
    /// The sandbox config (default: $IDPKIT_SANDBOX_CONFIG, else idpkit-sandbox.toml in
    /// the project, else the defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl PlanArgs {
    fn options(self) -> SandboxPlanOptions {
        SandboxPlanOptions {
            dir: self.dir,
            config: self.config,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct JobArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// The Job's name (default: the config's prefix and the run's id).
    #[arg(long)]
    name: Option<String>,
    /// The namespace (default: the config's, `default`).
    #[arg(short, long)]
    namespace: Option<String>,
    /// The repository the Job clones (default: the run's, else the checkout's origin).
    #[arg(long, value_name = "URL")]
    repo_url: Option<String>,
    /// The commit it checks out (default: the run's, else the checkout's HEAD).
    #[arg(long)]
    commit: Option<String>,
    /// Print JSON instead of YAML.
    #[arg(long = "output-json")]
    output_json: bool,
    /// Create the Job in the cluster.
    #[arg(long)]
    apply: bool,
    /// With --apply: validate and admit it on the API server, store nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --apply: follow the Job to its end and exit with its main container's status.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long (`30m`; default: the Job's deadline + 5m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
}

#[derive(Subcommand)]
pub enum SandboxSecretsCommand {
    /// Create or update a Kubernetes Secret from secrets tiers (same as `idpkit secrets
    /// push`).
    #[command(after_help = secrets_cmds::PUSH_HELP)]
    Push(PushArgs),
}

/// A sink that prints a Job's log lines on stdout as they come (JSON lines on stderr with
/// --json, like every other event) and hands every other event to the progress display.
fn log_sink(inner: EventSink, json: bool) -> EventSink {
    Arc::new(move |e: &Event| match e {
        Event::LogLine { line, .. } if !json => println!("{line}"),
        other => inner(other),
    })
}

pub fn run(c: SandboxCommand, out: &Output, json: bool) -> Result<()> {
    match c {
        SandboxCommand::Clone { url, root, git } => {
            let opts = SandboxCloneOptions {
                remote: git.remote(url),
                root: root.root,
            };
            let progress = out.progress();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(progress.sink()))
                .with_credential(git.creds.credential()?);
            let r = facade::clone(&opts, &call);
            progress.finish();
            let run = r?;
            out.note(&format!(
                "run {} at {}{}",
                run.id,
                &run.commit[..12.min(run.commit.len())],
                run.branch
                    .as_deref()
                    .map(|b| format!(" (branch {b})"))
                    .unwrap_or_default()
            ));
            out.result(&run, || run.checkout.display().to_string());
        }
        SandboxCommand::Up(a) => crate::supervise_cmds::up(a, out, json)?,
        SandboxCommand::Status { dir } => crate::supervise_cmds::status(dir, out)?,
        SandboxCommand::Env { dir, export } => crate::supervise_cmds::env(dir, export, out)?,
        SandboxCommand::Down { dir, timeout } => {
            crate::supervise_cmds::down(dir, timeout, out, json)?
        }
        SandboxCommand::Ls { root } => {
            let runs = facade::list(&SandboxRunsOptions { root: root.root })?;
            out.result(&runs, || {
                runs.runs
                    .iter()
                    .map(|r| {
                        format!(
                            "{}  {}  {}",
                            r.id,
                            &r.commit[..12.min(r.commit.len())],
                            r.url
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SandboxCommand::Rm { id, root } => {
            let run = facade::remove(&SandboxRemoveOptions {
                id,
                root: root.root,
            })?;
            out.result(&run, || format!("removed {}", run.id));
        }
        SandboxCommand::Plan(a) => {
            let plan = facade::plan(&a.options())?;
            out.result(&plan, || plan.to_text().trim_end().to_string());
        }
        SandboxCommand::Compose { plan, output } => {
            let p = plan.options();
            let r = facade::compose(&SandboxComposeOptions {
                dir: p.dir,
                config: p.config,
                output: output.clone(),
            })?;
            for w in &r.plan.warnings {
                out.note(&format!("warning: {w}"));
            }
            if let Some(reason) = &r.plan.fallback_reason {
                out.note(&format!("warning: fallback to every service: {reason}"));
            }
            out.result(&r, || match &r.file {
                Some(f) => {
                    eprintln!("wrote {}", f.display());
                    format!("COMPOSE_PROFILES={}", r.compose_profiles)
                }
                None => {
                    eprintln!("COMPOSE_PROFILES={}", r.compose_profiles);
                    r.compose.trim_end().to_string()
                }
            });
        }
        SandboxCommand::Job(a) => {
            let p = a.plan.options();
            let opts = SandboxJobOptions {
                dir: p.dir,
                config: p.config,
                name: a.name,
                namespace: a.namespace,
                repo_url: a.repo_url,
                commit: a.commit,
                format: if a.output_json {
                    ManifestFormat::Json
                } else {
                    ManifestFormat::Yaml
                },
                apply: a.apply,
                dry_run: a.dry_run,
                wait: a.wait,
                timeout_seconds: a.timeout.map(|d| d.as_secs().max(1)),
                cluster: KubeOptions {
                    kubeconfig: a.kubeconfig,
                    context: a.context,
                },
            };
            let progress = out.events();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(log_sink(progress.sink(), json)));
            let r = facade::run_job(&opts, &call);
            progress.finish();
            let job = r?;
            let code = job.outcome.as_ref().map_or(0, |o| o.exit_code);
            if job.applied {
                out.note(&format!(
                    "job {}/{} {}",
                    job.namespace,
                    job.name,
                    if job.dry_run {
                        "accepted by a server-side dry run (not stored)"
                    } else {
                        "created"
                    }
                ));
            }
            if let Some(o) = &job.outcome {
                out.note(&format!(
                    "job {} {} (exit {}{})",
                    job.name,
                    if o.succeeded { "completed" } else { "failed" },
                    o.exit_code,
                    o.reason
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                ));
            }
            out.result(&job, || {
                if job.outcome.is_some() {
                    String::new()
                } else {
                    job.manifest.trim_end().to_string()
                }
            });
            if code != 0 {
                std::process::exit(code.clamp(1, 255));
            }
        }
        SandboxCommand::Secrets(SandboxSecretsCommand::Push(a)) => secrets_cmds::push(a, out)?,
    }
    Ok(())
}
