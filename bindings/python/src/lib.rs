//! Python bindings of idpkit (PyO3): the native half of the `idpkit` package.
//!
//! This module is deliberately small and private (`idpkit._idpkit`): one function, `call`,
//! runs any operation of the core's call contract (`idpkit::ops::invoke`) by name, with its
//! options and result as JSON documents. The typed Python surface (keyword signatures,
//! dataclasses, event types) is generated from `contract/idpkit.json` by `gen_types.py`, so
//! an operation or field added in core needs no change here.
//!
//! Threading: every call runs on a worker thread while the calling thread waits in short
//! slices without the interpreter lock and checks for signals, so Ctrl-C cancels the call
//! (through its `CancelToken`), waits for the worker to clean up and re-raises
//! `KeyboardInterrupt`.
//!
//! Secrets (passwords, tokens) cross as arguments of their own, never inside the options
//! JSON, so a malformed document cannot echo them into an error message.

use idpkit::registry::Credential;
use idpkit::trust::{self, Verdict};
use idpkit::{Call, CancelToken, Error, ErrorKind, Event, EventSink, Store};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a thread waiting for a call checks for Ctrl-C.
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

/// A cancellation flag a call can be handed; `cancel()` may be called from any thread.
// Shown (repr, tracebacks, pickling) as `idpkit.CancelToken`, where users import it from.
#[pyclass(module = "idpkit", name = "CancelToken", frozen)]
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

/// The native store handle; `idpkit.Store` wraps it and passes it to `call`.
#[pyclass(module = "idpkit._idpkit", name = "Store", frozen)]
struct PyStore {
    store: Store,
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

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.store.root())
    }
}

/// What a progress callback left behind: the first exception it raised.
type CallbackError = Arc<Mutex<Option<PyErr>>>;

/// Wraps a Python callable taking one JSON string as an event sink. The sink runs on the
/// call's worker threads and takes the interpreter lock for each event. When the callable
/// raises, the exception is kept, the call is cancelled and later events are dropped.
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
fn run_interruptible<F>(
    py: Python<'_>,
    token: &CancelToken,
    job: F,
) -> PyResult<idpkit::Result<String>>
where
    F: FnOnce() -> idpkit::Result<String> + Send + 'static,
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

/// Runs the operation `operation` of the call contract: `store` for the operations that need
/// one, `options_json` a JSON object of its options (parsed strictly by the core: an unknown
/// or mistyped field is an `InvalidInputError` naming it), the credentials as arguments of
/// their own (`username`+`password` or `token`; the `source_*` ones for the source of
/// `copy`), `on_event` called with each event as a JSON string, `cancel` to stop it. Returns
/// the result as JSON. Ctrl-C cancels it; an exception raised by `on_event` cancels it and
/// is raised instead of its result.
#[pyfunction]
#[pyo3(signature = (
    operation, store=None, options_json=None, username=None, password=None, token=None,
    source_username=None, source_password=None, source_token=None, on_event=None, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn call(
    py: Python<'_>,
    operation: String,
    store: Option<&PyStore>,
    options_json: Option<String>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    source_username: Option<String>,
    source_password: Option<String>,
    source_token: Option<String>,
    on_event: Option<Py<PyAny>>,
    cancel: Option<&PyCancelToken>,
) -> PyResult<String> {
    let credential = Credential::from_arguments(username, password, token, "the credential")
        .map_err(|e| to_py_err(py, e))?;
    let source_credential = Credential::from_arguments(
        source_username,
        source_password,
        source_token,
        "the source credential",
    )
    .map_err(|e| to_py_err(py, e))?;
    let cancel = cancel.map(|c| c.token.clone()).unwrap_or_default();
    let failed: CallbackError = Arc::new(Mutex::new(None));
    let sink = on_event.map(|cb| progress_sink(cb, cancel.clone(), failed.clone()));
    let call = Call::new()
        .with_sink(sink)
        .with_cancel(Some(cancel.clone()))
        .with_credential(credential)
        .with_source_credential(source_credential);
    let store = store.map(|s| s.store.clone());
    let result = run_interruptible(py, &cancel, move || {
        idpkit::ops::invoke(&operation, store.as_ref(), options_json.as_deref(), &call)
    })?;
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    result.map_err(|e| to_py_err(py, e))
}

/// The native half of the `idpkit` package; import `idpkit` instead.
#[pymodule]
mod _idpkit {
    use super::*;

    #[pymodule_export]
    use super::{call, PyCancelToken, PyStore};

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
