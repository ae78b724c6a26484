//! `idpkit push/pull/login/logout/tags/catalog/delete/trust`: the registry and trust
//! commands.

use crate::creds::{self, Creds, SourceCreds};
use crate::output::{human_size, Output};
use clap::{Args, Subcommand};
use idpkit::registry::{self, RegistryOptions};
use idpkit::trust::{self, TrustOptions};
use idpkit::{Error, ErrorKind, Event, Result, Store};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Which TLS peers to trust: shared by every command that reaches a host.
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// Do not verify TLS for this host (HOST or HOST:PORT, repeatable); plain HTTP is then
    /// allowed for it too. Every use is reported as an audit event.
    #[arg(long = "insecure", value_name = "HOST", help_heading = "Trust")]
    insecure: Vec<String>,
    /// Trust this CA (PEM) in addition to the system's and certs.d's (repeatable).
    #[arg(long = "ca-file", value_name = "FILE", help_heading = "Trust")]
    ca_files: Vec<PathBuf>,
    /// Look up per-host CAs and client certificates in this certs.d root (repeatable;
    /// replaces the default roots, e.g. /etc/containers/certs.d and ~/.config/idpkit/certs.d).
    #[arg(long = "certs-d", value_name = "DIR", help_heading = "Trust")]
    certs_d: Vec<PathBuf>,
    /// Leave out the system's trusted roots and SSL_CERT_FILE/SSL_CERT_DIR: trust only
    /// --ca-file and certs.d (air-gapped setups, tests).
    #[arg(long, help_heading = "Trust")]
    no_platform_roots: bool,
}

impl TrustArgs {
    pub(crate) fn options(&self) -> TrustOptions {
        TrustOptions {
            ca_files: self.ca_files.clone(),
            insecure_hosts: self.insecure.clone(),
            certs_d: (!self.certs_d.is_empty()).then(|| self.certs_d.clone()),
            no_platform_roots: self.no_platform_roots,
        }
    }
}

/// The defaults shown in `--help` are the core's, so they cannot drift from it.
fn d() -> RegistryOptions {
    RegistryOptions::default()
}

/// How to reach a registry: trust, retries, timeouts and transfer options shared by every
/// registry command (every field of the core's `RegistryOptions` but credentials,
/// `platform` and `mount_from`, which only some commands take).
#[derive(Args, Debug, Clone)]
pub struct Remote {
    #[command(flatten)]
    trust: TrustArgs,
    /// Parallel blob transfers.
    #[arg(long, value_name = "N", default_value_t = d().jobs,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..),
          help_heading = "Registry options")]
    jobs: usize,
    /// Attempts per request or blob, the first try included.
    #[arg(long, value_name = "N", default_value_t = d().attempts,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Registry options")]
    attempts: u32,
    /// Seconds one request or blob keeps being retried, the first try included.
    #[arg(long, value_name = "SECONDS", default_value_t = d().retry_budget_secs,
          help_heading = "Registry options")]
    retry_budget: u64,
    /// First retry delay in milliseconds; it doubles per attempt, with jitter (a
    /// registry's Retry-After wins).
    #[arg(long, value_name = "MS", default_value_t = d().backoff_base_ms,
          help_heading = "Registry options")]
    backoff_base: u64,
    /// Longest delay between two tries, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = d().backoff_max_ms,
          help_heading = "Registry options")]
    backoff_max: u64,
    /// Seconds to establish a connection (TCP and TLS).
    #[arg(long, value_name = "SECONDS", default_value_t = d().connect_timeout_secs,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Registry options")]
    connect_timeout: u64,
    /// Seconds without a byte from the registry before a request counts as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = d().read_timeout_secs,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Registry options")]
    read_timeout: u64,
    /// Failed tries in a row, across the whole operation, after which it stops sending
    /// (the circuit breaker); 0 disables it.
    #[arg(long, value_name = "N", default_value_t = d().breaker_threshold,
          help_heading = "Registry options")]
    breaker_threshold: u32,
    /// Blobs up to this many bytes are uploaded in one request (push, copy).
    #[arg(long, value_name = "BYTES", default_value_t = d().monolithic_max,
          help_heading = "Registry options")]
    monolithic_max: u64,
    /// Bytes per PATCH of a chunked upload (push, copy).
    #[arg(long, value_name = "BYTES", default_value_t = d().chunk_size,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Registry options")]
    chunk_size: u64,
}

impl Remote {
    pub(crate) fn options(&self) -> RegistryOptions {
        RegistryOptions {
            trust: self.trust.options(),
            jobs: self.jobs,
            attempts: self.attempts,
            retry_budget_secs: self.retry_budget,
            backoff_base_ms: self.backoff_base,
            backoff_max_ms: self.backoff_max,
            connect_timeout_secs: self.connect_timeout,
            read_timeout_secs: self.read_timeout,
            breaker_threshold: self.breaker_threshold,
            monolithic_max: self.monolithic_max,
            chunk_size: self.chunk_size,
            cancel: Some(crate::interrupt::token()),
            ..d()
        }
    }

    /// These options with the credentials of `creds`.
    pub(crate) fn with(&self, creds: &Creds) -> Result<RegistryOptions> {
        Ok(RegistryOptions {
            credential: creds.credential()?,
            ..self.options()
        })
    }
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Push an image from the store to its registry (or to DESTINATION).
    #[command(after_help = "Examples:
  idpkit push gitea.cnoe.localtest.me:8443/giteaadmin/app:dev
  idpkit push localhost/app:1 registry.example.com/team/app:1 --username me --password-stdin < pw.txt
  echo \"$TOKEN\" | idpkit push registry.example.com/team/app:1 --token-stdin")]
    Push {
        reference: String,
        destination: Option<String>,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
        /// Try a cross-repository mount from this repository of the same registry (repeatable).
        #[arg(
            long = "mount-from",
            value_name = "REPO",
            help_heading = "Registry options"
        )]
        mount_from: Vec<String>,
    },
    /// Pull an image into the store (an index resolves to one platform).
    #[command(after_help = "Examples:
  idpkit pull docker.io/library/alpine:3.20 --platform linux/arm64
  idpkit pull registry.example.com/team/app:1 --creds-file ~/.config/app-registry.creds")]
    Pull {
        reference: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
        /// os/arch[/variant] to pick from an index (default: this machine's).
        #[arg(long, help_heading = "Registry options")]
        platform: Option<String>,
        /// Pull every platform of an index: the index and all its manifests, tagged as the
        /// index (so a later push or export carries them all).
        #[arg(long, conflicts_with = "platform", help_heading = "Registry options")]
        all_platforms: bool,
    },
    /// Check credentials against a registry and store them in Docker's config.json.
    #[command(after_help = "Examples:
  idpkit login registry.example.com -u me            # prompts for the password on a terminal
  idpkit login registry.example.com -u me --password-stdin < pw.txt
  idpkit login --from-cluster gitea.cnoe.localtest.me:8443")]
    Login {
        registry: String,
        #[arg(short, long, required_unless_present = "from_cluster")]
        username: Option<String>,
        /// Read the password or token from one line of standard input (without it, a
        /// terminal is asked for it).
        #[arg(long)]
        password_stdin: bool,
        /// Take Gitea's credentials from the cluster (Secret gitea/gitea-credential of the
        /// current kubeconfig context).
        #[arg(long, conflicts_with_all = ["username", "password_stdin"])]
        from_cluster: bool,
        #[command(flatten)]
        cluster: Cluster,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove stored credentials of a registry.
    #[command(after_help = "Example:
  idpkit logout registry.example.com")]
    Logout { registry: String },
    /// Copy an image between registries or repositories; in one registry nothing but the
    /// manifest moves (blobs are mounted), so `copy HOST/REPO:a HOST/REPO:b` re-tags.
    #[command(after_help = "Examples:
  idpkit copy registry.example.com/team/app:1 registry.example.com/team/app:stable
  idpkit copy docker.io/library/alpine:3.20 localhost:5000/alpine:3.20 --all-platforms
  idpkit copy docker.io/library/alpine:3.20 gitea.cnoe.localtest.me:8443/giteaadmin/alpine:3.20 \\
      --source-creds-file hub.creds --username giteaAdmin --password-stdin < gitea-pw.txt")]
    Copy {
        source: String,
        destination: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
        #[command(flatten)]
        source_creds: SourceCreds,
        /// Across registries: os/arch[/variant] an index resolves to (default: this machine's);
        /// within one registry the whole index is copied.
        #[arg(long, help_heading = "Registry options")]
        platform: Option<String>,
        /// Across registries too: copy every platform of an index (the index and all its
        /// manifests), as crane does by default and `skopeo copy --all`.
        #[arg(long, conflicts_with = "platform", help_heading = "Registry options")]
        all_platforms: bool,
    },
    /// List the tags of a repository (HOST/REPO).
    #[command(after_help = "Example:
  idpkit tags gitea.cnoe.localtest.me:8443/giteaadmin/app")]
    Tags {
        repository: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
    },
    /// List the repositories of a registry.
    #[command(after_help = "Example:
  idpkit catalog localhost:5000 --insecure localhost:5000")]
    Catalog {
        registry: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
    },
    /// Delete a manifest from a registry by tag or digest.
    #[command(after_help = "Examples:
  idpkit delete registry.example.com/team/app:old
  idpkit delete registry.example.com/team/app@sha256:0123... --creds-file admin.creds")]
    Delete {
        reference: String,
        /// Delete by tag even when other tags point at the same manifest (registries delete
        /// manifests, so those tags go too); without it such a deletion is refused, naming them.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        creds: Creds,
    },
    /// Certificate trust: check a host, add a CA.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Handshake with HOST[:PORT] and print the certificate chain and the verdict.
    #[command(after_help = "Example:
  idpkit trust check gitea.cnoe.localtest.me:8443")]
    Check {
        host: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Trust CA_FILE for HOST[:PORT]: installs it into ~/.config/idpkit/certs.d/HOST[:PORT]/ca.crt.
    #[command(after_help = "Example:
  idpkit trust add registry.example.com:5000 ./ca.pem")]
    Add { host: String, ca_file: PathBuf },
    /// Install the local idpbuilder cluster's CA (Secret default/idpbuilder-cert) for its
    /// Gitea host, read through the current kubeconfig context.
    #[command(after_help = "Example:
  idpkit trust extract --context kind-localdev")]
    Extract {
        #[command(flatten)]
        cluster: Cluster,
        /// The host to trust it for.
        #[arg(long, default_value = trust::DEFAULT_GITEA_HOST)]
        host: String,
    },
}

/// Which cluster to read from.
#[derive(Args, Debug, Clone, Default)]
pub struct Cluster {
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
}

impl Cluster {
    fn options(&self) -> trust::ClusterOptions {
        trust::ClusterOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            ..Default::default()
        }
    }
}

pub fn run(cmd: RegistryCommand, store: &dyn Fn() -> Result<Store>, out: &Output) -> Result<()> {
    match cmd {
        RegistryCommand::Push {
            reference,
            destination,
            remote,
            creds,
            mount_from,
        } => {
            let opts = RegistryOptions {
                mount_from,
                ..remote.with(&creds)?
            };
            let progress = out.progress();
            let r = store()?.push(
                &reference,
                destination.as_deref(),
                &opts,
                Some(&progress.sink()),
            );
            progress.finish();
            let r = r?;
            out.result(&r, || {
                if r.unchanged {
                    format!("{}@{} (unchanged)", r.reference, r.digest)
                } else {
                    format!(
                        "{}@{} ({} uploaded, {} skipped, {} mounted, {})",
                        r.reference,
                        r.digest,
                        r.blobs_uploaded,
                        r.blobs_skipped,
                        r.blobs_mounted,
                        human_size(r.bytes_uploaded)
                    )
                }
            });
        }
        RegistryCommand::Pull {
            reference,
            remote,
            creds,
            platform,
            all_platforms,
        } => {
            let opts = RegistryOptions {
                platform,
                all_platforms,
                ..remote.with(&creds)?
            };
            let progress = out.progress();
            let r = store()?.pull(&reference, &opts, Some(&progress.sink()));
            progress.finish();
            let r = r?;
            out.result(&r, || {
                format!(
                    "{} {} ({} fetched, {} present, {})",
                    r.reference,
                    r.digest,
                    r.blobs_fetched,
                    r.blobs_present,
                    human_size(r.bytes_fetched)
                )
            });
        }
        RegistryCommand::Login {
            registry,
            username,
            password_stdin,
            from_cluster,
            cluster,
            remote,
        } => {
            let r = if from_cluster {
                let progress = out.progress();
                let r = registry::login_from_cluster(
                    &registry,
                    &cluster.options(),
                    &remote.options(),
                    Some(&progress.sink()),
                );
                progress.finish();
                r
            } else {
                let username = username.unwrap_or_default();
                let password = if password_stdin {
                    creds::read_stdin_line("--password-stdin")?
                } else {
                    prompt_password(&registry, &username)?
                };
                let progress = out.progress();
                let r = registry::login(
                    &registry,
                    &username,
                    &password,
                    &remote.options(),
                    Some(&progress.sink()),
                );
                progress.finish();
                r
            };
            let r = r?;
            out.result(&r, || {
                format!(
                    "logged in to {} as {} (stored in {})",
                    r.registry, r.username, r.stored_in
                )
            });
        }
        RegistryCommand::Logout { registry } => {
            let removed = registry::logout(&registry)?;
            let doc = serde_json::json!({"registry": registry, "removed": removed});
            out.result(&doc, || {
                if removed {
                    format!("removed credentials of {registry}")
                } else {
                    format!("no credentials stored for {registry}")
                }
            });
        }
        RegistryCommand::Tags {
            repository,
            remote,
            creds,
        } => {
            let opts = remote.with(&creds)?;
            let progress = out.progress();
            let tags = registry::list_tags(&repository, &opts, Some(&progress.sink()));
            progress.finish();
            let tags = tags?;
            out.result(&tags, || tags.join("\n"));
        }
        RegistryCommand::Copy {
            source,
            destination,
            remote,
            creds,
            source_creds,
            platform,
            all_platforms,
        } => {
            let (credential, source_credential) = creds::pair(&creds, &source_creds)?;
            let opts = RegistryOptions {
                credential,
                source_credential,
                platform,
                all_platforms,
                ..remote.options()
            };
            let progress = out.progress();
            let r = registry::copy(&source, &destination, &opts, Some(&progress.sink()));
            progress.finish();
            let r = r?;
            out.result(&r, || {
                format!(
                    "{}@{} ({} uploaded, {} skipped, {} mounted)",
                    r.reference, r.digest, r.blobs_uploaded, r.blobs_skipped, r.blobs_mounted
                )
            });
        }
        RegistryCommand::Catalog {
            registry,
            remote,
            creds,
        } => {
            let opts = remote.with(&creds)?;
            let progress = out.progress();
            let repos = registry::catalog(&registry, &opts, Some(&progress.sink()));
            progress.finish();
            let repos = repos?;
            out.result(&repos, || repos.join("\n"));
        }
        RegistryCommand::Delete {
            reference,
            force,
            remote,
            creds,
        } => {
            let opts = remote.with(&creds)?;
            let progress = out.progress();
            let d = registry::delete(&reference, force, &opts, Some(&progress.sink()));
            progress.finish();
            let d = d?;
            let doc = serde_json::json!({"reference": reference, "digest": d});
            out.result(&doc, || format!("deleted {d}"));
        }
        RegistryCommand::Trust(TrustCommand::Check { host, trust }) => {
            let report = trust::check(&host, &trust.options(), Some(&crate::interrupt::token()))?;
            out.result(&report, || {
                let mut lines = Vec::new();
                for (i, c) in report.chain.iter().enumerate() {
                    lines.push(format!("{i} subject: {}", c.subject));
                    lines.push(format!("  issuer:  {}", c.issuer));
                    lines.push(format!("  valid:   {} .. {}", c.not_before, c.not_after));
                    if !c.names.is_empty() {
                        lines.push(format!("  names:   {}", c.names.join(", ")));
                    }
                    lines.push(format!("  sha256:  {}", c.sha256));
                }
                lines.push(format!(
                    "verdict: {}{}",
                    serde_json::to_value(report.verdict)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    if report.insecure {
                        " (host marked insecure)"
                    } else {
                        ""
                    }
                ));
                if report.trusted && !report.message.is_empty() {
                    lines.push(report.message.clone());
                }
                lines.join("\n")
            });
            if !report.trusted {
                return Err(Error::new(
                    match report.verdict {
                        trust::Verdict::Unreachable | trust::Verdict::NotTls => ErrorKind::Network,
                        _ => ErrorKind::Untrusted,
                    },
                    report.message,
                ));
            }
        }
        RegistryCommand::Trust(TrustCommand::Extract { cluster, host }) => {
            let mut opts = cluster.options();
            opts.host = host;
            let r = trust::extract_ca(&opts, Some(&crate::interrupt::token()))?;
            out.result(&r, || {
                format!(
                    "{}: trusting {} from {} (until {}), installed as {}",
                    r.host,
                    r.subject,
                    r.source,
                    r.not_after,
                    r.path.display()
                )
            });
        }
        RegistryCommand::Trust(TrustCommand::Add { host, ca_file }) => {
            let path = trust::add(&host, &ca_file, None)?;
            let doc = serde_json::json!({"host": host, "path": path});
            out.result(&doc, || {
                format!(
                    "{host}: trusting {} ({})",
                    ca_file.display(),
                    path.display()
                )
            });
        }
    }
    Ok(())
}

/// `login` without --password-stdin: ask the terminal (nothing echoed), or say how to pass
/// the password when there is no terminal to ask.
fn prompt_password(registry: &str, username: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            "no terminal to ask for the password: pass it on standard input with \
             --password-stdin (it never goes on the command line)",
        ));
    }
    let password = rpassword::prompt_password(format!("Password for {username} at {registry}: "))
        .map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("read the password from the terminal: {e}"),
        )
    })?;
    if password.is_empty() {
        return Err(Error::invalid("the password is empty"));
    }
    Ok(password)
}

/// One line for a registry or trust event.
pub fn describe(e: &Event) -> String {
    let short = |d: &str| d.chars().take(19).collect::<String>();
    match e {
        Event::BlobStarted { digest, size } => {
            format!("{} started ({})", short(digest), human_size(*size))
        }
        Event::BlobProgress {
            digest,
            bytes,
            size,
        } => {
            format!(
                "{} {} / {}",
                short(digest),
                human_size(*bytes),
                human_size(*size)
            )
        }
        Event::BlobDone { digest, size } => {
            format!("{} done ({})", short(digest), human_size(*size))
        }
        Event::BlobSkipped { digest } => format!("{} exists", short(digest)),
        Event::BlobMounted { digest, from } => format!("{} mounted from {from}", short(digest)),
        Event::ManifestPushed { digest, reference } => {
            format!("manifest {} -> {reference}", short(digest))
        }
        Event::RetryScheduled {
            what,
            attempt,
            delay_ms,
            reason,
        } => format!("retry {attempt} of {what} in {delay_ms} ms: {reason}"),
        Event::InsecureConnection { host, reason } => format!("INSECURE {host}: {reason}"),
        other => format!("{other:?}"),
    }
}
