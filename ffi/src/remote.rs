//! Registry calls that need no store: copy between repositories or registries, the
//! catalog, and delete.

use crate::boundary::{guard, idpkit_result};
use crate::cancel::idpkit_cancel;
use crate::error::idpkit_error;
use crate::registry::RegistryCall;
use crate::store::{check_out, idpkit_event_callback, write_out};
use crate::strings::{arg_str, string_out};
use idpkit::registry;
use std::ffi::{c_char, c_void};

/// Copies the image `source` (`host[:port]/repo:tag` or `...@sha256:...`) to `destination`.
/// Within one registry (a re-tag included) blobs are mounted or already there, so only
/// manifests move; across registries the image streams through a temporary store (an
/// image index resolves to the `platform` option then). Blocks until done.
///
/// `options_json`, `username`, `password` (the destination's; across registries the source is
/// read with its own stored login, never these), `callback`,
/// `user_data` and `cancel` are as for `idpkit_store_push`. On success `*result_json_out`
/// receives a `PushResult` JSON object (`reference`, `digest`, `blobs_uploaded`,
/// `blobs_skipped`, `blobs_mounted`, `bytes_uploaded`, `unchanged`); free it with
/// `idpkit_string_free`. Needs no store.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND` (the source), `AUTH`, `UNTRUSTED`,
/// `POLICY`, `NETWORK`, `INTEGRITY`, `CANCELLED`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_registry_copy(
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
        let source = arg_str(source, "source")?;
        let destination = arg_str(destination, "destination")?;
        RegistryCall::new(options_json, username, password)?
            .cancel(cancel)
            .events(callback, user_data)
            .json_into(result_json_out, |opts, sink| {
                registry::copy(source, destination, opts, sink)
            })
    })
}

/// Lists the repositories of `registry` (`host[:port]`) from `/v2/_catalog`, following the
/// registry's pagination. `options_json`, `username` and `password` are as for
/// `idpkit_store_push`; like `idpkit_registry_list_tags` it takes no `idpkit_cancel`.
/// On success `*repositories_json_out` receives a JSON array of strings; free it with
/// `idpkit_string_free`. Blocks until done.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `AUTH`, `UNTRUSTED`, `POLICY` (the registry
/// does not offer a catalog), `NETWORK`.
#[no_mangle]
pub extern "C" fn idpkit_registry_catalog(
    registry: *const c_char,
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
    repositories_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(repositories_json_out, "repositories_json_out")?;
        let registry_arg = arg_str(registry, "registry")?;
        RegistryCall::new(options_json, username, password)?
            .json_into(repositories_json_out, |opts, _| {
                registry::catalog(registry_arg, opts, None)
            })
    })
}

/// Deletes the manifest `reference` names (by tag or `@sha256:` digest) from its registry.
/// `options_json`, `username` and `password` are as for `idpkit_store_push`. On success
/// `*digest_out` receives the digest deleted (`sha256:...`, a plain string; free it with
/// `idpkit_string_free`). Blocks until done.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND` (no such tag or digest), `AUTH`,
/// `UNTRUSTED`, `POLICY` (the registry does not allow deletes), `NETWORK`.
#[no_mangle]
pub extern "C" fn idpkit_registry_delete(
    reference: *const c_char,
    options_json: *const c_char,
    username: *const c_char,
    password: *const c_char,
    digest_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(digest_out, "digest_out")?;
        let reference = arg_str(reference, "reference")?;
        let digest = RegistryCall::new(options_json, username, password)?
            .run(|opts, _| registry::delete(reference, opts, None))?;
        write_out(digest_out, string_out(&digest, "digest")?);
        Ok(())
    })
}
