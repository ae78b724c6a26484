//! `idpkit_store`: the local OCI image-layout store.

use crate::boundary::{guard, idpkit_result, non_null, Failure};
use crate::error::idpkit_error;
use crate::strings::{arg_str, string_out};
use idpkit::{Error, Store};
use std::ffi::c_char;

/// A local OCI image-layout store (`oci-layout`, `index.json`, `blobs/`).
///
/// Created by `idpkit_store_new` or `idpkit_store_new_default`, freed by
/// `idpkit_store_free`. Thread-safe: one handle may be used by many threads at once (writers
/// are serialized by file locks, also across processes), except that `idpkit_store_free`
/// must run after every other call on the handle has returned.
pub struct idpkit_store {
    store: Store,
}

pub(crate) fn store_ref<'a>(store: *const idpkit_store) -> Result<&'a Store, Failure> {
    let p = non_null(store, "store")?;
    // SAFETY: a non-NULL handle came from `idpkit_store_new*` and is alive (documented).
    Ok(unsafe { &(*p).store })
}

/// Writes `value` to a required output pointer (the last step of a successful call).
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: checked non-NULL before any work; points to writable memory (documented).
    unsafe { *out = value };
}

pub(crate) fn check_out<T>(out: *mut T, name: &'static str) -> Result<(), Failure> {
    non_null(out as *const T, name).map(|_| ())
}

/// Opens the store at `path` (UTF-8), creating an empty OCI image layout when the directory
/// is missing or empty, and writes a new handle to `*store_out`.
///
/// Ownership: the caller frees `*store_out` with `idpkit_store_free`.
/// Errors: `NULL_ARGUMENT` (`path` or `store_out` NULL), `INVALID_INPUT` (not UTF-8, or
/// `path` is a file or a non-empty directory that is not an OCI layout), `NOT_FOUND`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_new(
    path: *const c_char,
    store_out: *mut *mut idpkit_store,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(store_out, "store_out")?;
        let path = arg_str(path, "path")?;
        let store = Store::open(path)?;
        write_out(store_out, Box::into_raw(Box::new(idpkit_store { store })));
        Ok(())
    })
}

/// Opens the default store (`$IDPKIT_STORE`, else `$XDG_DATA_HOME/idpkit/store`, else
/// `~/.local/share/idpkit/store`), like `idpkit_store_new`.
///
/// Errors: `NULL_ARGUMENT` (`store_out` NULL), then as `idpkit_store_new`.
#[no_mangle]
pub extern "C" fn idpkit_store_new_default(
    store_out: *mut *mut idpkit_store,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(store_out, "store_out")?;
        let store = Store::open_default()?;
        write_out(store_out, Box::into_raw(Box::new(idpkit_store { store })));
        Ok(())
    })
}

/// Frees a store handle. NULL is accepted and ignored. The store on disk is untouched.
/// Call it once, after every other call on the handle has returned.
#[no_mangle]
pub extern "C" fn idpkit_store_free(store: *mut idpkit_store) {
    crate::boundary::guard_infallible((), || {
        if !store.is_null() {
            // SAFETY: came from `idpkit_store_new*`, freed once (documented).
            drop(unsafe { Box::from_raw(store) });
        }
    })
}

/// Writes the store's root directory to `*path_out` (UTF-8; free it with
/// `idpkit_string_free`).
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (the path is not valid UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_store_root(
    store: *const idpkit_store,
    path_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(path_out, "path_out")?;
        let store = store_ref(store)?;
        let root = store.root().to_str().ok_or_else(|| {
            Error::invalid(format!(
                "store {}: path is not UTF-8",
                store.root().display()
            ))
        })?;
        write_out(path_out, string_out(root, "store path")?);
        Ok(())
    })
}
