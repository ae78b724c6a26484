//! Which cluster, with which credentials: kube-rs reads and merges the kubeconfig files and
//! resolves the context; this adds the choice of files (an explicit one, the `KUBECONFIG`
//! list, `~/.kube/config`, else the pod's service account), messages that name the file and
//! the context, and the refusals (`insecure-skip-tls-verify`, a plain-HTTP server, a proxy).

use super::{KubeOptions, Target};
use crate::error::{Error, ErrorKind, Result};
use ::kube::config::{Config, KubeConfigOptions, Kubeconfig, KubeconfigError};
use std::path::{Path, PathBuf};

/// A kubeconfig larger than this is not one (they hold a few certificates at most).
const MAX_KUBECONFIG: u64 = 4 << 20;

/// The service account files of a pod (fixed paths, as every Kubernetes client reads them).
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A configuration kube-rs can build a client from, and what it is for messages.
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) target: Target,
}

/// Where the configuration comes from.
enum Source {
    Files(Vec<PathBuf>),
    InCluster,
}

fn source(opts: &KubeOptions) -> Result<Source> {
    if let Some(p) = &opts.kubeconfig {
        return Ok(Source::Files(vec![p.clone()]));
    }
    if let Some(v) = std::env::var_os("KUBECONFIG") {
        let files: Vec<PathBuf> = std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !files.is_empty() {
            return Ok(Source::Files(files));
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".kube")
        .join("config");
    if home.exists() {
        return Ok(Source::Files(vec![home]));
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Ok(Source::InCluster);
    }
    Err(Error::not_found(format!(
        "no kubeconfig: {} does not exist, KUBECONFIG is not set and this is not a pod \
         (KUBERNETES_SERVICE_HOST is not set); name one with the kubeconfig option (--kubeconfig)",
        home.display()
    )))
}

fn describe(files: &[PathBuf]) -> String {
    match files {
        [one] => one.display().to_string(),
        many => format!(
            "KUBECONFIG ({})",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One kubeconfig file, read by kube-rs (relative paths in it made absolute), with errors
/// that name it. Parse errors keep only their position: the YAML parser may quote the
/// offending text, which can be a token.
fn read_file(path: &Path) -> Result<Kubeconfig> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read kubeconfig", path, e))?;
    if meta.len() > MAX_KUBECONFIG {
        return Err(Error::invalid(format!(
            "{}: {} bytes is too large for a kubeconfig (at most {} MiB)",
            path.display(),
            meta.len(),
            MAX_KUBECONFIG >> 20
        )));
    }
    // kube-rs indexes a UTF-16 file two bytes at a time and panics on an odd length.
    let mut head = [0u8; 2];
    let utf16 = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && matches!(head, [0xFF, 0xFE] | [0xFE, 0xFF]);
    if utf16 && meta.len() % 2 == 1 {
        return Err(Error::invalid(format!(
            "{}: not a kubeconfig (UTF-16 text of an odd number of bytes)",
            path.display()
        )));
    }
    Kubeconfig::read_from(path).map_err(|e| match e {
        KubeconfigError::ReadConfig(io, _) if io.kind() == std::io::ErrorKind::InvalidData => {
            Error::invalid(format!(
                "{}: not a kubeconfig (not UTF-8 or UTF-16 text)",
                path.display()
            ))
        }
        KubeconfigError::ReadConfig(io, _) => Error::io("read kubeconfig", path, io),
        KubeconfigError::Parse(p) => Error::invalid(format!(
            "{}: not a valid kubeconfig (YAML with clusters, users and contexts){}",
            path.display(),
            position(&p.to_string())
        )),
        other => Error::invalid(format!("{}: {other}", path.display())),
    })
}

/// ` at line L column C` from a parser message, when it has one.
fn position(message: &str) -> String {
    let re = regex_automata::meta::Regex::new(r"line \d+,? column \d+").ok();
    re.and_then(|re| {
        re.find(message)
            .map(|m| format!(" at {}", &message[m.range()]))
    })
    .unwrap_or_default()
}

/// The files merged in order: the first to set a name or `current-context` wins.
fn read_files(files: &[PathBuf]) -> Result<Kubeconfig> {
    let mut merged: Option<Kubeconfig> = None;
    for f in files {
        let kc = read_file(f)?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m.merge(kc).map_err(|e| {
                Error::invalid(format!(
                    "{} cannot be merged with {}: {e}",
                    f.display(),
                    describe(files)
                ))
            })?,
        });
    }
    Ok(merged.unwrap_or_default())
}

pub(crate) async fn load(opts: &KubeOptions) -> Result<Loaded> {
    match source(opts)? {
        Source::InCluster => in_cluster(),
        Source::Files(files) => from_files(&files, opts.context.as_deref()).await,
    }
}

async fn from_files(files: &[PathBuf], context: Option<&str>) -> Result<Loaded> {
    let kc = read_files(files)?;
    let where_ = describe(files);
    let name = context
        .map(str::to_string)
        .or(kc.current_context.clone())
        .ok_or_else(|| {
            Error::invalid(format!(
                "{where_} has no current-context; name one with the context option (--context)"
            ))
        })?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| Error::not_found(format!("{where_}: no context {name:?}")))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| {
            Error::not_found(format!(
                "{where_}: context {name:?} names cluster {:?}, which is not there",
                ctx.cluster
            ))
        })?;
    let server = cluster.server.clone().unwrap_or_default();
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "{where_}: context {name:?} sets insecure-skip-tls-verify; idpkit does not send credentials to \
                 or read secrets from an unverified API server: remove it and set certificate-authority-data \
                 to the cluster's CA (kind and idpbuilder write it: `kind export kubeconfig --name CLUSTER`)"
            ),
        ));
    }
    if !server.starts_with("https://") {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "{where_}: context {name:?} names the API server {server:?}, not an https:// URL; idpkit does not \
                 send a cluster token or read a CA over an unauthenticated channel"
            ),
        ));
    }
    // HTTPS_PROXY from the environment is not used for the API server (a local cluster is
    // what idpkit talks to most); a proxy the kubeconfig asks for explicitly is refused
    // rather than silently bypassed.
    if cluster.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(Error::invalid(format!(
            "{where_}: the cluster of context {name:?} sets proxy-url, which idpkit does not support; \
             reach the API server directly (remove proxy-url)"
        )));
    }
    let target = Target {
        context: name.clone(),
        server: server.trim_end_matches('/').to_string(),
        source: where_.clone(),
        exec: None,
    };
    let options = KubeConfigOptions {
        context: Some(name.clone()),
        cluster: None,
        user: None,
    };
    let mut config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| config_error(e, &target))?;
    config.proxy_url = None;
    let target = Target {
        exec: config
            .auth_info
            .exec
            .as_ref()
            .and_then(|x| x.command.clone()),
        ..target
    };
    Ok(Loaded { config, target })
}

/// A kube-rs configuration error for the context of `target`. The messages of these
/// variants name fields and files, never their contents.
fn config_error(e: KubeconfigError, target: &Target) -> Error {
    let what = format!("{}: context {:?}", target.source, target.context);
    match e {
        KubeconfigError::LoadCertificateAuthority(l) => {
            Error::invalid(format!("{what}: certificate authority: {l}"))
        }
        KubeconfigError::LoadClientCertificate(l) => {
            Error::invalid(format!("{what}: client certificate: {l}"))
        }
        KubeconfigError::LoadClientKey(l) => Error::invalid(format!("{what}: client key: {l}")),
        other => Error::invalid(format!("{what}: {other}")),
    }
}

/// The pod's service account (kube-rs reads `KUBERNETES_SERVICE_HOST`/`_PORT` and the
/// files under [`SERVICE_ACCOUNT_DIR`]).
fn in_cluster() -> Result<Loaded> {
    let config = Config::incluster().map_err(|e| {
        let kind = match &e {
            ::kube::config::InClusterError::ReadDefaultNamespace(io)
            | ::kube::config::InClusterError::ReadCertificateBundle(io)
                if io.kind() == std::io::ErrorKind::NotFound =>
            {
                ErrorKind::NotFound
            }
            _ => ErrorKind::InvalidInput,
        };
        Error::new(
            kind,
            format!(
                "running in a pod (KUBERNETES_SERVICE_HOST is set, no kubeconfig), but its service account \
                 cannot be used: {e}; mount the service account token ({SERVICE_ACCOUNT_DIR}, \
                 automountServiceAccountToken) or name a kubeconfig (--kubeconfig)"
            ),
        )
    })?;
    let target = Target {
        context: "in-cluster".to_string(),
        server: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        source: format!("the pod's service account ({SERVICE_ACCOUNT_DIR})"),
        exec: None,
    };
    Ok(Loaded { config, target })
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn a_parse_error_keeps_its_position_only() {
        assert_eq!(
            position("invalid type: string \"s3cr3t\", expected a sequence at line 7 column 12"),
            " at line 7 column 12"
        );
        assert_eq!(position("something without a place"), "");
    }
}
