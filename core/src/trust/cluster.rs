//! The local cluster's own CA and Gitea credentials, read from the Kubernetes API of the
//! current kubeconfig context (idpbuilder's Secrets):
//! - CA: Secret `idpbuilder-cert` in `default` (key `ca.crt`), else the TLS Secret
//!   `idpbuilder-cert` in `ingress-nginx` (key `tls.crt`);
//! - Gitea: Secret `gitea-credential` in `gitea` (keys `username`, `password`, `token`).
//!
//! Two GETs do not justify a full Kubernetes client: this speaks to the API server with
//! reqwest and the kubeconfig's CA, token or client certificate.

use crate::error::{Error, ErrorKind, Result};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

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

#[derive(Deserialize, Default)]
#[serde(default)]
struct KubeConfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
    contexts: Vec<NamedContext>,
    #[serde(rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority")]
    ca_file: Option<PathBuf>,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
    #[serde(rename = "insecure-skip-tls-verify")]
    insecure: bool,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: User,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
    #[serde(rename = "client-certificate")]
    cert_file: Option<PathBuf>,
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<String>,
    #[serde(rename = "client-key")]
    key_file: Option<PathBuf>,
    #[serde(rename = "client-key-data")]
    key_data: Option<String>,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: String,
}

fn kubeconfig_path(opts: &ClusterOptions) -> PathBuf {
    if let Some(p) = &opts.kubeconfig {
        return p.clone();
    }
    if let Some(v) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        if let Some(first) = std::env::split_paths(&v).next() {
            return first;
        }
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".kube")
        .join("config")
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| Error::invalid(format!("{what} is not base64")))
}

/// A connection to the API server of one kubeconfig context.
struct Api {
    server: String,
    http: reqwest::Client,
    token: Option<String>,
    context: String,
}

fn relative_to(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

impl Api {
    fn new(opts: &ClusterOptions) -> Result<Api> {
        let path = kubeconfig_path(opts);
        let text = std::fs::read(&path).map_err(|e| Error::io("read kubeconfig", &path, e))?;
        let kc: KubeConfig = serde_yaml::from_slice(&text).map_err(|e| {
            Error::invalid(format!("{}: not a valid kubeconfig: {e}", path.display()))
        })?;
        let ctx_name = opts
            .context
            .clone()
            .or(kc.current_context.clone())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{} has no current-context; name one with the context option (--context)",
                    path.display()
                ))
            })?;
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == ctx_name)
            .ok_or_else(|| {
                Error::not_found(format!("{}: no context {ctx_name:?}", path.display()))
            })?;
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == ctx.context.cluster)
            .map(|c| &c.cluster)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "{}: context {ctx_name:?} names cluster {:?}, which is not there",
                    path.display(),
                    ctx.context.cluster
                ))
            })?;
        let user = kc
            .users
            .iter()
            .find(|u| u.name == ctx.context.user)
            .map(|u| &u.user);
        if cluster.insecure {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{}: context {ctx_name:?} sets insecure-skip-tls-verify; idpkit does not read secrets from an unverified API server",
                    path.display()
                ),
            ));
        }
        if !cluster.server.starts_with("https://") {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{}: context {ctx_name:?} names the API server {:?}, not an https:// URL; idpkit does not \
                     send a cluster token or read a CA over an unauthenticated channel",
                    path.display(),
                    cluster.server
                ),
            ));
        }
        let mut roots = Vec::new();
        if let Some(d) = &cluster.ca_data {
            let pem = b64(d, "certificate-authority-data")?;
            roots.extend(pem_certs(&pem, "certificate-authority-data")?);
        }
        if let Some(f) = &cluster.ca_file {
            roots.extend(super::read_certs(&relative_to(&path, f))?);
        }
        let mut client_auth = None;
        let mut token = None;
        if let Some(u) = user {
            token = u.token.clone();
            if let Some(tf) = &u.token_file {
                let tf = relative_to(&path, tf);
                token = Some(
                    std::fs::read_to_string(&tf)
                        .map_err(|e| Error::io("read token file", &tf, e))?
                        .trim()
                        .to_string(),
                );
            }
            let cert = match (&u.cert_data, &u.cert_file) {
                (Some(d), _) => Some(b64(d, "client-certificate-data")?),
                (None, Some(f)) => {
                    let f = relative_to(&path, f);
                    Some(std::fs::read(&f).map_err(|e| Error::io("read", &f, e))?)
                }
                _ => None,
            };
            let key = match (&u.key_data, &u.key_file) {
                (Some(d), _) => Some(b64(d, "client-key-data")?),
                (None, Some(f)) => {
                    let f = relative_to(&path, f);
                    Some(std::fs::read(&f).map_err(|e| Error::io("read", &f, e))?)
                }
                _ => None,
            };
            if let (Some(c), Some(k)) = (cert, key) {
                let chain = pem_certs(&c, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(&k)
                    .map_err(|e| Error::invalid(format!("client key of {ctx_name:?}: {e}")))?;
                client_auth = Some((chain, key));
            }
        }
        let server = cluster.server.trim_end_matches('/').to_string();
        let tls = super::TrustStore::for_kube_api(
            &server,
            roots,
            &format!("{} context {ctx_name:?}", path.display()),
            client_auth,
        )?
        .client_config(None)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
        Ok(Api {
            server,
            http,
            token,
            context: ctx_name,
        })
    }

    /// `data` of a Secret, decoded; `None` when the Secret does not exist.
    async fn secret(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, Vec<u8>>>> {
        let url = format!("{}/api/v1/namespaces/{ns}/secrets/{name}", self.server);
        let mut req = self.http.get(&url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!(
                    "cannot reach the API server {} of context {:?}: {e}",
                    self.server, self.context
                ),
            )
        })?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            401 | 403 => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the API server of context {:?} refused to read Secret {ns}/{name} ({})",
                        self.context,
                        resp.status()
                    ),
                ))
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "reading Secret {ns}/{name} from context {:?}: HTTP {}",
                        self.context,
                        resp.status()
                    ),
                ))
            }
        }
        let body = resp.bytes().await.map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("reading Secret {ns}/{name}: {e}"),
            )
        })?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let mut out = std::collections::BTreeMap::new();
        if let Some(data) = v.get("data").and_then(|d| d.as_object()) {
            for (k, val) in data {
                if let Some(s) = val.as_str() {
                    out.insert(k.clone(), b64(s, &format!("Secret {ns}/{name} key {k}"))?);
                }
            }
        }
        Ok(Some(out))
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
    let api = Api::new(opts)?;
    let (source, pem) = crate::runtime::block_on_cancellable(cancel, async {
        if let Some(d) = api.secret("default", "idpbuilder-cert").await? {
            if let Some(c) = d.get("ca.crt") {
                return Ok::<_, Error>(("default/idpbuilder-cert ca.crt", c.clone()));
            }
        }
        if let Some(d) = api.secret("ingress-nginx", "idpbuilder-cert").await? {
            if let Some(c) = d.get("tls.crt") {
                return Ok(("ingress-nginx/idpbuilder-cert tls.crt", c.clone()));
            }
        }
        Err(Error::not_found(format!(
            "context {:?} has neither Secret default/idpbuilder-cert (ca.crt) nor ingress-nginx/idpbuilder-cert (tls.crt); is this an idpbuilder cluster?",
            api.context
        )))
    })?;
    let certs = pem_certs(&pem, source)?;
    let info = super::diagnose::cert_info(&certs[0])
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
    let path = super::install_pem(&opts.host, &pem, opts.certs_d.as_deref())?;
    Ok(ExtractResult {
        host: opts.host.clone(),
        path,
        source: source.to_string(),
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
    let api = Api::new(opts)?;
    let d = crate::runtime::block_on_cancellable(cancel, api.secret("gitea", "gitea-credential"))?
        .ok_or_else(|| {
            Error::not_found(format!(
                "context {:?} has no Secret gitea/gitea-credential",
                api.context
            ))
        })?;
    let s = |k: &str| {
        d.get(k)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let username = s("username").ok_or_else(|| {
        Error::invalid("Secret gitea/gitea-credential has no username".to_string())
    })?;
    let secret = s("token").or_else(|| s("password")).ok_or_else(|| {
        Error::invalid("Secret gitea/gitea-credential has neither token nor password".to_string())
    })?;
    Ok(ClusterCredential { username, secret })
}
