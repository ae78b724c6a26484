//! `idpkit source …`: GitOps sources into the local source cache.

use crate::output::{self, Output};
use crate::registry_cmds::TrustArgs;
use clap::{Args, Subcommand};
use idpkit::gitops::artifact::ArtifactLimits;
use idpkit::gitops::cache::gc::GcPolicy;
use idpkit::gitops::cache::Cache;
use idpkit::gitops::{self, CacheOptions, FetchArtifactOptions, SourceFetched};
use idpkit::{Call, Result};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SourceCommand {
    /// Fetch a source into the cache and print its directory (--json: path, source,
    /// revision, digest, size, whether it was a hit).
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// Keep a source's entry current as its revision changes (a watch): one JSON line per
    /// revision fetched on stdout, the first included; Ctrl-C or SIGTERM ends it (exit 0).
    #[command(subcommand)]
    Watch(WatchCommand),
    /// List the cache's entries: source, revision, size, age, last use.
    #[command(after_help = "Example:
  idpkit --cache /tmp/smc source ls")]
    Ls,
    /// Remove entries by policy; never one in use, never a file that is not an entry.
    #[command(after_help = "Examples:
  idpkit source gc --keep 2
  idpkit source gc --max-age 7d --max-size 2GiB --dry-run")]
    Gc {
        /// Keep the newest N entries of each source.
        #[arg(long, value_name = "N", default_value_t = 0)]
        keep: u32,
        /// Remove entries not used for this long (`90m`, `7d`).
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        max_age: Option<std::time::Duration>,
        /// Remove the least recently used entries until the cache holds at most this many
        /// bytes (`500MiB`, `2GiB` or a number).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum FetchCommand {
    /// A gzipped tarball by URL, verified against its digest before anything is cached.
    #[command(after_help = "Example:
  idpkit source fetch artifact https://host/app.tar.gz --digest sha256:2c26b4…")]
    Artifact {
        url: String,
        /// sha256:HEX, sha384:HEX or sha512:HEX.
        #[arg(long, value_name = "ALGO:HEX")]
        digest: String,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// The artifact of a Flux source (GitRepository, OCIRepository, Bucket, HelmChart), read
    /// from the cluster: Ready, verified against status.artifact.digest.
    #[command(after_help = "Examples:
  idpkit source fetch flux GitRepository flux-system/podinfo --host-override localhost:9090
  idpkit --cache /tmp/smc source fetch flux ocirepository apps/manifests --context kind-localdev")]
    Flux(FluxArgs),
    /// A git revision (shallow, exactly one commit): a branch or tag is resolved with one
    /// ls-remote, so a cached commit costs no download; a full commit id, no request at all.
    #[command(after_help = "Examples:
  idpkit source fetch git https://gitea.cnoe.localtest.me:8443/giteaAdmin/app.git --rev main \\
      --username giteaAdmin --password-stdin < password.txt
  idpkit source fetch git ssh://git@github.com/org/repo.git --rev v1.2.0 --ssh-key ~/.ssh/id_ed25519")]
    Git {
        url: String,
        #[command(flatten)]
        git: GitArgs,
    },
    /// Every git source of an Argo CD Application, with the credentials Argo CD would use
    /// (its repository and repo-creds Secrets, or --secret) and its known hosts ConfigMap.
    /// Prints each source's directory.
    #[command(after_help = "Examples:
  idpkit source fetch argo argocd/my-app --ca-file idpbuilder-ca.crt
  idpkit source fetch argo team-a/api --argocd-namespace argocd --secret team-a/deploy-key --json")]
    Argo(ArgoArgs),
}

/// Which revision of a git repository, and how to reach it (`source fetch git`, `sandbox
/// clone`).
#[derive(Args, Debug, Clone)]
pub struct GitArgs {
    /// Branch, tag, full ref, commit id or HEAD (default: the repository's HEAD).
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Commits of history to fetch; 0: the whole history.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub depth: u32,
    /// SSH private key file for an SSH URL (read into memory, never copied).
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file (default: ~/.ssh/known_hosts, then /etc/ssh/ssh_known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    #[command(flatten)]
    pub creds: crate::creds::Creds,
    #[command(flatten)]
    pub trust: TrustArgs,
}

impl GitArgs {
    /// The core's options for `url` with these flags (the credential goes in the call).
    pub fn remote(&self, url: String) -> idpkit::gitops::git_cache::GitRemoteOptions {
        idpkit::gitops::git_cache::GitRemoteOptions {
            url,
            revision: self.rev.clone(),
            depth: self.depth,
            ssh_key_file: self.ssh_key.clone(),
            known_hosts_file: self.known_hosts.clone(),
            trust: self.trust.options(),
        }
    }
}

/// Which Flux source, where, and how its artifact is fetched (`fetch flux`, `watch flux`).
#[derive(Args, Debug, Clone)]
pub struct FluxArgs {
    /// GitRepository, OCIRepository, Bucket or HelmChart (any case, or the plural).
    kind: String,
    /// NAMESPACE/NAME of the object.
    object: String,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
    #[command(flatten)]
    fetch: FetchArgs,
}

impl FluxArgs {
    fn options(self, cache: CacheOptions) -> Result<idpkit::gitops::flux::FetchFluxOptions> {
        let (namespace, name) = namespaced(&self.object)?;
        Ok(idpkit::gitops::flux::FetchFluxOptions {
            kind: self.kind,
            namespace,
            name,
            cluster: idpkit::kube::KubeOptions {
                kubeconfig: self.kubeconfig,
                context: self.context,
            },
            host_override: self.fetch.host_override.clone(),
            cache,
            limits: self.fetch.limits(),
            trust: self.fetch.trust.options(),
        })
    }
}

/// Which Application, where, and how its sources are reached (`fetch argo`, `watch argo`).
#[derive(Args, Debug, Clone)]
pub struct ArgoArgs {
    /// NAMESPACE/NAME of the Application.
    object: String,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
    /// Argo CD's namespace (its Secrets and argocd-ssh-known-hosts-cm).
    #[arg(long, value_name = "NS", default_value = "argocd")]
    argocd_namespace: String,
    /// A Secret NAMESPACE/NAME with username+password, token or sshPrivateKey, used
    /// instead of Argo CD's own Secrets.
    #[arg(long, value_name = "NS/NAME")]
    secret: Option<String>,
    /// known_hosts file when Argo CD's namespace has no argocd-ssh-known-hosts-cm.
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
}

impl ArgoArgs {
    fn options(self, cache: CacheOptions) -> Result<idpkit::gitops::argo::FetchArgoOptions> {
        let (namespace, name) = namespaced(&self.object)?;
        Ok(idpkit::gitops::argo::FetchArgoOptions {
            namespace,
            name,
            cluster: idpkit::kube::KubeOptions {
                kubeconfig: self.kubeconfig,
                context: self.context,
            },
            argocd_namespace: Some(self.argocd_namespace),
            secret: self.secret,
            known_hosts_file: self.known_hosts,
            cache,
            trust: self.trust.options(),
        })
    }
}

/// `NAMESPACE/NAME` of a command-line argument.
fn namespaced(object: &str) -> Result<(String, String)> {
    object
        .split_once('/')
        .map(|(ns, n)| (ns.to_string(), n.to_string()))
        .ok_or_else(|| {
            idpkit::Error::invalid(format!(
                "{object:?} is not NAMESPACE/NAME (e.g. flux-system/podinfo)"
            ))
        })
}

#[derive(Subcommand)]
pub enum WatchCommand {
    /// A Flux source (GitRepository, OCIRepository, Bucket, HelmChart): its artifact, then
    /// each new one. States in between (reconciling, not Ready) print nothing; a revision that
    /// cannot be fetched is a warning on stderr and the watch goes on (the first one ends it
    /// with its error, as `source fetch flux` would).
    #[command(after_help = "Examples:
  idpkit source watch flux GitRepository flux-system/podinfo --host-override localhost:9090
  idpkit --cache /tmp/smc source watch flux ocirepository apps/manifests --context kind-localdev

Each line is what `source fetch flux --json` prints: path, source, url, revision, digest,
size, files, bytes, hit, skipped_symlinks.")]
    Flux(FluxArgs),
    /// An Argo CD Application's git sources: each fetched, then again whenever the
    /// Application's sources or synced revisions (status.sync) change; one line per source
    /// fetched.
    #[command(after_help = "Examples:
  idpkit source watch argo argocd/my-app --ca-file idpbuilder-ca.crt
  idpkit source watch argo team-a/api --secret team-a/deploy-key | while read -r line; do …; done

Each line is a SourceFetched document: path, source, url, revision, digest, size, files,
bytes, hit, skipped_symlinks.")]
    Argo(ArgoArgs),
}

/// How an artifact is fetched: limits, retries, host override and trust.
#[derive(Args, Debug, Clone)]
pub struct FetchArgs {
    /// Replace the URL's host[:port] (source-controller's in-cluster address, reached from
    /// outside through a port-forward or an ingress).
    #[arg(long, value_name = "HOST[:PORT]")]
    host_override: Option<String>,
    /// Largest download in bytes (`100MiB`); 0: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = ArtifactLimits::default().max_download_size)]
    max_download_size: u64,
    /// Largest total of extracted file content (`100MiB`, Flux's default); 0: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = ArtifactLimits::default().untar.max_untar_size)]
    max_untar_size: u64,
    /// Keep symlinks that stay inside the tree (default: skip every symlink).
    #[arg(long)]
    keep_inner_symlinks: bool,
    /// Tries per download, the first included (on 5xx, 408, 429 and broken connections).
    #[arg(long, value_name = "N", default_value_t = ArtifactLimits::default().attempts,
          value_parser = clap::value_parser!(u32).range(1..))]
    attempts: u32,
    #[command(flatten)]
    trust: TrustArgs,
}

impl FetchArgs {
    fn limits(&self) -> ArtifactLimits {
        let mut l = ArtifactLimits {
            max_download_size: self.max_download_size,
            attempts: self.attempts,
            ..Default::default()
        };
        l.untar.max_untar_size = self.max_untar_size;
        l.untar.keep_inner_symlinks = self.keep_inner_symlinks;
        l
    }
}

/// `100`, `100MiB`, `2GiB`, `500MB`.
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size (100MiB, 2GiB, 500)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

pub fn run(cmd: SourceCommand, cache: Option<PathBuf>, out: &Output) -> Result<()> {
    let cache_opts = CacheOptions { cache };
    match cmd {
        SourceCommand::Fetch(FetchCommand::Artifact { url, digest, fetch }) => {
            let opts = FetchArtifactOptions {
                url,
                digest,
                host_override: fetch.host_override.clone(),
                cache: cache_opts,
                limits: fetch.limits(),
                trust: fetch.trust.options(),
            };
            let progress = out.progress();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(progress.sink()));
            let r = gitops::fetch_artifact(&opts, &call);
            progress.finish();
            print_fetched(&r?, out);
        }
        SourceCommand::Fetch(FetchCommand::Flux(args)) => {
            let opts = args.options(cache_opts)?;
            let progress = out.progress();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(progress.sink()));
            let r = idpkit::gitops::flux::fetch_flux(&opts, &call);
            progress.finish();
            print_fetched(&r?, out);
        }
        SourceCommand::Fetch(FetchCommand::Git { url, git }) => {
            let call_credential = git.creds.credential()?;
            let opts = idpkit::gitops::git_cache::FetchGitOptions {
                remote: git.remote(url),
                cache: cache_opts,
            };
            let progress = out.progress();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(progress.sink()))
                .with_credential(call_credential);
            let r = idpkit::gitops::git_cache::fetch_git(&opts, &call);
            progress.finish();
            print_fetched(&r?, out);
        }
        SourceCommand::Fetch(FetchCommand::Argo(args)) => {
            let opts = args.options(cache_opts)?;
            let progress = out.progress();
            let call = Call::new()
                .with_cancel(Some(crate::interrupt::token()))
                .with_sink(Some(progress.sink()));
            let r = idpkit::gitops::argo::fetch_argo(&opts, &call);
            progress.finish();
            let r = r?;
            out.result(&r, || {
                let lines: Vec<String> = r
                    .sources
                    .iter()
                    .map(|s| match (&s.dir, &s.skipped) {
                        (Some(dir), _) => dir.display().to_string(),
                        (None, Some(why)) => format!("# source {} skipped: {why}", s.index),
                        (None, None) => format!("# source {} not fetched", s.index),
                    })
                    .collect();
                lines.join("\n")
            });
        }
        SourceCommand::Watch(WatchCommand::Flux(args)) => {
            let opts = args.options(cache_opts)?;
            let what = format!("{} {}/{}", opts.kind, opts.namespace, opts.name);
            watch(&what, out, |call| {
                idpkit::gitops::watch::watch_flux(&opts, call)
            })?;
        }
        SourceCommand::Watch(WatchCommand::Argo(args)) => {
            let opts = args.options(cache_opts)?;
            let what = format!("Application {}/{}", opts.namespace, opts.name);
            watch(&what, out, |call| {
                idpkit::gitops::watch::watch_argo(&opts, call)
            })?;
        }
        SourceCommand::Ls => {
            let entries = Cache::open(cache_opts.cache.as_deref())?.list()?;
            out.result(&entries, || {
                let mut t = String::from("SOURCE\tREVISION\tSIZE\tAGE\tLAST USE\tPATH");
                for e in &entries {
                    t.push_str(&format!(
                        "\n{}\t{}\t{}\t{}\t{}\t{}",
                        e.source,
                        e.revision,
                        output::human_size(e.bytes),
                        ago(e.age_secs),
                        ago(e.last_used_secs),
                        e.path.display()
                    ));
                }
                t
            });
        }
        SourceCommand::Gc {
            keep,
            max_age,
            max_size,
            dry_run,
        } => {
            let policy = GcPolicy {
                keep,
                max_age_secs: max_age.map(|d| d.as_secs().max(1)).unwrap_or(0),
                max_bytes: max_size.unwrap_or(0),
                dry_run,
            };
            let r = Cache::open(cache_opts.cache.as_deref())?.gc(&policy)?;
            out.result(&r, || {
                let verb = if dry_run { "would remove" } else { "removed" };
                let mut t = format!(
                    "{verb} {} entries, {}; kept {} ({} in use)",
                    r.removed.len(),
                    output::human_size(r.freed_bytes),
                    r.kept,
                    r.in_use
                );
                for e in &r.removed {
                    t.push_str(&format!("\n  {} {}", e.source, e.path.display()));
                }
                t
            });
        }
    }
    Ok(())
}

fn print_fetched(r: &SourceFetched, out: &Output) {
    out.result(r, || r.path.display().to_string());
}

fn ago(secs: u64) -> String {
    let d = std::time::Duration::from_secs(secs);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", d.as_secs() / 60),
        3600..=86399 => format!("{}h", d.as_secs() / 3600),
        _ => format!("{}d", d.as_secs() / 86400),
    }
}

/// `source watch …`: each revision fetched as one JSON line on stdout (flushed), other events
/// as every command shows them (stderr); SIGINT or SIGTERM cancels the watch, which then ends
/// normally, and so does its reader going away.
fn watch(
    what: &str,
    out: &Output,
    run: impl FnOnce(&Call) -> Result<idpkit::gitops::watch::SourceWatched>,
) -> Result<()> {
    let cancel = crate::interrupt::token();
    cancel_when_stdout_closes(cancel.clone());
    let events = out.events().sink();
    let reader_gone = cancel.clone();
    let sink: idpkit::EventSink = std::sync::Arc::new(move |e: &idpkit::Event| {
        match SourceFetched::from_event(e) {
            // Nobody reads the lines any more (`| head -1` exited): the watch ends.
            Some(f) => {
                if output::print_json_line(&f).is_err() {
                    reader_gone.cancel();
                }
            }
            None => events(e),
        }
    });
    let call = Call::new()
        .with_cancel(Some(crate::interrupt::token()))
        .with_sink(Some(sink))
        .with_cancel(Some(cancel));
    let r = run(&call)?;
    out.note(&format!(
        "watch of {what} ended: {} revisions fetched, {} failed",
        r.fetched, r.failed
    ));
    Ok(())
}

/// Cancels the watch when nobody reads its lines any more (`… | head -1` has exited): a write
/// would only notice at the next revision, which may be days away. A pipe whose reader is gone
/// polls as POLLERR; a terminal or a file never does.
fn cancel_when_stdout_closes(cancel: idpkit::CancelToken) {
    let _ = std::thread::Builder::new()
        .name("idpkit-stdout".into())
        .spawn(move || {
            while !cancel.is_cancelled() {
                let mut fd = libc::pollfd {
                    fd: libc::STDOUT_FILENO,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for the length given.
                let n = unsafe { libc::poll(&mut fd, 1, 250) };
                if n > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    cancel.cancel();
                }
            }
        });
}
