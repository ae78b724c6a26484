//! The JVM bindings of idpkit (Kotlin and Java), as a uniffi component: the native half.
//!
//! Like the Python and Node extensions this crate is deliberately small: one function,
//! [`call`], runs any operation of the core's call contract (`idpkit::ops::invoke`) by name
//! with its options and result as JSON documents. The typed Kotlin surface (options and
//! result classes, the `Event` hierarchy, one blocking and one `suspend` function per
//! operation, the exception per error kind) is generated from `contract/idpkit.json` by
//! `gen.py`, so an operation or a field added in core needs no change here.
//!
//! What is not data crosses as arguments of its own: the credentials (a record, never put
//! into the options JSON), the event listener (a foreign trait the Kotlin side implements)
//! and the cancel handle (an object wrapping the core's `CancelToken`).
//!
//! Events end with the call: the listener is closed before [`call`] returns, waiting for an
//! event being delivered, and whatever a background task of the call emits later is dropped.

use idpkit::registry::Credential;
use idpkit::{Call, CancelToken, Error, ErrorKind, Event, EventSink, Store};
use std::fmt;
use std::sync::{Arc, Mutex};

uniffi::setup_scaffolding!();

/// A failed call: the error kind's stable code (`NOT_FOUND`, `AUTH`, ...: `ErrorKind::code`,
/// the same codes as C, Go, Python and Node) and the core's message. The Kotlin layer turns
/// it into the `IdpkitException` subclass of the kind.
#[derive(Debug, uniffi::Error)]
pub enum CallError {
    Failed { code: String, detail: String },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CallError::Failed { code, detail } = self;
        write!(f, "idpkit {code}: {detail}")
    }
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Failed {
            code: e.kind.code().to_string(),
            detail: e.message,
        }
    }
}

/// The secrets of one call: a username and password (a Gitea token works as the password)
/// or a token for the registry the operation talks to, and the same for the source registry
/// of `copy`. All unset: credentials are looked up (stored login, environment).
#[derive(uniffi::Record)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub source_username: Option<String>,
    pub source_password: Option<String>,
    pub source_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "-" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("token", &set(&self.token))
            .field("source_username", &self.source_username)
            .field("source_password", &set(&self.source_password))
            .field("source_token", &set(&self.source_token))
            .finish()
    }
}

/// Receives each event of a call as a JSON document (`{"type": "blob_done", ...}`; the
/// contract's `Event`). Called from the call's worker threads, one event at a time, and only
/// before the call returns. It must not call idpkit (such a call fails with `CONFLICT`).
#[uniffi::export(foreign)]
pub trait EventListener: Send + Sync {
    fn on_event(&self, event_json: String);
}

/// A cancellation flag: `cancel()`, from any thread, stops every call holding it at its next
/// check point with `CANCELLED` (at once when it was raised before the call).
#[derive(uniffi::Object, Default)]
pub struct CancelHandle {
    token: CancelToken,
}

#[uniffi::export]
impl CancelHandle {
    #[uniffi::constructor]
    pub fn new() -> Self {
        CancelHandle::default()
    }

    /// Asks every call holding this handle to stop.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether `cancel()` was called.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The listener behind a call's sink: delivers one event at a time while the call runs and
/// nothing once [`Gate::close`] ran (which waits for a delivery in progress).
struct Gate {
    listener: Arc<dyn EventListener>,
    open: Mutex<bool>,
}

impl Gate {
    fn deliver(&self, event: &Event) {
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if *open {
            self.listener.on_event(json);
        }
    }

    fn close(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = false;
    }
}

/// Opens the store at `path` (creating an empty OCI image layout when the directory is
/// missing or empty), or the default store (`$IDPKIT_STORE`, else the XDG data directory),
/// and returns its root: the path the Kotlin `Store` then passes to every [`call`], as
/// Python's and Node's `Store` keep the handle they opened.
#[uniffi::export]
pub fn store_open(path: Option<String>) -> Result<String, CallError> {
    let store = match path {
        Some(p) => Store::open(p)?,
        None => Store::open_default()?,
    };
    Ok(store.root().to_string_lossy().into_owned())
}

/// Runs the operation `operation` of the call contract and returns its result as JSON.
///
/// `store_path` is the store of a store operation (`build` ... `pull`; from `store_open`),
/// `None` for the others. `options_json` is a JSON object of the operation's options (`None`:
/// its defaults), parsed strictly by the core: an unknown or mistyped field is
/// `INVALID_INPUT` naming it. `credentials` are the call's secrets, `listener` receives its
/// events, `cancel` stops it. Blocks until the operation ends; call it off the main thread.
#[uniffi::export]
pub fn call(
    operation: String,
    store_path: Option<String>,
    options_json: Option<String>,
    credentials: Option<Credentials>,
    listener: Option<Arc<dyn EventListener>>,
    cancel: Option<Arc<CancelHandle>>,
) -> Result<String, CallError> {
    let (credential, source_credential) = match credentials {
        None => (None, None),
        Some(c) => (
            Credential::from_arguments(c.username, c.password, c.token, "the credentials")?,
            Credential::from_arguments(
                c.source_username,
                c.source_password,
                c.source_token,
                "the source credentials",
            )?,
        ),
    };
    let store = store_path.map(Store::open).transpose()?;
    let gate = listener.map(|listener| {
        Arc::new(Gate {
            listener,
            open: Mutex::new(true),
        })
    });
    let sink = gate.clone().map(|g| {
        let sink: EventSink = Arc::new(move |e: &Event| g.deliver(e));
        sink
    });
    let call = Call::new()
        .with_sink(sink)
        .with_cancel(cancel.map(|c| c.token.clone()))
        .with_credential(credential)
        .with_source_credential(source_credential);
    let result = idpkit::ops::invoke(&operation, store.as_ref(), options_json.as_deref(), &call);
    if let Some(g) = &gate {
        g.close();
    }
    Ok(result?)
}

/// The idpkit version of the native library (the Kotlin layer checks it against the version
/// of the contract it was generated from).
#[uniffi::export]
pub fn version() -> String {
    idpkit::VERSION.to_string()
}

/// The error kinds' codes, in the core's order (a test compares them with the generated
/// exception classes).
#[uniffi::export]
pub fn error_kinds() -> Vec<String> {
    ErrorKind::ALL
        .iter()
        .map(|k| k.code().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counter(AtomicUsize);
    impl EventListener for Counter {
        fn on_event(&self, _: String) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn event() -> Event {
        Event::InsecureConnection {
            host: "h".into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn a_closed_gate_delivers_nothing() {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let gate = Gate {
            listener: counter.clone(),
            open: Mutex::new(true),
        };
        gate.deliver(&event());
        gate.close();
        gate.deliver(&event());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn errors_carry_the_kind_code() {
        let err = call("no_such_operation".into(), None, None, None, None, None).unwrap_err();
        let CallError::Failed { code, detail } = err;
        assert_eq!(code, "INVALID_INPUT");
        assert!(detail.contains("no_such_operation"), "{detail}");
    }

    #[test]
    fn a_cancelled_handle_stops_the_call() {
        let dir = std::env::temp_dir().join(format!("idpkit-uniffi-{}", std::process::id()));
        let store = store_open(Some(dir.join("store").to_string_lossy().into())).unwrap();
        std::fs::create_dir_all(dir.join("ctx")).unwrap();
        std::fs::write(dir.join("ctx/a.txt"), "a").unwrap();
        let cancel = Arc::new(CancelHandle::new());
        cancel.cancel();
        let options = serde_json::json!({"context": dir.join("ctx")}).to_string();
        let err = call(
            "build".into(),
            Some(store),
            Some(options),
            None,
            None,
            Some(cancel),
        )
        .unwrap_err();
        let CallError::Failed { code, .. } = err;
        assert_eq!(code, "CANCELLED");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn credentials_are_checked_and_never_shown() {
        let creds = Credentials {
            username: Some("u".into()),
            password: None,
            token: None,
            source_username: None,
            source_password: Some("hunter2-secret".into()),
            source_token: None,
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        let err = call("images".into(), None, None, Some(creds), None, None).unwrap_err();
        let CallError::Failed { code, .. } = err;
        assert_eq!(code, "INVALID_INPUT");
    }
}
