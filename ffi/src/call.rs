//! `idpkit_call`: every operation of the contract through one entry point, with its options
//! and result as JSON. The typed entries (`idpkit_push`, ...) are in `ops.rs`.

use crate::boundary::{guard, idpkit_result, Failure};
use crate::cancel::{idpkit_cancel, token_of};
use crate::credentials::{credentials_of, idpkit_credentials};
use crate::error::idpkit_error;
use crate::store::{check_out, idpkit_store, store_ref, write_out};
use crate::strings::{arg_str, opt_str, string_out};
use idpkit::{Call, Event, EventSink};
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex};

/// A progress callback: receives `user_data` as given and one event as a JSON document,
/// `{"type": "build_started" | "layer_progress" | "layer_cached" | "layer_done" |
/// "image_stored" | "warning", ...}` from a build, `{"type": "blob_started" | "blob_progress" |
/// "blob_done" | "blob_skipped" | "blob_mounted" | "manifest_pushed" | "retry_scheduled" |
/// "insecure_connection", ...}` from a push or pull (the core's `Event` shapes; new types
/// may be added: ignore the ones you do not know).
///
/// `event_json` is borrowed: valid only until the callback returns. The callback may run on
/// a thread other than the caller's, but never concurrently with itself for one call, and
/// only before the call that was given it returns. It must not unwind (throw) into idpkit.
pub type idpkit_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char)>;

/// The C callback plus its user data, callable from the core's worker threads.
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, *const c_char),
    user_data: *mut c_void,
    /// Serializes the calls (the core may emit from several threads).
    lock: Mutex<()>,
}

// SAFETY: the caller promises the callback and its user data may be used from another
// thread (documented on `idpkit_event_callback`); `lock` keeps the calls sequential.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

impl Callback {
    fn call(&self, event: &Event) {
        let Ok(text) = serde_json::to_string(event) else {
            return;
        };
        let Ok(text) = CString::new(text) else {
            return;
        };
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: a valid function pointer and user data given by the caller for this call.
        unsafe { (self.f)(self.user_data, text.as_ptr()) };
    }
}

/// The core's event sink calling `callback` (None when `callback` is NULL).
/// The core's event sink calling `callback` (None when `callback` is NULL).
fn event_sink(callback: idpkit_event_callback, user_data: *mut c_void) -> Option<EventSink> {
    callback.map(|f| {
        let cb = Callback {
            f,
            user_data,
            lock: Mutex::new(()),
        };
        Arc::new(move |e: &Event| cb.call(e)) as EventSink
    })
}

/// What every entry point shares: runs `operation` with the store (if any), the options, the
/// credentials, the callback and the cancel handle, and writes the result JSON.
#[allow(clippy::too_many_arguments)]
fn invoke_into(
    operation: &str,
    store: Option<*const idpkit_store>,
    options_json: *const c_char,
    credentials: *const idpkit_credentials,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
) -> Result<(), Failure> {
    check_out(result_json_out, "result_json_out")?;
    let store = match store {
        Some(p) => Some(store_ref(p)?),
        None => None,
    };
    let options = opt_str(options_json, "options_json")?;
    let (credential, source) = credentials_of(credentials);
    let call = Call::new()
        .with_sink(event_sink(callback, user_data))
        .with_cancel(token_of(cancel))
        .with_credential(credential)
        .with_source_credential(source);
    let result = idpkit::ops::invoke(operation, store, options, &call)?;
    // serde_json escapes NUL as \u0000: the text never contains a raw NUL.
    write_out(result_json_out, string_out(&result, "the result")?);
    Ok(())
}

/// [`invoke_into`] inside the panic boundary: the body of every typed entry (`store` is
/// `Some` for a store operation, whose handle must not be NULL).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    operation: &'static str,
    store: Option<*const idpkit_store>,
    options_json: *const c_char,
    credentials: *const idpkit_credentials,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        invoke_into(
            operation,
            store,
            options_json,
            credentials,
            callback,
            user_data,
            cancel,
            result_json_out,
        )
    })
}

/// Runs the operation named `operation` (`"push"`, `"list_tags"`, ...; the list and every
/// operation's options and result are in `contract/idpkit.json`).
///
/// `store` is the store of a store operation (`build` ... `pull`), NULL for the others.
/// `options_json` is a JSON object of the operation's options (NULL: its defaults); unknown
/// fields and wrong types are `INVALID_INPUT` naming the field. `credentials` (may be NULL:
/// looked up) holds the secrets, which never go through JSON. `callback` (may be NULL)
/// receives the call's events with `user_data`; `cancel` (may be NULL) stops it from another
/// thread with `CANCELLED`, at once when it was raised before the call. On success
/// `*result_json_out` receives the result as JSON; free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (unknown operation, bad options, no store for
/// a store operation), and whatever the operation fails with.
#[no_mangle]
pub extern "C" fn idpkit_call(
    operation: *const c_char,
    store: *const idpkit_store,
    options_json: *const c_char,
    credentials: *const idpkit_credentials,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        invoke_into(
            arg_str(operation, "operation")?,
            (!store.is_null()).then_some(store),
            options_json,
            credentials,
            callback,
            user_data,
            cancel,
            result_json_out,
        )
    })
}
