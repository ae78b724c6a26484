//! The local cluster's own CA and Gitea credentials, read from idpbuilder's Secrets with the
//! one Kubernetes client (`trust extract`, `login --from-cluster`):
//! - CA: Secret `idpbuilder-cert` in `default` (key `ca.crt`), else the TLS Secret
//!   `idpbuilder-cert` in `ingress-nginx` (key `tls.crt`);
//! - Gitea: Secret `gitea-credential` in `gitea` (keys `username`, `password`, `token`).
//!
//! Public as `idpkit::trust::{extract_ca, gitea_credential, ClusterOptions, …}`, where they
//! have always been.

use super::{KubeClient, KubeOptions};
use crate::error::{Error, ErrorKind, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Where the cluster is and which host its CA is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ClusterOptions {
    /// Kubeconfig file; default `$KUBECONFIG` (first entry), else `~/.kube/config`.
    #[schemars(extend("x-path" = true))]
    pub kubeconfig: Option<PathBuf>,
    /// Context; default the kubeconfig's `current-context`.
    pub context: Option<String>,
    /// The host (`host[:port]`) the CA is installed for.
    pub host: String,
    /// certs.d root to install into; default idpkit's (`~/.config/idpkit/certs.d`).
    #[schemars(extend("x-path" = true))]
    pub certs_d: Option<PathBuf>,
}

/// idpbuilder's default Gitea host.
pub const DEFAULT_GITEA_HOST: &str = "gitea.cnoe.localtest.me:8443";

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            kubeconfig: None,
            context: None,
            host: DEFAULT_GITEA_HOST.to_string(),
            certs_d: None,
        }
    }
}

impl ClusterOptions {
    /// The cluster part of the options.
    pub fn kube(&self) -> KubeOptions {
        KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// Result of [`extract_ca`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExtractResult {
    pub host: String,
    /// The file written (`…/certs.d/HOST/ca.crt`).
    #[schemars(extend("x-path" = true))]
    pub path: PathBuf,
    /// `namespace/name key` of the Secret it came from.
    pub source: String,
    pub subject: String,
    pub not_after: String,
}

/// Gitea's admin credentials from the cluster.
#[derive(Clone)]
pub struct ClusterCredential {
    pub username: String,
    /// The token when the Secret has one (works with 2FA), else the password.
    pub secret: String,
}

impl fmt::Debug for ClusterCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCredential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::invalid(format!("{what}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!("{what}: holds no certificate")));
    }
    Ok(certs)
}

/// Reads idpbuilder's CA from the cluster, checks it, and installs it for `opts.host`.
/// `cancel` stops it soon after it fires, with `Cancelled`, before anything is installed.
pub fn extract_ca(
    opts: &ClusterOptions,
    cancel: Option<&crate::CancelToken>,
) -> Result<ExtractResult> {
    crate::cancel::check(cancel)?;
    let kube = KubeClient::connect(&opts.kube(), None)?.with_cancel(cancel);
    let mut found = None;
    for (ns, key) in [("default", "ca.crt"), ("ingress-nginx", "tls.crt")] {
        if let Some(c) = kube
            .secret(ns, "idpbuilder-cert")?
            .and_then(|d| d.get(key).map(<[u8]>::to_vec))
        {
            found = Some((format!("{ns}/idpbuilder-cert {key}"), c));
            break;
        }
    }
    let (source, pem) = found.ok_or_else(|| {
        Error::not_found(format!(
            "context {:?} has neither Secret default/idpbuilder-cert (ca.crt) nor ingress-nginx/idpbuilder-cert (tls.crt); is this an idpbuilder cluster?",
            kube.context()
        ))
    })?;
    let certs = pem_certs(&pem, &source)?;
    let info = crate::trust::cert_info(&certs[0])
        .ok_or_else(|| Error::invalid(format!("{source}: the certificate cannot be parsed")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if let Ok((_, c)) = x509_parser::parse_x509_certificate(certs[0].as_ref()) {
        if c.validity().not_after.timestamp() < now {
            return Err(Error::new(
                ErrorKind::Untrusted,
                format!(
                    "{source}: the CA expired on {}; recreate the cluster's certificate",
                    info.not_after
                ),
            ));
        }
    }
    let path = crate::trust::install_pem(&opts.host, &pem, opts.certs_d.as_deref())?;
    Ok(ExtractResult {
        host: opts.host.clone(),
        path,
        source,
        subject: info.subject,
        not_after: info.not_after,
    })
}

/// Gitea's credentials from Secret `gitea/gitea-credential` (token preferred). `cancel`
/// stops it soon after it fires, with `Cancelled`.
pub fn gitea_credential(
    opts: &ClusterOptions,
    cancel: Option<&crate::CancelToken>,
) -> Result<ClusterCredential> {
    crate::cancel::check(cancel)?;
    let kube = KubeClient::connect(&opts.kube(), None)?.with_cancel(cancel);
    let d = kube.secret("gitea", "gitea-credential")?.ok_or_else(|| {
        Error::not_found(format!(
            "context {:?} has no Secret gitea/gitea-credential",
            kube.context()
        ))
    })?;
    let username = d.text("username").ok_or_else(|| {
        Error::invalid("Secret gitea/gitea-credential has no username".to_string())
    })?;
    let secret = d
        .text("token")
        .or_else(|| d.text("password"))
        .ok_or_else(|| {
            Error::invalid(
                "Secret gitea/gitea-credential has neither token nor password".to_string(),
            )
        })?;
    Ok(ClusterCredential {
        username: username.to_string(),
        secret: secret.to_string(),
    })
}
