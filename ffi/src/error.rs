//! `idpkit_error`: what a failed call leaves in its `err_out` parameter.

use crate::boundary::{guard_infallible, idpkit_result};
use std::ffi::{c_char, CString};

/// The details of a failure: a result code and a human-readable UTF-8 message that says
/// what failed, where, and what to do.
///
/// Created by the library (in an `err_out` parameter), owned by the caller, freed with
/// `idpkit_error_free`. Immutable: the accessors may be called from any thread.
pub struct idpkit_error {
    code: idpkit_result,
    message: CString,
}

impl idpkit_error {
    pub(crate) fn boxed(code: idpkit_result, message: &str) -> *mut idpkit_error {
        // A message never contains NUL in practice; replace one rather than lose the error.
        let message = CString::new(message.replace('\0', "\u{fffd}"))
            .unwrap_or_else(|_| CString::from(c"idpkit: error message unavailable"));
        Box::into_raw(Box::new(idpkit_error { code, message }))
    }
}

/// The result code of `err` (one of `idpkit_result`, never `IDPKIT_RESULT_OK`): the same
/// value the failed call returned.
///
/// Returns `IDPKIT_RESULT_NULL_ARGUMENT` when `err` is NULL. Never fails.
#[no_mangle]
pub extern "C" fn idpkit_error_result(err: *const idpkit_error) -> idpkit_result {
    guard_infallible(idpkit_result::Panic, || {
        if err.is_null() {
            return idpkit_result::NullArgument;
        }
        // SAFETY: a non-NULL `err` came from this library and was not freed (documented).
        unsafe { (*err).code }
    })
}

/// The stable upper-case code of `err` (`"NOT_FOUND"`, `"CANCELLED"`, ...), as
/// `idpkit_result_name` gives it.
///
/// Returns a static string that must not be freed (`"NULL_ARGUMENT"` for a NULL `err`).
#[no_mangle]
pub extern "C" fn idpkit_error_code(err: *const idpkit_error) -> *const c_char {
    crate::boundary::idpkit_result_name(idpkit_error_result(err) as u32)
}

/// The message of `err`: UTF-8, NUL-terminated, never NULL for a non-NULL `err`.
///
/// The string is borrowed from `err`: valid until `idpkit_error_free(err)`; do not free it.
/// Returns NULL when `err` is NULL.
#[no_mangle]
pub extern "C" fn idpkit_error_message(err: *const idpkit_error) -> *const c_char {
    guard_infallible(std::ptr::null(), || {
        if err.is_null() {
            return std::ptr::null();
        }
        // SAFETY: as in `idpkit_error_result`.
        unsafe { (*err).message.as_ptr() }
    })
}

/// Frees an error returned in an `err_out` parameter. NULL is accepted and ignored.
/// Freeing the same error twice is undefined behaviour.
#[no_mangle]
pub extern "C" fn idpkit_error_free(err: *mut idpkit_error) {
    guard_infallible((), || {
        if !err.is_null() {
            // SAFETY: `err` came from `idpkit_error::boxed` and is freed once (documented).
            drop(unsafe { Box::from_raw(err) });
        }
    })
}
