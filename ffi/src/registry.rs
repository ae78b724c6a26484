//! Registry calls: push, pull and tag listing over the OCI distribution protocol.

use crate::boundary::{guard, idpkit_result, Failure};
use crate::cancel::idpkit_cancel;
use crate::error::idpkit_error;
use crate::store::{
    check_out, event_sink, idpkit_event_callback, idpkit_store, store_ref, write_out,
};
use crate::strings::{arg_str, json_out, opt_str};
use idpkit::event::EventSink;
use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::Error;
use serde::Serialize;
use std::ffi::{c_char, c_void};

/// Where the credentials of a C call come from, as the core's messages name it.
const CREDENTIAL_SOURCE: &str = "the username and password arguments";

/// The core's `RegistryOptions` from `options_json` (NULL: the defaults; unknown fields
/// refused) plus the explicit credentials, which never pass through JSON.
fn registry_options(
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
) -> Result<RegistryOptions, Failure> {
    let mut opts: RegistryOptions = crate::strings::options_json(options_json, "options_json")?;
    let username = opt_str(username, "username")?;
    let password = opt_str(password, "password")?;
    opts.credential = match (username, password) {
        (None, None) => None,
        (Some(u), Some(p)) => Some(Credential::basic(u, p, CREDENTIAL_SOURCE)),
        _ => {
            return Err(Error::invalid(
                "give username and password together (both non-NULL), or neither",
            )
            .into())
        }
    };
    Ok(opts)
}

/// One registry call of the C ABI: the options and credentials it was given, the event
/// sink of its callback, and the redaction of its errors, so each entry point is only its
/// own arguments and the core function it calls.
pub(crate) struct RegistryCall {
    opts: RegistryOptions,
    sink: Option<EventSink>,
}

impl RegistryCall {
    /// `options_json` and explicit credentials, as `registry_options` reads them.
    pub(crate) fn new(
        options_json: *const c_char,
        username: *const c_char,
        password: *const c_char,
    ) -> Result<Self, Failure> {
        Ok(RegistryCall {
            opts: registry_options(options_json, username, password)?,
            sink: None,
        })
    }

    /// Hands `cancel` to the core (which fails at once with `CANCELLED` when it was raised
    /// before the call, and stops the call soon after it is raised during it).
    pub(crate) fn cancel(mut self, cancel: *const idpkit_cancel) -> Self {
        if let Some(token) = crate::cancel::token_of(cancel) {
            self.opts.cancel = Some(token);
        }
        self
    }

    /// Progress events go to `callback` with `user_data` (NULL callback: none).
    pub(crate) fn events(
        mut self,
        callback: idpkit_event_callback,
        user_data: *mut c_void,
    ) -> Self {
        self.sink = event_sink(callback, user_data);
        self
    }

    /// Runs `call` and hands back its value, with any secret of the call redacted from an
    /// error.
    pub(crate) fn run<T>(
        &self,
        call: impl FnOnce(&RegistryOptions, Option<&EventSink>) -> idpkit::Result<T>,
    ) -> Result<T, Failure> {
        call(&self.opts, self.sink.as_ref()).map_err(|e| redact(e, &self.opts).into())
    }

    /// `run`, then the value as JSON into `*out` (checked non-NULL by the caller).
    pub(crate) fn json_into<T: Serialize>(
        &self,
        out: *mut *mut c_char,
        call: impl FnOnce(&RegistryOptions, Option<&EventSink>) -> idpkit::Result<T>,
    ) -> Result<(), Failure> {
        let value = self.run(call)?;
        write_out(out, json_out(&value)?);
        Ok(())
    }
}

/// Belt and braces: the core already keeps secrets out of its messages; this makes sure no
/// message leaving the C ABI carries the password given to the call.
pub(crate) fn redact(e: Error, opts: &RegistryOptions) -> Error {
    match &opts.credential {
        Some(Credential::Basic { password, .. }) => redact_secret(e, password),
        _ => e,
    }
}

/// `e` with every occurrence of `secret` (when not empty) replaced by `<redacted>`.
pub(crate) fn redact_secret(mut e: Error, secret: &str) -> Error {
    if !secret.is_empty() && e.message.contains(secret) {
        e.message = e.message.replace(secret, "<redacted>");
    }
    e
}

/// Pushes the image `source` of the store to a registry, as `destination` (may be NULL:
/// `source` itself, which must then name a registry, `host[:port]/repo:tag`). Blobs the
/// registry has are skipped, the rest are uploaded in parallel. Blocks until done.
///
/// `options_json` (may be NULL: the defaults) is a JSON object of the core's
/// `RegistryOptions` fields: `ca_files`, `insecure_hosts`, `certs_d`, `no_platform_roots`,
/// `jobs`, `monolithic_max`, `chunk_size`, `attempts`, `backoff_base_ms`, `backoff_max_ms`,
/// `connect_timeout_secs`, `read_timeout_secs`, `retry_budget_secs`, `platform`,
/// `mount_from`; unknown fields are refused. `username` and `password` (both NULL, or both non-NULL) are the registry
/// credentials; when NULL they are looked up (`IDPKIT_REGISTRY_*`, Docker's config, ...).
/// Credentials never go through JSON and never appear in an error message or event.
/// `callback` (may be NULL) receives progress events (`blob_started`, `blob_progress`,
/// `blob_done`, `blob_skipped`, `blob_mounted`, `manifest_pushed`, `retry_scheduled`,
/// `insecure_connection`, ...) with `user_data`. `cancel` (may be NULL) stops the call from
/// another thread (or the callback) soon after `idpkit_cancel_cancel`, with `CANCELLED`; a
/// handle raised before the call makes it fail at once. Blobs already uploaded stay on the
/// registry; nothing half-written stays in the store. On success `*result_json_out` receives a
/// `PushResult` JSON object (`reference`, `digest`, `blobs_uploaded`, `blobs_skipped`,
/// `blobs_mounted`, `bytes_uploaded`, `unchanged`); free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (bad JSON, field or reference, a username
/// without a password), `NOT_FOUND` (`source`), `AUTH`, `UNTRUSTED`, `POLICY`, `NETWORK`,
/// `INTEGRITY`, `CANCELLED`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_push(
    store: *const idpkit_store,
    source: *const c_char,
    destination: *const c_char,
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let store = store_ref(store)?;
        let source = arg_str(source, "source")?;
        let destination = opt_str(destination, "destination")?;
        RegistryCall::new(options_json, username, password)?
            .cancel(cancel)
            .events(callback, user_data)
            .json_into(result_json_out, |opts, sink| {
                store.push(source, destination, opts, sink)
            })
    })
}

/// Pulls `reference` (`host[:port]/repo:tag` or `...@sha256:...`) from a registry into the
/// store, verifying every blob against its digest; an image index resolves to the manifest
/// of the `platform` option (default: this machine's). Blocks until done.
///
/// `options_json`, `username`, `password`, `callback`, `user_data` and `cancel` are as for
/// `idpkit_store_push` (events: `blob_started`, `blob_progress`, `blob_done`, ...). On
/// success `*result_json_out` receives a `PullResult` JSON object (`reference`, `digest`,
/// `index_digest` (null unless an index was resolved), `blobs_fetched`, `blobs_present`,
/// `bytes_fetched`); free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND` (the tag, digest or platform),
/// `AUTH`, `UNTRUSTED`, `POLICY`, `NETWORK`, `INTEGRITY`, `CANCELLED`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_pull(
    store: *const idpkit_store,
    reference: *const c_char,
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let store = store_ref(store)?;
        let reference = arg_str(reference, "reference")?;
        RegistryCall::new(options_json, username, password)?
            .cancel(cancel)
            .events(callback, user_data)
            .json_into(result_json_out, |opts, sink| {
                store.pull(reference, opts, sink)
            })
    })
}

/// Lists the tags of `repository` (`host[:port]/path`, no tag), following the registry's
/// pagination. `options_json`, `username` and `password` are as for `idpkit_store_push`.
/// It takes no `idpkit_cancel`: bound it with the `attempts` and timeout options.
/// On success `*tags_json_out` receives a JSON array of strings; free it with
/// `idpkit_string_free`. Needs no store. Blocks until done.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND` (the repository), `AUTH`,
/// `UNTRUSTED`, `POLICY`, `NETWORK`.
#[no_mangle]
pub extern "C" fn idpkit_registry_list_tags(
    repository: *const c_char,
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
    tags_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(tags_json_out, "tags_json_out")?;
        let repository = arg_str(repository, "repository")?;
        RegistryCall::new(options_json, username, password)?.json_into(tags_json_out, |opts, _| {
            registry::list_tags(repository, opts, None)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{idpkit_cancel_cancel, idpkit_cancel_free, idpkit_cancel_new, idpkit_error_free};
    use std::ffi::{CStr, CString};
    use std::ptr;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn message(err: *mut idpkit_error) -> String {
        let m = unsafe { CStr::from_ptr(crate::idpkit_error_message(err)) };
        m.to_str().unwrap().to_string()
    }

    #[test]
    fn options_are_checked_before_any_network() {
        let repo = c("127.0.0.1:9/a/b");
        // (options, username, password, expected message part)
        let cases = [
            (r#"{"job": 2}"#, None, None, "unknown field `job`"),
            (r#"{"jobs": "many"}"#, None, None, "options_json"),
            ("[1]", None, None, "expected a JSON object"),
            (r#"{"password": "x"}"#, None, None, "separate arguments"),
            ("{}", Some("u"), None, "username and password together"),
            ("{}", None, Some("p"), "username and password together"),
        ];
        for (json, user, pass, want) in cases {
            let json = c(json);
            let user = user.map(c);
            let pass = pass.map(c);
            let mut out = ptr::null_mut();
            let mut err = ptr::null_mut();
            let r = idpkit_registry_list_tags(
                repo.as_ptr(),
                json.as_ptr(),
                user.as_ref().map_or(ptr::null(), |u| u.as_ptr()),
                pass.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                &mut out,
                &mut err,
            );
            assert_eq!(r, idpkit_result::InvalidInput, "{want}");
            assert!(out.is_null());
            assert!(message(err).contains(want), "{}", message(err));
            idpkit_error_free(err);
        }
        // Every field of the default is accepted.
        let all = c(&serde_json::to_string(&RegistryOptions::default()).unwrap());
        assert!(registry_options(all.as_ptr(), ptr::null(), ptr::null()).is_ok());
    }

    #[test]
    fn password_never_in_messages_and_a_raised_cancel_fails_at_once() {
        let dir = std::env::temp_dir().join(format!("idpkit-ffi-reg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = c(dir.to_str().unwrap());
        let mut store = ptr::null_mut();
        assert_eq!(
            crate::idpkit_store_new(path.as_ptr(), &mut store, ptr::null_mut()),
            idpkit_result::Ok
        );
        let reference = c("127.0.0.1:9/a/b:1");
        let opts = c(r#"{"attempts": 1, "connect_timeout_secs": 1}"#);
        let (user, pass) = (c("u"), c("hunter2-secret"));

        let cancel = idpkit_cancel_new();
        idpkit_cancel_cancel(cancel);
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        let r = idpkit_store_pull(
            store,
            reference.as_ptr(),
            opts.as_ptr(),
            user.as_ptr(),
            pass.as_ptr(),
            None,
            ptr::null_mut(),
            cancel,
            &mut out,
            &mut err,
        );
        assert_eq!(r, idpkit_result::Cancelled);
        idpkit_error_free(err);
        idpkit_cancel_free(cancel);

        let mut err = ptr::null_mut();
        let r = idpkit_store_pull(
            store,
            reference.as_ptr(),
            opts.as_ptr(),
            user.as_ptr(),
            pass.as_ptr(),
            None,
            ptr::null_mut(),
            ptr::null(),
            &mut out,
            &mut err,
        );
        assert_eq!(r, idpkit_result::Network);
        assert!(!message(err).contains("hunter2"), "{}", message(err));
        idpkit_error_free(err);

        // A password echoed by a peer is redacted.
        let o = RegistryOptions {
            credential: Some(Credential::basic("u", "hunter2", "t")),
            ..RegistryOptions::default()
        };
        let e = redact(Error::invalid("peer said hunter2 is wrong"), &o);
        assert_eq!(e.message, "peer said <redacted> is wrong");

        crate::idpkit_store_free(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
