//! `idpkit`: the command line over the idpkit core.

mod creds;
mod guard_cmds;
mod interrupt;
mod output;
mod registry_cmds;
mod sandbox_cmds;
mod secrets_cmds;
mod source_cmds;
mod supervise_cmds;

use clap::{Args, CommandFactory, Parser, Subcommand};
use idpkit::{BuildOptions, Compression, Error, ErrorKind, Result, Store};
use output::Output;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "idpkit",
    version,
    about = "Daemonless OCI images and platform plumbing",
    after_help = "Examples:
  idpkit build ./app -t gitea.cnoe.localtest.me:8443/giteaadmin/app:dev
  idpkit push gitea.cnoe.localtest.me:8443/giteaadmin/app:dev
  idpkit completions bash > /etc/bash_completion.d/idpkit

Exit codes: 0 success, 1 internal error, 2 invalid input or usage, 3 not found, 4 auth,
5 untrusted, 6 integrity, 7 unsafe archive, 8 policy, 9 network, 10 conflict,
11 cancelled, 12 local I/O (see docs/cli.md)."
)]
struct Cli {
    /// The local image store (an OCI image layout). Default: $IDPKIT_STORE, else
    /// $XDG_DATA_HOME/idpkit/store.
    #[arg(long, global = true, env = "IDPKIT_STORE", value_name = "DIR")]
    store: Option<PathBuf>,
    /// The GitOps source cache. Default: $IDPKIT_CACHE, else $XDG_CACHE_HOME/idpkit, else
    /// ~/.cache/idpkit.
    #[arg(long, global = true, env = "IDPKIT_CACHE", value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Machine-readable output: results as JSON on stdout, events as JSON lines on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Print progress events and warnings.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Print only results and errors (`images -q`: only references, one per line).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Build an OCI image from a directory into the local store (no daemon, no Dockerfile).
    #[command(after_help = "Examples:
  idpkit build ./site -t localhost/site:1 --from nginx:1.27 --prefix /usr/share/nginx/html
  idpkit build ./bin -t gitea.cnoe.localtest.me:8443/giteaadmin/app:dev \\
      --entrypoint '[\"/app/server\",\"--port\",\"80\"]' -e MODE=prod")]
    Build(BuildArgs),
    /// List images in the store (-q: only their references, one per line).
    #[command(after_help = "Examples:
  idpkit images
  idpkit images -q | xargs idpkit rmi")]
    Images,
    /// Point a new tag at an image in the store.
    #[command(after_help = "Example:
  idpkit tag localhost/app:dev gitea.cnoe.localtest.me:8443/giteaadmin/app:1.0")]
    Tag { source: String, target: String },
    /// Remove a tag (or every entry of a digest) from the store; `gc` frees the space.
    #[command(after_help = "Examples:
  idpkit rmi localhost/app:dev
  idpkit rmi sha256:3f1c... && idpkit gc")]
    Rmi {
        #[arg(required = true)]
        references: Vec<String>,
    },
    /// Show an image's manifest and config as JSON; with --remote, read them from the
    /// registry without pulling.
    #[command(after_help = "Examples:
  idpkit inspect localhost/app:dev
  idpkit inspect --remote gitea.cnoe.localtest.me:8443/giteaadmin/app:dev --platform linux/arm64")]
    Inspect {
        reference: String,
        /// Read the image from its registry instead of the store (nothing is pulled).
        #[arg(long)]
        remote: bool,
        /// With --remote: os/arch[/variant] to pick from an index (default: this machine's).
        #[arg(long, requires = "remote", help_heading = "Registry options")]
        platform: Option<String>,
        #[command(flatten)]
        trust: registry_cmds::Remote,
        #[command(flatten)]
        creds: creds::Creds,
    },
    /// Delete blobs no image references, and leftovers of interrupted builds.
    #[command(after_help = "Example:
  idpkit gc")]
    Gc,
    /// Copy images from another OCI layout (umoci, skopeo oci:) into the store: DIR[:TAG].
    #[command(after_help = "Examples:
  idpkit import ./layout
  idpkit import ./layout:v1 --as localhost/app:v1")]
    Import {
        source: String,
        /// Store the image under this reference (default: its own name, or localhost/DIR:TAG).
        #[arg(long = "as", value_name = "REF")]
        name: Option<String>,
    },
    /// Copy an image from the store into an OCI layout directory: REF DIR[:TAG].
    #[command(after_help = "Example:
  idpkit export localhost/app:dev ./layout:dev && skopeo inspect oci:./layout:dev")]
    Export {
        reference: String,
        destination: String,
    },
    #[command(flatten)]
    Registry(registry_cmds::RegistryCommand),
    /// GitOps sources (Flux artifacts, tarballs by URL) in a safe local cache.
    #[command(subcommand)]
    Source(source_cmds::SourceCommand),
    /// Secrets files: SOPS-encrypted dotenv, YAML and JSON decrypted natively (age).
    #[command(subcommand)]
    Secrets(secrets_cmds::SecretsCommand),
    /// The git push guard: refuse forced pushes, deletes and rewrites of protected branches,
    /// as a check, a pre-push hook, or a `git` wrapper.
    #[command(subcommand, name = "git-guard")]
    GitGuard(guard_cmds::GuardCommand),
    /// Sandboxes: a fresh clone per run, the plan of its services, Compose and Kubernetes
    /// Job renderings, and its secrets in a Kubernetes Secret.
    #[command(subcommand)]
    Sandbox(sandbox_cmds::SandboxCommand),
    /// Supervise the processes of a Procfile or a process-compose-style TOML/YAML file:
    /// dependency order with conditions, readiness and liveness probes, restarts with
    /// backoff, logs in the state directory; Ctrl-C stops them in reverse order.
    #[command(after_help = "Examples:
  idpkit run Procfile
  idpkit run processes.yaml --only web
  idpkit run processes.toml --detach && idpkit sandbox status .idpkit-run && idpkit sandbox down .idpkit-run")]
    Run(supervise_cmds::RunArgs),
    /// What idpkit would use here (store, source cache, trust roots and certs.d, a
    /// registry's credentials and trust, the cluster context, the sandbox's local servers)
    /// and what is wrong with it, with the fix. Exits 1 when it found a problem.
    #[command(after_help = "Examples:
  idpkit doctor
  idpkit doctor --registry gitea.cnoe.localtest.me:8443 --context kind-localdev
  idpkit doctor --offline --json | jq '.checks[] | select(.status != \"ok\")'")]
    Doctor {
        /// A registry (HOST[:PORT]) whose trust (it is contacted) and credentials to check.
        #[arg(long, value_name = "HOST")]
        registry: Option<String>,
        /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<PathBuf>,
        /// Kubeconfig context (default: its current context).
        #[arg(long)]
        context: Option<String>,
        /// No network: skip the registry's trust and the API server.
        #[arg(long)]
        offline: bool,
    },
    /// Print a shell completion script to standard output.
    #[command(after_help = "Examples:
  source <(idpkit completions bash)
  idpkit completions zsh > \"${fpath[1]}/_idpkit\"
  idpkit completions fish > ~/.config/fish/completions/idpkit.fish")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output.
    #[command(after_help = "Example:
  idpkit man | man -l -")]
    Man,
}

#[derive(Args)]
struct BuildArgs {
    /// The directory to build from (honours its .dockerignore).
    context: PathBuf,
    /// Tag the image (repeatable), e.g. gitea.cnoe.localtest.me:8443/giteaadmin/app:dev.
    #[arg(short = 't', long = "tag", value_name = "REF")]
    tags: Vec<String>,
    /// Base image from the store, or `scratch` (the default).
    #[arg(long, value_name = "REF")]
    from: Option<String>,
    /// Where the context lands in the image.
    #[arg(long, default_value = "/")]
    prefix: String,
    /// Entrypoint: a JSON array (`'["/app/server","--port","80"]'`) or words split on spaces.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Default arguments: a JSON array or words split on spaces.
    #[arg(long)]
    cmd: Option<String>,
    /// Environment variable K=V (repeatable).
    #[arg(short, long = "env", value_name = "K=V")]
    env: Vec<String>,
    #[arg(short, long)]
    workdir: Option<String>,
    #[arg(short, long)]
    user: Option<String>,
    /// Config label K=V (repeatable).
    #[arg(short, long = "label", value_name = "K=V")]
    label: Vec<String>,
    /// Manifest annotation K=V (repeatable).
    #[arg(long = "annotation", value_name = "K=V")]
    annotation: Vec<String>,
    /// os/arch[/variant]; default: the base image's, else the host's.
    #[arg(long)]
    platform: Option<String>,
    /// Exclude pattern on top of .dockerignore (repeatable, same syntax).
    #[arg(long = "exclude", value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Layer compression: gzip or zstd.
    #[arg(long, default_value = "gzip")]
    compression: String,
    /// Compression level (gzip 0-9, default 1; zstd 1-22, default 3).
    #[arg(long)]
    level: Option<i32>,
    /// Compression threads (default: every core); never changes the output.
    #[arg(long)]
    threads: Option<usize>,
    /// Re-read every file instead of reusing an unchanged layer.
    #[arg(long)]
    no_cache: bool,
    /// How a base (--from) that is not in the store is pulled from its registry.
    #[command(flatten)]
    remote: registry_cmds::Remote,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json, cli.verbose, cli.quiet);
    if let Err(e) = interrupt::install() {
        out.error(&e);
        return ExitCode::from(exit_code(e.kind));
    }
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(exit_code(e.kind))
        }
    }
}

/// One exit code per error kind, so scripts can tell "not there" from "not allowed" from
/// "not trusted" without parsing messages: the kind's number in the contract plus one, so
/// INVALID_INPUT is 2 like clap's own usage errors, and 1 stays "internal/anything else".
/// The table is in docs/cli.md and `idpkit --help`.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Internal => 1,
        ErrorKind::InvalidInput => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Auth => 4,
        ErrorKind::Untrusted => 5,
        ErrorKind::Integrity => 6,
        ErrorKind::UnsafeArchive => 7,
        ErrorKind::Policy => 8,
        ErrorKind::Network => 9,
        ErrorKind::Conflict => 10,
        ErrorKind::Cancelled => 11,
        ErrorKind::Io => 12,
    }
}

/// The kind an exit code of [`exit_code`] stands for (a detached idpkit's failure).
pub(crate) fn kind_of_exit(code: i32) -> ErrorKind {
    const KINDS: [ErrorKind; 12] = [
        ErrorKind::Internal,
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Auth,
        ErrorKind::Untrusted,
        ErrorKind::Integrity,
        ErrorKind::UnsafeArchive,
        ErrorKind::Policy,
        ErrorKind::Network,
        ErrorKind::Conflict,
        ErrorKind::Cancelled,
        ErrorKind::Io,
    ];
    KINDS
        .into_iter()
        .find(|k| i32::from(exit_code(*k)) == code)
        .unwrap_or(ErrorKind::Internal)
}

fn open_store(path: Option<PathBuf>) -> Result<Store> {
    match path {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
}

fn run(cli: Cli, out: &Output) -> Result<()> {
    // Opened by the commands that use it, so `trust add`, `login` or `tags` never create a
    // store as a side effect.
    let path = cli.store.clone();
    let store = move || open_store(path.clone());
    match cli.command {
        Command::Registry(c) => registry_cmds::run(c, &store, out)?,
        Command::Source(c) => source_cmds::run(c, cli.cache.clone(), out)?,
        Command::Secrets(c) => secrets_cmds::run(c, out, cli.json)?,
        Command::GitGuard(c) => guard_cmds::run(c, out, cli.json)?,
        Command::Sandbox(c) => sandbox_cmds::run(c, out, cli.json)?,
        Command::Run(a) => supervise_cmds::run(a, out, cli.json)?,
        Command::Doctor {
            registry,
            kubeconfig,
            context,
            offline,
        } => {
            let report = idpkit::doctor::doctor(&idpkit::doctor::DoctorOptions {
                registry,
                store: cli.store.clone(),
                cache: cli.cache.clone(),
                cluster: idpkit::kube::KubeOptions {
                    kubeconfig,
                    context,
                },
                offline,
            })?;
            out.result(&report, || output::doctor_text(&report));
            if report.problems > 0 {
                // Like `brew doctor`: a script can tell a healthy machine by the exit code.
                std::process::exit(1);
            }
        }
        Command::Build(args) => {
            let opts = build_options(args)?;
            let progress = out.progress();
            let cancel = interrupt::token();
            let result = store()?.build(&opts, Some(&progress.sink()), Some(&cancel));
            progress.finish();
            let result = result?;
            out.result(&result, || result.digest.clone());
        }
        Command::Images => {
            let images = store()?.images()?;
            if cli.quiet {
                // `-q`: what `rmi` takes, one per line (an untagged image by its digest).
                out.result(&images, || {
                    images
                        .iter()
                        .map(|i| i.reference.clone().unwrap_or_else(|| i.digest.clone()))
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            } else {
                out.result(&images, || output::images_table(&images));
            }
        }
        // Rendered whole, then written: clap_complete panics on a closed pipe (`| head`).
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "idpkit", &mut script);
            output::print_document("completion script", &script)?;
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| Error::new(ErrorKind::Io, format!("render the manual page: {e}")))?;
            output::print_document("manual page", &page)?;
        }
        Command::Tag { source, target } => {
            let img = store()?.tag(&source, &target)?;
            out.result(&img, || {
                format!(
                    "{} -> {}",
                    img.reference.clone().unwrap_or_default(),
                    img.digest
                )
            });
        }
        Command::Rmi { references } => {
            let mut removed = Vec::new();
            let store = store()?;
            for r in references {
                removed.extend(store.remove(&r)?);
            }
            out.result(&removed, || {
                removed
                    .iter()
                    .map(|r| format!("untagged {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Inspect {
            reference,
            remote: true,
            platform,
            trust,
            creds,
        } => {
            let opts = idpkit::registry::RegistryOptions {
                platform,
                ..trust.with(&creds)?
            };
            let info = idpkit::registry::inspect_remote(&reference, &opts, None)?;
            let pretty =
                serde_json::to_string_pretty(&info).map_err(|e| Error::internal(e.to_string()))?;
            out.result(&info, || pretty.clone());
        }
        Command::Inspect {
            reference, creds, ..
        } => {
            if creds.given() {
                return Err(Error::invalid(
                    "--username, --password-stdin, --token-stdin and --creds-file apply to \
                     `inspect --remote` only; the store needs no credentials",
                ));
            }
            let info = store()?.inspect(&reference)?;
            let pretty =
                serde_json::to_string_pretty(&info).map_err(|e| Error::internal(e.to_string()))?;
            out.result(&info, || pretty.clone());
        }
        Command::Gc => {
            let report = store()?.gc()?;
            out.result(&report, || {
                format!(
                    "removed {} blobs, freed {}",
                    report.removed_blobs,
                    output::human_size(report.freed_bytes)
                )
            });
        }
        Command::Import { source, name } => {
            let (dir, tag) = split_layout_arg(&source);
            let images = store()?.import(&dir, tag.as_deref(), name.as_deref())?;
            out.result(&images, || output::images_table(&images));
        }
        Command::Export {
            reference,
            destination,
        } => {
            let (dir, tag) = split_layout_arg(&destination);
            let img = store()?.export(&reference, &dir, tag.as_deref())?;
            out.result(&img, || {
                format!(
                    "{}:{} {}",
                    dir.display(),
                    img.reference.clone().unwrap_or_default(),
                    img.digest
                )
            });
        }
    }
    Ok(())
}

/// `DIR[:TAG]`: the part after the last ':' is a tag when it has no '/' and DIR exists
/// without it (so a directory whose name holds ':' still works).
fn split_layout_arg(arg: &str) -> (PathBuf, Option<String>) {
    if let Some((dir, tag)) = arg.rsplit_once(':') {
        if !tag.is_empty() && !tag.contains('/') && !PathBuf::from(arg).exists() {
            return (PathBuf::from(dir), Some(tag.to_string()));
        }
    }
    (PathBuf::from(arg), None)
}

fn build_options(a: BuildArgs) -> Result<BuildOptions> {
    Ok(BuildOptions {
        context: a.context,
        tags: a.tags,
        from: a.from,
        prefix: a.prefix,
        entrypoint: a
            .entrypoint
            .as_deref()
            .map(|s| parse_command("entrypoint", s))
            .transpose()?,
        cmd: a
            .cmd
            .as_deref()
            .map(|s| parse_command("cmd", s))
            .transpose()?,
        env: parse_pairs("env", &a.env)?,
        workdir: a.workdir,
        user: a.user,
        labels: parse_pairs("label", &a.label)?,
        annotations: parse_pairs("annotation", &a.annotation)?,
        platform: a.platform,
        excludes: a.exclude,
        compression: a.compression.parse::<Compression>()?,
        level: a.level,
        threads: a.threads,
        source_date_epoch: None,
        no_cache: a.no_cache,
        pull: a.remote.options(),
    })
}

fn parse_command(flag: &str, s: &str) -> Result<Vec<String>> {
    if s.trim_start().starts_with('[') {
        serde_json::from_str(s).map_err(|e| {
            Error::invalid(format!(
                "--{flag}: not a JSON array of strings ({e}); e.g. '[\"/app\",\"--port\",\"80\"]'"
            ))
        })
    } else {
        Ok(s.split_whitespace().map(String::from).collect())
    }
}

fn parse_pairs(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::invalid(format!(
                "--{flag} {kv:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}
