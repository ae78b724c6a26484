//! UTF-8 strings in and out.

use crate::boundary::{guard_infallible, Failure};
use idpkit::Error;
use std::ffi::{c_char, CStr, CString};

/// Borrows a required NUL-terminated UTF-8 argument.
pub(crate) fn arg_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::Null(name));
    }
    // SAFETY: a non-NULL string argument is NUL-terminated and lives for the call (documented).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|e| Failure::Core(Error::invalid(format!("{name}: not valid UTF-8 ({e})"))))
}

/// Borrows an optional argument: NULL means absent.
pub(crate) fn opt_str<'a>(
    p: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, name).map(Some)
    }
}

/// A string result the caller frees with `idpkit_string_free`.
pub(crate) fn string_out(s: &str, what: &str) -> Result<*mut c_char, Failure> {
    let c = CString::new(s).map_err(|_| Error::internal(format!("{what} contains a NUL byte")))?;
    Ok(c.into_raw())
}

/// Frees a string returned by this library (every `char **..._out`). NULL is accepted and
/// ignored. Do not pass strings from anywhere else, and free each string once.
#[no_mangle]
pub extern "C" fn idpkit_string_free(s: *mut c_char) {
    guard_infallible((), || {
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` in this library (documented).
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
