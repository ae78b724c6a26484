//! The one Kubernetes client: kube-rs for kubeconfig loading (`KUBECONFIG` lists merged as
//! kubectl merges them, contexts, client certificates, tokens, token files, exec credential
//! plugins, in-cluster service accounts), requests and watches; idpkit's own verifier for
//! TLS (the kubeconfig's CA through [`crate::trust::TrustStore`]). See
//! docs/decisions/0010-kube-rs.md.
//!
//! The API is blocking like the rest of core: every call runs on the process runtime, stops
//! with `CANCELLED` soon after the client's cancel token fires, and maps failures to
//! [`ErrorKind`]s whose messages name the context and the API server.

mod config;
mod connect;
mod errors;
pub(crate) mod idpbuilder;
mod jobs;
mod objects;
mod secret_apply;
mod watch;

pub use idpbuilder::{
    extract_ca, gitea_credential, ClusterCredential, ClusterOptions, ExtractResult,
    DEFAULT_GITEA_HOST,
};
pub use objects::SecretData;
pub use secret_apply::AppliedSecret;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventSink;
use crate::trust::Recorder;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Which cluster to talk to. Serde: the same fields in every binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct KubeOptions {
    /// Kubeconfig file; default the files `$KUBECONFIG` lists (merged as kubectl merges
    /// them), else `~/.kube/config`, else the pod's service account when running in a
    /// cluster (`KUBERNETES_SERVICE_HOST` set).
    #[schemars(extend("x-path" = true))]
    pub kubeconfig: Option<PathBuf>,
    /// Context; default the kubeconfig's `current-context`.
    pub context: Option<String>,
}

/// What a connection is to, for messages: never a credential.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The context's name (`in-cluster` for a pod's service account).
    pub(crate) context: String,
    /// The API server's URL.
    pub(crate) server: String,
    /// Where the configuration came from: the kubeconfig file(s), or the service account.
    pub(crate) source: String,
    /// The exec credential plugin's command, when the user has one.
    pub(crate) exec: Option<String>,
}

/// A connection to one cluster's API server. Cheap to clone (requests share one
/// connection pool).
#[derive(Clone)]
pub struct KubeClient {
    client: ::kube::Client,
    target: Arc<Target>,
    recorder: Arc<Recorder>,
    sink: Option<EventSink>,
    cancel: Option<CancelToken>,
    /// Seconds each watch request lasts before the API server ends it (and the watch
    /// resumes from where it was); `None`: kube-rs's default, 290.
    watch_timeout: Option<u32>,
}

impl fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeClient")
            .field("context", &self.target.context)
            .field("server", &self.target.server)
            .field("source", &self.target.source)
            .finish()
    }
}

impl KubeClient {
    /// Loads the configuration `opts` name and prepares a client for its API server.
    /// Nothing is sent yet (an exec credential plugin does run here); a kubeconfig that
    /// would send credentials unverified (`insecure-skip-tls-verify`, an `http://` server)
    /// is refused with `POLICY`. `sink` receives the client's warnings (a watch that
    /// reconnects).
    pub fn connect(opts: &KubeOptions, sink: Option<&EventSink>) -> Result<KubeClient> {
        crate::event::refuse_in_callback("a cluster call")?;
        let loaded = crate::runtime::block_on(config::load(opts))?;
        let (client, recorder) = connect::build(&loaded, sink)?;
        Ok(KubeClient {
            client,
            target: Arc::new(loaded.target),
            recorder,
            sink: sink.cloned(),
            cancel: None,
            watch_timeout: None,
        })
    }

    /// The same client, whose calls stop with `CANCELLED` soon after `cancel` fires.
    pub fn with_cancel(mut self, cancel: Option<&CancelToken>) -> KubeClient {
        self.cancel = cancel.cloned();
        self
    }

    /// The same client, whose watches ask the API server to end each watch request after
    /// `secs` seconds (a watch then resumes from the last resourceVersion it saw, as it does
    /// when a server or proxy closes the stream). For tests of that resumption; the default
    /// (290 s) suits real use.
    pub fn with_watch_timeout(mut self, secs: u32) -> KubeClient {
        self.watch_timeout = Some(secs);
        self
    }

    /// The kubeconfig context in use (`in-cluster` for a pod's service account).
    pub fn context(&self) -> &str {
        &self.target.context
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.target.server
    }

    /// The API server's version (`v1.33.1`): a request that proves it is reachable, trusted
    /// and accepts the credentials.
    pub fn server_version(&self) -> Result<String> {
        let client = self.client.clone();
        self.run("the server version", async move {
            client.apiserver_version().await
        })
        .map(|v| v.git_version)
    }

    /// Runs one request on the runtime, bounded by [`REQUEST_TIMEOUT`] and the cancel token,
    /// and maps its failure for `what` (e.g. `Secret gitea/gitea-credential`).
    fn run<T, F>(&self, what: &str, future: F) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<T, ::kube::Error>>,
    {
        self.run_as("reading", what, future)
    }

    /// [`Self::run`] for a request that writes: its errors say `writing`.
    fn run_write<T, F>(&self, what: &str, future: F) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<T, ::kube::Error>>,
    {
        self.run_as("writing", what, future)
    }

    fn run_as<T, F>(&self, verb: &str, what: &str, future: F) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<T, ::kube::Error>>,
    {
        crate::runtime::block_on_cancellable(self.cancel.as_ref(), async {
            match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
                Ok(r) => r.map_err(|e| errors::map(e, verb, what, &self.target, &self.recorder)),
                Err(_) => Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "the API server {} of context {:?} did not answer {what} within {} s",
                        self.target.server,
                        self.target.context,
                        REQUEST_TIMEOUT.as_secs()
                    ),
                )),
            }
        })
    }
}

/// How long one request (not a watch) may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A Kubernetes object name or namespace (RFC 1123 subdomain: lower-case alphanumerics, `-`
/// and `.`, at most 253): anything else cannot come from the API server and must not become
/// a path component.
pub(crate) fn check_name(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {value:?} is not a Kubernetes name (lower-case letters, digits, '-' and \
             '.', starting and ending with a letter or digit)"
        )))
    }
}
