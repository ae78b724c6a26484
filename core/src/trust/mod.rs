//! Which certificates a registry or git host is trusted with, assembled per operation so a
//! rotated CA is picked up without a restart.
//!
//! Sources, in order: the platform's roots (rustls-native-certs, which honours
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`; webpki-roots when the platform has none), `SSL_CERT_FILE`
//! and `SSL_CERT_DIR` read explicitly, `--ca-file`s, and the host's certs.d folders
//! (`/etc/docker/certs.d/HOST[:PORT]/`, `/etc/containers/certs.d/…`,
//! `~/.config/idpkit/certs.d/…`): `*.crt` are CAs, `NAME.cert` + `NAME.key` a client
//! certificate for mutual TLS.
//!
//! Insecure is per host only: the verifier skips verification for that host name alone and
//! emits [`Event::InsecureConnection`] every time it does.

mod diagnose;
mod verifier;

// Reading the CA and Gitea's credentials from the cluster is the Kubernetes client's work
// (kube/idpbuilder.rs); their public path stays here.
pub use crate::kube::{
    extract_ca, gitea_credential, ClusterCredential, ClusterOptions, ExtractResult,
    DEFAULT_GITEA_HOST,
};
pub(crate) use diagnose::{cert_info, classify_transport_error, client_cert_required, verdict_of};
pub use diagnose::{check, CertInfo, TrustReport, Verdict};

use crate::error::{Error, Result};
use crate::event::EventSink;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub(crate) use verifier::Recorder;
use verifier::{Anchors, Verifier};

/// What to trust for an operation. Serde: the same fields in every binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct TrustOptions {
    /// Extra CA files (PEM) trusted for every host of the operation.
    #[schemars(extend("x-path" = true))]
    pub ca_files: Vec<PathBuf>,
    /// Hosts (`host` or `host:port`) whose certificate is not verified and which may be
    /// spoken to over plain HTTP. Every use emits an `insecure_connection` event.
    pub insecure_hosts: Vec<String>,
    /// certs.d roots to search; `None` means the defaults (see `config::certs_d_roots`).
    #[schemars(extend("x-path" = true))]
    pub certs_d: Option<Vec<PathBuf>>,
    /// Leave out the platform's roots and `SSL_CERT_*` (tests, air-gapped setups).
    pub no_platform_roots: bool,
}

impl TrustOptions {
    /// Whether `host` (`host[:port]`) was marked insecure, by exact `host:port` or by name.
    pub fn is_insecure(&self, host: &str) -> bool {
        let name = host_name(host);
        self.insecure_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || (!h.contains(':') && h == name))
    }

    fn certs_d_roots(&self) -> Vec<PathBuf> {
        self.certs_d
            .clone()
            .unwrap_or_else(crate::config::certs_d_roots)
    }
}

/// `host` of `host[:port]` (IPv6 in brackets keeps its brackets off).
pub(crate) fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The trust decision material for one host.
pub struct TrustStore {
    host: String,
    roots: RootCertStore,
    /// The certificates the operation was configured with (CA files, certs.d, `SSL_CERT_*`,
    /// a kubeconfig's CA): one of them served as the host's own certificate is accepted
    /// (idpbuilder's self-signed CA, see `verifier`). The platform's roots are not in it.
    anchors: Anchors,
    sources: Vec<String>,
    client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    insecure: bool,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("host", &self.host)
            .field("roots", &self.roots.len())
            .field("anchors", &self.anchors.len())
            .field("sources", &self.sources)
            .field("client_certificate", &self.client_auth.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl TrustStore {
    /// Assembles the roots and client certificate for `host` (`host[:port]`).
    pub fn for_host(host: &str, opts: &TrustOptions) -> Result<TrustStore> {
        let mut store = TrustStore::empty(host, opts.is_insecure(host));
        if !opts.no_platform_roots {
            let native = rustls_native_certs::load_native_certs();
            let (n, _) = store.roots.add_parsable_certificates(native.certs);
            if n > 0 {
                store.sources.push(format!("platform ({n} roots)"));
            } else {
                store
                    .roots
                    .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                store
                    .sources
                    .push("webpki-roots (the platform has none)".into());
            }
            // rustls-native-certs already reads SSL_CERT_FILE and SSL_CERT_DIR instead of the
            // platform's store when they are set; read them again as configured anchors (a
            // pinned certificate may be in them) and name them so diagnostics show the source.
            store.add_ssl_cert_env();
        }
        for f in &opts.ca_files {
            let n = store.add_pem_file(f)?;
            store.sources.push(format!("CA file {} ({n})", f.display()));
        }
        for dir in host_dirs(host, &opts.certs_d_roots()) {
            for f in files_with_ext(&dir, "crt") {
                let n = store.add_pem_file(&f)?;
                store.sources.push(format!("{} ({n})", f.display()));
            }
            for cert in files_with_ext(&dir, "cert") {
                let key = cert.with_extension("key");
                if !key.is_file() {
                    return Err(Error::invalid(format!(
                        "client certificate {} has no key {}; put both in {}",
                        cert.display(),
                        key.display(),
                        dir.display()
                    )));
                }
                if store.client_auth.is_none() {
                    let chain = read_certs(&cert)?;
                    let pk = PrivateKeyDer::from_pem_file(&key).map_err(|e| {
                        Error::invalid(format!("{}: not a PEM private key: {e}", key.display()))
                    })?;
                    store
                        .sources
                        .push(format!("client certificate {}", cert.display()));
                    store.client_auth = Some((chain, pk));
                }
            }
        }
        Ok(store)
    }

    /// The trust for a Kubernetes API server: exactly the kubeconfig's CA certificates (no
    /// platform roots, no certs.d, never insecure) and its client certificate, if any.
    pub(crate) fn for_kube_api(
        server: &str,
        cas: Vec<CertificateDer<'static>>,
        source: &str,
        client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<TrustStore> {
        let mut store = TrustStore::empty(server, false);
        let n = store.add_certs(cas);
        if n == 0 {
            return Err(Error::invalid(format!(
                "{source} names no usable certificate authority for the API server {server}"
            )));
        }
        store.sources.push(format!("{source} ({n})"));
        store.client_auth = client_auth;
        Ok(store)
    }

    fn empty(host: &str, insecure: bool) -> TrustStore {
        TrustStore {
            host: host.to_string(),
            roots: RootCertStore::empty(),
            anchors: Anchors::default(),
            sources: Vec::new(),
            client_auth: None,
            insecure,
        }
    }

    /// Adds `certs` as roots and as pinnable anchors; returns how many were usable.
    fn add_certs(&mut self, certs: Vec<CertificateDer<'static>>) -> usize {
        for c in &certs {
            self.anchors.add(c);
        }
        self.roots.add_parsable_certificates(certs).0
    }

    fn add_pem_file(&mut self, path: &Path) -> Result<usize> {
        let certs = read_certs(path)?;
        let total = certs.len();
        let n = self.add_certs(certs);
        if n == 0 && total > 0 {
            return Err(Error::invalid(format!(
                "{}: no usable CA certificate in it",
                path.display()
            )));
        }
        Ok(n)
    }

    /// `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (a folder of PEM files), as
    /// OpenSSL reads them; unreadable entries are skipped as OpenSSL skips them.
    fn add_ssl_cert_env(&mut self) {
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let path = PathBuf::from(&v);
            let files = if var == "SSL_CERT_DIR" {
                std::env::split_paths(&v)
                    .flat_map(|d| fs::read_dir(d).into_iter().flatten().flatten())
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            } else {
                vec![path.clone()]
            };
            for f in files {
                if let Ok(certs) = read_certs(&f) {
                    self.add_certs(certs);
                }
            }
            self.sources.push(format!("{var} {}", path.display()));
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Where the roots came from, for diagnostics.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// A rustls client configuration: the one verifier (WebPKI against these roots, plus a
    /// pinned anchor served as the leaf), skipped only for this store's host when it is
    /// marked insecure (audited through `sink`).
    pub(crate) fn client_config(&self, sink: Option<&EventSink>) -> Result<ClientConfig> {
        self.client_config_with(sink, self.insecure).map(|(c, _)| c)
    }

    pub(crate) fn client_config_with(
        &self,
        sink: Option<&EventSink>,
        insecure: bool,
    ) -> Result<(ClientConfig, Arc<Recorder>)> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = self.verifier(sink, insecure, provider.clone())?;
        let recorder = verifier.recorder.clone();
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match &self.client_auth {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| {
                    Error::invalid(format!(
                        "client certificate for {} is unusable: {e}",
                        self.host
                    ))
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok((config, recorder))
    }

    /// The one verifier for this store's host (see `verifier`).
    fn verifier(
        &self,
        sink: Option<&EventSink>,
        insecure: bool,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Verifier> {
        let mut roots = self.roots.clone();
        if roots.is_empty() {
            // WebPKI needs one anchor; with none configured, every certificate is unknown
            // anyway (and a pinned one is still recognised through `anchors`).
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| Error::internal(format!("TLS verifier: {e}")))?;
        Ok(Verifier {
            inner,
            anchors: self.anchors.clone(),
            insecure_name: insecure.then(|| host_name(&self.host).to_ascii_lowercase()),
            host: self.host.clone(),
            sink: sink.cloned(),
            recorder: Arc::new(Recorder::default()),
        })
    }
}

/// The certs.d folders of `host` under each root that exist.
fn host_dirs(host: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|r| r.join(host))
        .filter(|d| d.is_dir())
        .collect()
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext) && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = fs::read(path).map_err(|e| Error::io("read certificate", path, e))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::invalid(format!("{}: not a PEM certificate: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// Installs `ca_file` as the CA of `host` in idpkit's certs.d (`~/.config/idpkit/certs.d/
/// HOST[:PORT]/ca.crt`, or under `certs_d` when given) and returns the path written.
pub fn add(host: &str, ca_file: &Path, certs_d: Option<&Path>) -> Result<PathBuf> {
    if host.is_empty() || host.contains('/') || host.contains("..") {
        return Err(Error::invalid(format!(
            "{host:?} is not a HOST[:PORT]; e.g. gitea.cnoe.localtest.me:8443"
        )));
    }
    let certs = read_certs(ca_file)?;
    for c in &certs {
        diagnose::cert_info(c).ok_or_else(|| {
            Error::invalid(format!(
                "{}: a certificate in it cannot be parsed",
                ca_file.display()
            ))
        })?;
    }
    // The certificates only: a PEM that also holds a private key (a combined cert+key
    // file) must not leave a copy of the key in certs.d.
    install_pem(host, pem_of(&certs).as_bytes(), certs_d)
}

/// Certificates as PEM, 64 columns, as OpenSSL and Go write them.
pub(crate) fn pem_of(certs: &[CertificateDer<'_>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for c in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Writes `pem` atomically as `CERTS_D/HOST/ca.crt` (idpkit's certs.d by default).
pub(crate) fn install_pem(host: &str, pem: &[u8], certs_d: Option<&Path>) -> Result<PathBuf> {
    if host.is_empty() || host.contains('/') || host.contains("..") {
        return Err(Error::invalid(format!(
            "{host:?} is not a HOST[:PORT]; e.g. gitea.cnoe.localtest.me:8443"
        )));
    }
    let root = certs_d
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::config::idpkit_certs_d);
    let dir = root.join(host);
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let dest = dir.join("ca.crt");
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io("write", &dir, e))?;
    std::io::Write::write_all(&mut tmp, pem).map_err(|e| Error::io("write", &dest, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("write", &dest, e))?;
    tmp.persist(&dest)
        .map_err(|e| Error::io("write", &dest, e.error))?;
    // The rename is durable only once the directory is.
    crate::fsx::sync_dir(&dir).map_err(|e| Error::io("sync", &dir, e))?;
    Ok(dest)
}
