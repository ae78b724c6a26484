//! Node bindings of idpkit (napi-rs): the native half.
//!
//! It knows no operation by name. `call` runs any operation of the call contract
//! (`idpkit::ops::invoke`) as an `AsyncTask` on libuv's thread pool, so the event loop keeps
//! turning; the options cross as the contract's JSON and the result comes back as JSON. The
//! typed JavaScript surface (`index.js`, `index.d.ts`) is generated from
//! `contract/idpkit.json` by `scripts/gen.mjs`, and `runtime.js` turns its camelCase
//! arguments into this call.
//!
//! What is not data travels beside the JSON: credentials (so a secret is never part of an
//! options document or a message), progress events (a threadsafe function called on the event
//! loop) and an `AbortSignal` (its `abort` cancels the core's `CancelToken`).
//!
//! Errors are JavaScript `Error`s whose `code` is the core's `ErrorKind` code
//! (`'NOT_FOUND'`, `'INVALID_INPUT'`, `'CANCELLED'`, ...) and whose message is the core's.

use idpkit::registry::Credential;
use idpkit::{CancelToken, Event, EventSink};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The idpkit version (the core library's).
#[napi]
#[allow(non_upper_case_globals)]
pub const version: &str = idpkit::VERSION;

/// A JavaScript `Error` with `code` set to the kind's code and the core's message.
fn js_error(env: &Env, e: idpkit::Error) -> napi::Error {
    let err = napi::Error::new(e.kind.code().to_string(), e.message);
    napi::Error::from(JsError::from(err).into_unknown(*env))
}

/// A local OCI image-layout store (the handle `call` takes for store operations).
#[napi(js_name = "Store")]
pub struct NativeStore {
    inner: idpkit::Store,
}

#[napi]
impl NativeStore {
    /// Opens the store at `path` (created when missing or empty); without `path`, the default
    /// store. Throws with `code` `'INVALID_INPUT'` when `path` is not a store.
    #[napi(constructor)]
    pub fn new(env: Env, path: Option<String>) -> napi::Result<Self> {
        match path {
            Some(p) => idpkit::Store::open(p),
            None => idpkit::Store::open_default(),
        }
        .map(|inner| NativeStore { inner })
        .map_err(|e| js_error(&env, e))
    }

    /// The store's root directory.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.root().display().to_string()
    }
}

/// The secrets of one call. `runtime.js` has checked that each is a string or absent.
#[napi(object)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// The source registry's, for `copy`.
    pub source_username: Option<String>,
    pub source_password: Option<String>,
    pub source_token: Option<String>,
}

type EventFn = ThreadsafeFunction<Value, Unknown<'static>, Value, Status, false>;

/// Runs the operation `operation` with `optionsJson` (snake_case, the contract's JSON; `null`:
/// its defaults) and resolves to its result as JSON. Events go to `onEvent` (snake_case, as
/// the core serializes them); aborting `signal` cancels the call.
#[napi(ts_return_type = "Promise<string>")]
pub fn call(
    operation: String,
    store: Option<&NativeStore>,
    options_json: Option<String>,
    credentials: Option<Credentials>,
    #[napi(ts_arg_type = "((event: object) => void) | undefined | null")] on_event: Option<EventFn>,
    #[napi(ts_arg_type = "AbortSignal | undefined | null")] signal: Option<Object<'_>>,
) -> AsyncTask<CallTask> {
    let cancel = CancelToken::new();
    let mut task = CallTask {
        operation,
        store: store.map(|s| s.inner.clone()),
        options_json,
        call: idpkit::Call::new(),
        hook: None,
        early: None,
    };
    let sink = on_event.map(|tsfn| {
        let tsfn = Arc::new(tsfn);
        Arc::new(move |event: &Event| {
            if let Ok(v) = serde_json::to_value(event) {
                tsfn.call(v, ThreadsafeFunctionCallMode::NonBlocking);
            }
        }) as EventSink
    });
    let credentials = credentials.map_or(Ok((None, None)), |c| {
        Ok::<_, idpkit::Error>((
            Credential::from_arguments(c.username, c.password, c.token, "the credentials")?,
            Credential::from_arguments(
                c.source_username,
                c.source_password,
                c.source_token,
                "the source credentials",
            )?,
        ))
    });
    let watched = match signal {
        Some(s) => watch_signal(s, &cancel).map(|hook| task.hook = hook),
        None => Ok(()),
    };
    match credentials.and_then(|c| watched.map(|()| c)) {
        Ok((credential, source)) => {
            task.call = idpkit::Call::new()
                .with_sink(sink)
                .with_cancel(Some(cancel))
                .with_credential(credential)
                .with_source_credential(source);
        }
        Err(e) => task.early = Some(e),
    }
    AsyncTask::new(task)
}

/// One blocking core call, run on the libuv thread pool.
pub struct CallTask {
    operation: String,
    store: Option<idpkit::Store>,
    options_json: Option<String>,
    call: idpkit::Call,
    /// The listener this call added to the caller's `AbortSignal`, removed when it ends.
    hook: Option<SignalHook>,
    /// The arguments were already found wrong: reject with this error.
    early: Option<idpkit::Error>,
}

impl CallTask {
    fn run(&self) -> idpkit::Result<String> {
        if let Some(e) = &self.early {
            return Err(e.clone());
        }
        // A call whose signal was aborted before it started does nothing at all (no file
        // read, no connection), whatever the operation checks on its own.
        if let Some(cancel) = self.call.cancel() {
            cancel.check()?;
        }
        idpkit::ops::invoke(
            &self.operation,
            self.store.as_ref(),
            self.options_json.as_deref(),
            &self.call,
        )
    }
}

impl Task for CallTask {
    type Output = idpkit::Result<String>;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| self.run())).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(idpkit::Error::internal(format!(
                "idpkit panicked: {msg}; this is a bug, please report it"
            )))
        });
        Ok(out)
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<String> {
        // Release the event callback and the abort listener now, on the JS thread.
        self.call = idpkit::Call::new();
        if let Some(hook) = self.hook.take() {
            hook.remove(&env);
        }
        output.map_err(|e| js_error(&env, e))
    }
}

/// `signal`: aborting it cancels the core's token; an already-aborted signal cancels at once.
/// The listener is added with `addEventListener` (the caller's own `onabort` and other
/// listeners stay), and removed when the call ends (`SignalHook`), so a long-lived signal
/// shared by many calls does not collect one listener per call.
fn watch_signal(signal: Object<'_>, cancel: &CancelToken) -> idpkit::Result<Option<SignalHook>> {
    let invalid = |e: napi::Error| idpkit::Error::invalid(format!("`signal`: {}", e.reason));
    let aborted = signal.get::<bool>("aborted").ok().flatten();
    let add = signal
        .get::<Function<FnArgs<(String, Function<(), ()>)>, ()>>("addEventListener")
        .ok()
        .flatten();
    let (Some(aborted), Some(add)) = (aborted, add) else {
        return Err(idpkit::Error::invalid("`signal`: expected an AbortSignal"));
    };
    if aborted {
        cancel.cancel();
        return Ok(None);
    }
    let env = Env::from_raw(signal.value().env);
    let token = cancel.clone();
    let listener = env
        .create_function_from_closure::<(), (), _>("idpkitAbort", move |_| {
            token.cancel();
            Ok(())
        })
        .map_err(invalid)?;
    add.apply(signal, ("abort".to_string(), listener).into())
        .map_err(invalid)?;
    Ok(Some(SignalHook {
        signal: signal.create_ref().map_err(invalid)?,
        listener: listener.create_ref().map_err(invalid)?,
    }))
}

/// A listener one call added to the caller's `AbortSignal`.
pub struct SignalHook {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

impl SignalHook {
    /// Removes the listener (on the JS thread, when the call ends) and drops the references.
    fn remove(self, env: &Env) {
        if let (Ok(signal), Ok(listener)) =
            (self.signal.get_value(env), self.listener.borrow_back(env))
        {
            if let Ok(Some(remove)) = signal
                .get::<Function<FnArgs<(String, Function<(), ()>)>, ()>>("removeEventListener")
            {
                let _ = remove.apply(signal, ("abort".to_string(), listener).into());
            }
        }
        let _ = self.signal.unref(env);
    }
}
