//! Python bindings of idpkit (PyO3): the native half of the `idpkit` package.
//!
//! This module is deliberately small and private (`idpkit._idpkit`). Options go in and results
//! come out as JSON documents with the core's serde field names, so a field added to a core
//! type flows through without touching this file; the pure-Python layer
//! (`python/idpkit/`) turns them into keyword arguments, frozen dataclasses and exception
//! subclasses.
//!
//! Threading: every blocking call releases the interpreter lock (`py.detach`). `build` runs on
//! a worker thread while the calling thread waits in short slices and checks for signals, so
//! Ctrl-C cancels the build (through its `CancelToken`), waits for the worker to clean up and
//! re-raises `KeyboardInterrupt`. Registry calls (push, pull, copy, tags, catalog, delete,
//! login) run the same way, cancelled through `RegistryOptions::cancel`.
//!
//! Secrets (passwords, tokens) cross as arguments of their own (items of a registry call's
//! `RegistryCall` tuple), never inside a JSON document, so a malformed document cannot echo
//! them into an error message.

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::{self, ClusterOptions, TrustOptions, Verdict};
use idpkit::{BuildOptions, CancelToken, Error, ErrorKind, Event, EventSink, Store};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a thread waiting for a build checks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Turns a core error into the matching `idpkit.*Error` instance (built by
/// `idpkit._errors._from_native`, so the classes live in Python where users read them).
fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let errors = py.import("idpkit._errors")?;
        let exc = errors
            .getattr("_from_native")?
            .call1((err.kind.code(), err.message.as_str()))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|_| {
        PyRuntimeError::new_err(format!("idpkit {}: {}", err.kind.code(), err.message))
    })
}

fn to_json<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| {
        to_py_err(
            py,
            Error::internal(format!("cannot encode a result as JSON: {e}")),
        )
    })
}

/// Maps a core result to a JSON string or the matching exception.
fn finish<T: serde::Serialize>(py: Python<'_>, result: idpkit::Result<T>) -> PyResult<String> {
    match result {
        Ok(v) => to_json(py, &v),
        Err(e) => Err(to_py_err(py, e)),
    }
}

/// A cancellation flag a build can be handed; `cancel()` may be called from any thread.
#[pyclass(module = "idpkit._idpkit", name = "CancelToken", frozen)]
struct PyCancelToken {
    token: CancelToken,
}

#[pymethods]
impl PyCancelToken {
    #[new]
    fn new() -> Self {
        PyCancelToken {
            token: CancelToken::new(),
        }
    }

    /// Asks every operation holding this token to stop at its next check point.
    fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    fn __repr__(&self) -> String {
        let cancelled = if self.cancelled() { "True" } else { "False" };
        format!("CancelToken(cancelled={cancelled})")
    }
}

/// The native store handle. Results are JSON documents; see `idpkit.Store` for the API.
#[pyclass(module = "idpkit._idpkit", name = "Store", frozen)]
struct PyStore {
    store: Store,
}

/// What a progress callback left behind: the first exception it raised.
type CallbackError = Arc<Mutex<Option<PyErr>>>;

/// Wraps a Python callable taking one JSON string as an event sink. The sink runs on the
/// build's worker threads and takes the interpreter lock for each call. When the callable
/// raises, the exception is kept, the build is cancelled and later events are dropped.
fn progress_sink(callback: Py<PyAny>, token: CancelToken, failed: CallbackError) -> EventSink {
    Arc::new(move |event: &Event| {
        if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
            return;
        }
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        Python::attach(|py| {
            if let Err(e) = callback.call1(py, (json,)) {
                if let Ok(mut slot) = failed.lock() {
                    slot.get_or_insert(e);
                }
                token.cancel();
            }
        });
    })
}

/// Runs `job` on a worker thread and waits for it without holding the interpreter lock,
/// checking for signals every `SIGNAL_POLL`. When a signal handler raises (Ctrl-C), cancels
/// `token`, waits for the worker to stop and returns that exception.
fn run_interruptible<T, F>(
    py: Python<'_>,
    token: &CancelToken,
    job: F,
) -> PyResult<idpkit::Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> idpkit::Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("idpkit-py".into())
        .spawn(move || {
            let _ = tx.send(job());
        })
        .map_err(|e| {
            to_py_err(
                py,
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start a worker thread: {e}"),
                ),
            )
        })?;
    let mut rx = rx;
    loop {
        // The receiver moves into and out of each slice: it is `Send` but not `Sync`.
        let (back, received) = py.detach(move || {
            let r = rx.recv_timeout(SIGNAL_POLL);
            (rx, r)
        });
        rx = back;
        match received {
            Ok(result) => {
                let _ = py.detach(|| worker.join());
                return Ok(result);
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    token.cancel();
                    let _ = py.detach(|| worker.join());
                    return Err(interrupt);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = py.detach(|| worker.join());
                return Ok(Err(Error::internal(
                    "the worker thread panicked; this is a bug in idpkit",
                )));
            }
        }
    }
}

/// `run_interruptible` for a call without progress events: `job` gets the token that
/// `cancel` (or a fresh one) and Ctrl-C raise.
fn run_cancellable<T, F>(
    py: Python<'_>,
    cancel: Option<&PyCancelToken>,
    job: F,
) -> PyResult<idpkit::Result<T>>
where
    T: Send + 'static,
    F: FnOnce(&CancelToken) -> idpkit::Result<T> + Send + 'static,
{
    let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
    let job_token = token.clone();
    run_interruptible(py, &token, move || job(&job_token))
}

/// A progress sink that cancels `token` when the callback raises (the error is kept and
/// raised after the call; later events are dropped).
fn cancelling_sink(
    progress: Option<Py<PyAny>>,
    token: &CancelToken,
) -> (Option<EventSink>, CallbackError) {
    let failed: CallbackError = Arc::new(Mutex::new(None));
    let sink = progress.map(|cb| progress_sink(cb, token.clone(), failed.clone()));
    (sink, failed)
}

/// The callback's exception if it raised, else the call's result.
fn finish_with_callback<T: serde::Serialize>(
    py: Python<'_>,
    failed: &CallbackError,
    result: idpkit::Result<T>,
) -> PyResult<String> {
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    finish(py, result)
}

/// The arguments every registry call shares, passed as one Python tuple
/// `(options, username, password, token, progress, cancel)` (`idpkit._util._call_args` builds
/// it): `options` is a JSON object of `RegistryOptions` fields; the credentials cross beside
/// it, never inside it, so a malformed document cannot echo them into an error message.
///
/// Deliberately not `Debug`: the password and token must never be formatted.
#[derive(FromPyObject)]
struct RegistryCall(
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Py<PyAny>>,
    Option<Py<PyCancelToken>>,
);

impl RegistryCall {
    /// Runs a cancellable registry operation: the options and credentials make the
    /// `RegistryOptions`, `cancel` (or a fresh token) is wired into them, the call runs on a
    /// worker thread so Ctrl-C cancels it, and a raising progress callback cancels it and is
    /// re-raised.
    fn run<T, F>(self, py: Python<'_>, job: F) -> PyResult<String>
    where
        T: serde::Serialize + Send + 'static,
        F: FnOnce(&RegistryOptions, Option<&EventSink>) -> idpkit::Result<T> + Send + 'static,
    {
        let RegistryCall(options, username, password, token, progress, cancel) = self;
        let mut opts: RegistryOptions = serde_json::from_str(&options)
            .map_err(|e| to_py_err(py, Error::invalid(format!("registry options: {e}"))))?;
        opts.credential =
            Credential::from_arguments(username, password, token, "the credential arguments")
                .map_err(|e| to_py_err(py, e))?;
        let cancel = cancel.map(|c| c.get().token.clone()).unwrap_or_default();
        opts.cancel = Some(cancel.clone());
        let (sink, failed) = cancelling_sink(progress, &cancel);
        let r = run_interruptible(py, &cancel, move || job(&opts, sink.as_ref()))?;
        finish_with_callback(py, &failed, r)
    }
}

/// Trust options from a JSON object of `TrustOptions` fields.
fn trust_options(py: Python<'_>, options: &str) -> PyResult<TrustOptions> {
    serde_json::from_str(options)
        .map_err(|e| to_py_err(py, Error::invalid(format!("trust options: {e}"))))
}

/// Cluster options from a JSON object of `ClusterOptions` fields.
fn cluster_options(py: Python<'_>, options: &str) -> PyResult<ClusterOptions> {
    serde_json::from_str(options)
        .map_err(|e| to_py_err(py, Error::invalid(format!("cluster options: {e}"))))
}

#[pymethods]
impl PyStore {
    /// Opens (creating when missing or empty) the store at `path`, or the default store.
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let result = py.detach(|| match path {
            Some(p) => Store::open(p),
            None => Store::open_default(),
        });
        result
            .map(|store| PyStore { store })
            .map_err(|e| to_py_err(py, e))
    }

    /// The store's root directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.store.root().to_path_buf()
    }

    /// Builds an image; `options` is a JSON object of `BuildOptions` fields (without
    /// `context`). `progress` is called with each event as a JSON string.
    #[pyo3(signature = (context, options, progress=None, cancel=None))]
    fn build(
        &self,
        py: Python<'_>,
        context: PathBuf,
        options: &str,
        progress: Option<Py<PyAny>>,
        cancel: Option<&PyCancelToken>,
    ) -> PyResult<String> {
        let mut opts: BuildOptions = serde_json::from_str(options)
            .map_err(|e| to_py_err(py, Error::invalid(format!("build options: {e}"))))?;
        opts.context = context;
        let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
        let (sink, failed) = cancelling_sink(progress, &token);
        let store = self.store.clone();
        let job_token = token.clone();
        let result = run_interruptible(py, &token, move || {
            store.build(&opts, sink.as_ref(), Some(&job_token))
        })?;
        finish_with_callback(py, &failed, result)
    }

    /// Every image: a JSON array of `ImageSummary`.
    fn images(&self, py: Python<'_>) -> PyResult<String> {
        let r = py.detach(|| self.store.images());
        finish(py, r)
    }

    /// Points `target` at the image `source` names: a JSON `ImageSummary`.
    fn tag(&self, py: Python<'_>, source: &str, target: &str) -> PyResult<String> {
        let (source, target) = (source.to_owned(), target.to_owned());
        let r = py.detach(|| self.store.tag(&source, &target));
        finish(py, r)
    }

    /// Removes a tag or every entry of a digest: a JSON array of what was removed.
    fn remove(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let reference = reference.to_owned();
        let r = py.detach(|| self.store.remove(&reference));
        finish(py, r)
    }

    /// The manifest and config of an image: a JSON `ImageInspect`.
    fn inspect(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let reference = reference.to_owned();
        let r = py.detach(|| self.store.inspect(&reference));
        finish(py, r)
    }

    /// Deletes unreachable blobs: a JSON `GcReport`.
    fn gc(&self, py: Python<'_>) -> PyResult<String> {
        let r = py.detach(|| self.store.gc());
        finish(py, r)
    }

    /// Copies images from an OCI layout into the store: a JSON array of `ImageSummary`.
    #[pyo3(signature = (layout, tag=None, name=None))]
    fn import_layout(
        &self,
        py: Python<'_>,
        layout: PathBuf,
        tag: Option<String>,
        name: Option<String>,
    ) -> PyResult<String> {
        let r = py.detach(|| self.store.import(&layout, tag.as_deref(), name.as_deref()));
        finish(py, r)
    }

    /// Copies one image into an OCI layout: a JSON `ImageSummary`.
    #[pyo3(signature = (reference, layout, tag=None))]
    fn export(
        &self,
        py: Python<'_>,
        reference: &str,
        layout: PathBuf,
        tag: Option<String>,
    ) -> PyResult<String> {
        let reference = reference.to_owned();
        let r = py.detach(|| self.store.export(&reference, &layout, tag.as_deref()));
        finish(py, r)
    }

    /// Pushes an image of the store to a registry: a JSON `PushResult`. Interruptible like
    /// `build`.
    fn push(
        &self,
        py: Python<'_>,
        source: String,
        destination: Option<String>,
        call: RegistryCall,
    ) -> PyResult<String> {
        let store = self.store.clone();
        call.run(py, move |opts, sink| {
            store.push(&source, destination.as_deref(), opts, sink)
        })
    }

    /// Pulls an image from a registry into the store: a JSON `PullResult`. Interruptible.
    fn pull(&self, py: Python<'_>, reference: String, call: RegistryCall) -> PyResult<String> {
        let store = self.store.clone();
        call.run(py, move |opts, sink| store.pull(&reference, opts, sink))
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.store.root())
    }
}

/// Tags of a repository (`host[:port]/path`): a JSON array of strings. Interruptible.
#[pyfunction]
fn list_tags(py: Python<'_>, repository: String, call: RegistryCall) -> PyResult<String> {
    call.run(py, move |opts, sink| {
        registry::list_tags(&repository, opts, sink)
    })
}

/// Copies an image between repositories or registries: a JSON `PushResult`. Interruptible.
#[pyfunction]
#[pyo3(name = "copy")]
fn registry_copy(
    py: Python<'_>,
    source: String,
    destination: String,
    call: RegistryCall,
) -> PyResult<String> {
    call.run(py, move |opts, sink| {
        registry::copy(&source, &destination, opts, sink)
    })
}

/// Repositories of a registry (`host[:port]`): a JSON array of strings. Interruptible.
#[pyfunction]
fn catalog(py: Python<'_>, registry: String, call: RegistryCall) -> PyResult<String> {
    call.run(py, move |opts, sink| {
        registry::catalog(&registry, opts, sink)
    })
}

/// Deletes a manifest by tag or digest: the JSON string of the digest deleted. Interruptible.
#[pyfunction]
#[pyo3(name = "delete")]
fn registry_delete(py: Python<'_>, reference: String, call: RegistryCall) -> PyResult<String> {
    call.run(py, move |opts, sink| {
        registry::delete(&reference, opts, sink)
    })
}

/// Checks `username`/`password` against a registry and stores them (Docker's format): a JSON
/// `LoginResult`. Interruptible. The password is an argument of its own, never JSON; these
/// credentials replace any `call` carries.
#[pyfunction]
fn login(
    py: Python<'_>,
    registry: String,
    username: String,
    password: String,
    call: RegistryCall,
) -> PyResult<String> {
    call.run(py, move |opts, sink| {
        registry::login(&registry, &username, &password, opts, sink)
    })
}

/// `login` with Gitea's credentials read from the cluster `cluster` (JSON `ClusterOptions`)
/// names: a JSON `LoginResult`. The secret never leaves the core. Interruptible once the
/// Secret is read.
#[pyfunction]
fn login_from_cluster(
    py: Python<'_>,
    registry: String,
    cluster: &str,
    call: RegistryCall,
) -> PyResult<String> {
    let cluster = cluster_options(py, cluster)?;
    call.run(py, move |opts, sink| {
        registry::login_from_cluster(&registry, &cluster, opts, sink)
    })
}

/// Removes the stored credentials of a registry: JSON `true`, or `false` when there were none.
#[pyfunction]
fn logout(py: Python<'_>, registry: &str) -> PyResult<String> {
    let reg = registry.to_owned();
    let r = py.detach(|| registry::logout(&reg));
    finish(py, r)
}

/// Handshakes with `host[:port]` and reports the chain and the verdict: a JSON `TrustReport`.
/// `options` is a JSON object of `TrustOptions` fields. `cancel` or Ctrl-C stops it.
#[pyfunction]
#[pyo3(signature = (host, options, cancel=None))]
fn trust_check(
    py: Python<'_>,
    host: &str,
    options: &str,
    cancel: Option<&PyCancelToken>,
) -> PyResult<String> {
    let opts = trust_options(py, options)?;
    let host = host.to_owned();
    let r = run_cancellable(py, cancel, move |token| {
        trust::check(&host, &opts, Some(token))
    })?;
    finish(py, r)
}

/// Installs `ca_file` as the CA of `host` in a certs.d root: the JSON string of the path
/// written.
#[pyfunction]
#[pyo3(signature = (host, ca_file, certs_d=None))]
fn trust_add(
    py: Python<'_>,
    host: &str,
    ca_file: PathBuf,
    certs_d: Option<PathBuf>,
) -> PyResult<String> {
    let host = host.to_owned();
    let r = py.detach(|| trust::add(&host, &ca_file, certs_d.as_deref()));
    finish(py, r)
}

/// Reads the cluster's CA (JSON `ClusterOptions`) and installs it: a JSON `ExtractResult`.
/// `cancel` or Ctrl-C stops it before anything is installed.
#[pyfunction]
#[pyo3(signature = (cluster, cancel=None))]
fn extract_ca(py: Python<'_>, cluster: &str, cancel: Option<&PyCancelToken>) -> PyResult<String> {
    let opts = cluster_options(py, cluster)?;
    let r = run_cancellable(py, cancel, move |token| {
        trust::extract_ca(&opts, Some(token))
    })?;
    finish(py, r)
}

/// The core's `ClusterOptions::default()` as JSON.
#[pyfunction]
fn default_cluster_options(py: Python<'_>) -> PyResult<String> {
    to_json(py, &ClusterOptions::default())
}

/// The core's `RegistryOptions::default()` as JSON (credentials left out).
#[pyfunction]
fn default_registry_options(py: Python<'_>) -> PyResult<String> {
    to_json(py, &RegistryOptions::default())
}

/// The core's `BuildOptions::default()` as JSON, so the Python layer's defaults are checked
/// against the core's.
#[pyfunction]
fn default_build_options(py: Python<'_>) -> PyResult<String> {
    to_json(py, &BuildOptions::default())
}

/// The native half of the `idpkit` package; import `idpkit` instead.
#[pymodule]
mod _idpkit {
    use super::*;

    #[pymodule_export]
    use super::{
        catalog, default_build_options, default_cluster_options, default_registry_options,
        extract_ca, list_tags, login, login_from_cluster, logout, registry_copy, registry_delete,
        trust_add, trust_check, PyCancelToken, PyStore,
    };

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("VERSION", idpkit::VERSION)?;
        let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        m.add("ERROR_KINDS", codes)?;
        m.add("VERDICTS", Verdict::ALL.map(Verdict::code).to_vec())?;
        m.add("DEFAULT_GITEA_HOST", trust::DEFAULT_GITEA_HOST)?;
        Ok(())
    }
}
