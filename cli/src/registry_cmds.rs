//! `idpkit push/pull/login/logout/tags/catalog/delete/trust`: the registry and trust
//! commands.

use crate::output::{human_size, Output};
use clap::{Args, Subcommand};
use idpkit::registry::{self, RegistryOptions};
use idpkit::trust::{self, TrustOptions};
use idpkit::{Error, ErrorKind, Event, Result, Store};
use std::io::Read;
use std::path::PathBuf;

/// How to reach a registry: trust and transfer options shared by every command.
#[derive(Args, Debug, Clone, Default)]
pub struct Remote {
    /// Do not verify TLS for this host (HOST or HOST:PORT, repeatable); plain HTTP is then
    /// allowed for it too. Every use is reported as an audit event.
    #[arg(long = "insecure", value_name = "HOST")]
    insecure: Vec<String>,
    /// Trust this CA (PEM) in addition to the system's and certs.d's (repeatable).
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_files: Vec<PathBuf>,
}

impl Remote {
    fn trust(&self) -> TrustOptions {
        TrustOptions {
            ca_files: self.ca_files.clone(),
            insecure_hosts: self.insecure.clone(),
            ..Default::default()
        }
    }

    pub(crate) fn options(&self) -> RegistryOptions {
        RegistryOptions {
            trust: self.trust(),
            ..Default::default()
        }
    }
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Push an image from the store to its registry (or to DESTINATION).
    Push {
        reference: String,
        destination: Option<String>,
        #[command(flatten)]
        remote: Remote,
        /// Parallel blob uploads.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Try a cross-repository mount from this repository of the same registry (repeatable).
        #[arg(long = "mount-from", value_name = "REPO")]
        mount_from: Vec<String>,
        /// Blobs up to this many bytes go up in one request.
        #[arg(long, hide = true)]
        monolithic_max: Option<u64>,
        /// Bytes per PATCH of a chunked upload.
        #[arg(long, hide = true)]
        chunk_size: Option<u64>,
    },
    /// Pull an image into the store (an index resolves to one platform).
    Pull {
        reference: String,
        #[command(flatten)]
        remote: Remote,
        /// os/arch[/variant] to pick from an index (default: this machine's).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long, default_value_t = 4)]
        jobs: usize,
    },
    /// Check credentials against a registry and store them in Docker's config.json.
    Login {
        registry: String,
        #[arg(short, long, required_unless_present = "from_cluster")]
        username: Option<String>,
        /// Read the password or token from standard input.
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
    Logout { registry: String },
    /// Copy an image between registries or repositories; in one registry nothing but the
    /// manifest moves (blobs are mounted), so `copy HOST/REPO:a HOST/REPO:b` re-tags.
    Copy {
        source: String,
        destination: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the tags of a repository (HOST/REPO).
    Tags {
        repository: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the repositories of a registry.
    Catalog {
        registry: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a manifest from a registry by tag or digest.
    Delete {
        reference: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Certificate trust: check a host, add a CA.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Handshake with HOST[:PORT] and print the certificate chain and the verdict.
    Check {
        host: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Trust CA_FILE for HOST[:PORT]: installs it into ~/.config/idpkit/certs.d/HOST[:PORT]/ca.crt.
    Add { host: String, ca_file: PathBuf },
    /// Install the local idpbuilder cluster's CA (Secret default/idpbuilder-cert) for its
    /// Gitea host, read through the current kubeconfig context.
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
            jobs,
            mount_from,
            monolithic_max,
            chunk_size,
        } => {
            let mut opts = remote.options();
            opts.jobs = jobs.max(1);
            opts.mount_from = mount_from;
            if let Some(m) = monolithic_max {
                opts.monolithic_max = m;
            }
            if let Some(c) = chunk_size {
                opts.chunk_size = c.max(1);
            }
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
            platform,
            jobs,
        } => {
            let mut opts = remote.options();
            opts.platform = platform;
            opts.jobs = jobs.max(1);
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
            let progress = out.progress();
            let r = if from_cluster {
                registry::login_from_cluster(
                    &registry,
                    &cluster.options(),
                    &remote.options(),
                    Some(&progress.sink()),
                )
            } else {
                if !password_stdin {
                    progress.finish();
                    return Err(Error::invalid(
                        "pass the password on standard input with --password-stdin (it never goes on the command line)",
                    ));
                }
                let mut pw = String::new();
                std::io::stdin().read_to_string(&mut pw).map_err(|e| {
                    Error::new(ErrorKind::Io, format!("read password from stdin: {e}"))
                })?;
                registry::login(
                    &registry,
                    &username.unwrap_or_default(),
                    pw.trim_end_matches(['\n', '\r']),
                    &remote.options(),
                    Some(&progress.sink()),
                )
            };
            progress.finish();
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
        RegistryCommand::Tags { repository, remote } => {
            let progress = out.progress();
            let tags = registry::list_tags(&repository, &remote.options(), Some(&progress.sink()));
            progress.finish();
            let tags = tags?;
            out.result(&tags, || tags.join("\n"));
        }
        RegistryCommand::Copy {
            source,
            destination,
            remote,
        } => {
            let progress = out.progress();
            let r = registry::copy(
                &source,
                &destination,
                &remote.options(),
                Some(&progress.sink()),
            );
            progress.finish();
            let r = r?;
            out.result(&r, || {
                format!(
                    "{}@{} ({} uploaded, {} skipped, {} mounted)",
                    r.reference, r.digest, r.blobs_uploaded, r.blobs_skipped, r.blobs_mounted
                )
            });
        }
        RegistryCommand::Catalog { registry, remote } => {
            let progress = out.progress();
            let repos = registry::catalog(&registry, &remote.options(), Some(&progress.sink()));
            progress.finish();
            let repos = repos?;
            out.result(&repos, || repos.join("\n"));
        }
        RegistryCommand::Delete { reference, remote } => {
            let progress = out.progress();
            let d = registry::delete(&reference, &remote.options(), Some(&progress.sink()));
            progress.finish();
            let d = d?;
            let doc = serde_json::json!({"reference": reference, "digest": d});
            out.result(&doc, || format!("deleted {d}"));
        }
        RegistryCommand::Trust(TrustCommand::Check { host, remote }) => {
            let report = trust::check(&host, &remote.trust(), None)?;
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
            let r = trust::extract_ca(&opts, None)?;
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
