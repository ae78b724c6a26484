//! The connection: kube-rs's request layers (base URI, authorization, impersonation headers)
//! over hyper on hyper-rustls with the rustls configuration of a
//! [`TrustStore::for_kube_api`]: exactly the kubeconfig's CA, idpkit's verifier, the
//! kubeconfig's client certificate. kube-rs's own TLS stack is not compiled in, so there is
//! no second verifier to drift from the first (docs/decisions/0010-kube-rs.md).

use super::config::Loaded;
use super::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventSink;
use crate::trust::{Recorder, TrustStore};
use ::kube::client::ConfigExt;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// The most one answer of the API server may hold (a watch: one connection's worth of
/// events). Objects are at most ~1.5 MiB in etcd; this bounds a hostile or broken server.
pub(crate) const MAX_RESPONSE: usize = 64 << 20;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The kube-rs client for `loaded`, and the recorder of its TLS handshakes (for messages).
pub(crate) fn build(
    loaded: &Loaded,
    sink: Option<&EventSink>,
) -> Result<(::kube::Client, Arc<Recorder>)> {
    let config = &loaded.config;
    let target = &loaded.target;
    let cas: Vec<CertificateDer<'static>> = config
        .root_cert
        .iter()
        .flatten()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    let store = TrustStore::for_kube_api(
        &target.server,
        cas,
        &format!("{} context {:?}", target.source, target.context),
        client_identity(config, target)?,
    )?;
    // Never insecure: `config` already refused insecure-skip-tls-verify.
    let (tls, recorder) = store.client_config_with(sink, false)?;

    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only();
    let https = match &config.tls_server_name {
        Some(name) => {
            let name = ServerName::try_from(name.clone()).map_err(|_| {
                Error::invalid(format!(
                    "{}: context {:?}: tls-server-name {name:?} is not a host name",
                    target.source, target.context
                ))
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    }
    .enable_http1()
    .wrap_connector(http);
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, ::kube::client::Body>(https);

    let token_file = TokenFile::of(config, target)?;
    let auth = match token_file {
        Some(_) => None,
        None => config
            .auth_layer()
            .map_err(|e| super::errors::map(e, "reading", "credentials", target, &recorder))?,
    };
    if auth.is_none() && config.auth_info.exec.is_some() && !has_client_certificate(config) {
        return Err(Error::new(
            ErrorKind::Auth,
            format!(
                "the exec credential plugin of context {:?} ({}) returned no token; idpkit takes tokens \
                 from exec plugins (a client certificate from one is not supported): configure the plugin \
                 to print status.token",
                target.context, target.source
            ),
        ));
    }
    let extra_headers = config
        .extra_headers_layer()
        .map_err(|e| super::errors::map(e, "reading", "credentials", target, &recorder))?;
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(auth)
        .option_layer(token_file.map(|t| {
            tower::util::MapRequestLayer::new(move |r: http::Request<::kube::client::Body>| {
                t.authorize(r)
            })
        }))
        .layer(extra_headers)
        .map_response(|r: http::Response<hyper::body::Incoming>| {
            r.map(|body| http_body_util::Limited::new(body, MAX_RESPONSE))
        })
        // kube's auth layer wants the inner error boxed, as kube's own stack has it.
        .map_err(tower::BoxError::from)
        .service(hyper);
    // kube's client spawns its request buffer on the runtime it is created in.
    let runtime = crate::runtime::handle();
    let _entered = runtime.enter();
    let client = ::kube::Client::new(service, config.default_namespace.clone());
    Ok((client, recorder))
}

fn has_client_certificate(config: &::kube::Config) -> bool {
    let a = &config.auth_info;
    a.client_certificate.is_some() || a.client_certificate_data.is_some()
}

/// The kubeconfig user's client certificate and key (inline data or files), for the TLS
/// configuration. kube-rs parses the kubeconfig but keeps this step inside its own TLS code.
fn client_identity(
    config: &::kube::Config,
    target: &Target,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>> {
    let a = &config.auth_info;
    let what = |field: &str| format!("{}: context {:?}: {field}", target.source, target.context);
    let cert = data_or_file(
        a.client_certificate_data.as_deref(),
        a.client_certificate.as_deref(),
        &what("client-certificate"),
    )?;
    let key = data_or_file(
        a.client_key_data.as_ref().map(|k| k.expose_secret()),
        a.client_key.as_deref(),
        &what("client-key"),
    )?;
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid(format!(
            "{} has a client certificate but no client-key",
            what("user")
        ))),
        (None, Some(_)) => Err(Error::invalid(format!(
            "{} has a client-key but no client certificate",
            what("user")
        ))),
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    Error::invalid(format!("{} is not PEM", what("client-certificate")))
                })?;
            if chain.is_empty() {
                return Err(Error::invalid(format!(
                    "{} holds no certificate",
                    what("client-certificate")
                )));
            }
            // The key's parse error is not quoted: it could echo key material.
            let key = PrivateKeyDer::from_pem_slice(&key).map_err(|_| {
                Error::invalid(format!("{} is not a PEM private key", what("client-key")))
            })?;
            Ok(Some((chain, key)))
        }
    }
}

/// `*-data` (base64 of PEM) wins over the file, as in kubectl.
fn data_or_file(data: Option<&str>, file: Option<&str>, what: &str) -> Result<Option<Vec<u8>>> {
    if let Some(d) = data.filter(|d| !d.trim().is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map_err(|_| Error::invalid(format!("{what}-data is not base64")))?;
        return Ok(Some(bytes));
    }
    match file.filter(|f| !f.is_empty()) {
        Some(f) => {
            let p = std::path::Path::new(f);
            std::fs::read(p)
                .map(Some)
                .map_err(|e| Error::io(&format!("read {what}"), p, e))
        }
        None => Ok(None),
    }
}

/// A `tokenFile` user (and a pod's service account): kube-rs sends the file's bytes as they
/// are, so the usual trailing newline makes every request fail; client-go trims it. Read
/// here, trimmed, and again at most once a minute (service account tokens rotate), keeping
/// the last good token when a re-read fails, as client-go does.
#[derive(Clone)]
struct TokenFile {
    path: std::path::PathBuf,
    cached: Arc<std::sync::Mutex<(http::HeaderValue, std::time::Instant)>>,
}

const TOKEN_FILE_TTL: Duration = Duration::from_secs(60);

impl TokenFile {
    /// The user's token file when it is what authenticates the requests (no inline token,
    /// password or auth provider before it, as kube-rs orders them).
    fn of(config: &::kube::Config, target: &Target) -> Result<Option<TokenFile>> {
        let a = &config.auth_info;
        let Some(path) = a.token_file.as_deref() else {
            return Ok(None);
        };
        if a.token.is_some() || a.username.is_some() || a.auth_provider.is_some() {
            return Ok(None);
        }
        let path = std::path::PathBuf::from(path);
        let header = Self::read(&path)
            .map_err(|e| e.context(format!("context {:?} ({})", target.context, target.source)))?;
        Ok(Some(TokenFile {
            path,
            cached: Arc::new(std::sync::Mutex::new((header, std::time::Instant::now()))),
        }))
    }

    fn read(path: &std::path::Path) -> Result<http::HeaderValue> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("read token file", path, e))?;
        let mut v = http::HeaderValue::try_from(format!("Bearer {}", text.trim())).map_err(|_| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "token file {}: the token cannot be sent in an HTTP header (a control character in it?)",
                    path.display()
                ),
            )
        })?;
        v.set_sensitive(true);
        Ok(v)
    }

    fn authorize<B>(&self, mut r: http::Request<B>) -> http::Request<B> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.1.elapsed() > TOKEN_FILE_TTL {
            if let Ok(v) = Self::read(&self.path) {
                cached.0 = v;
            }
            cached.1 = std::time::Instant::now();
        }
        r.headers_mut()
            .insert(http::header::AUTHORIZATION, cached.0.clone());
        r
    }
}
