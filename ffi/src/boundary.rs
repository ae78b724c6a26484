//! The result enum and the one panic boundary every `extern "C"` body runs in.

use crate::error::idpkit_error;
use idpkit::{Error, ErrorKind};
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What every fallible function returns.
///
/// `IDPKIT_RESULT_OK` is 0. The values 1 to 12 are the core's error kinds, with the same
/// numbers in every binding; `NULL_ARGUMENT` and `PANIC` are the C ABI's own. New kinds may
/// be added in a minor version: treat an unknown value like `IDPKIT_RESULT_INTERNAL`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum idpkit_result {
    /// Success: the outputs were written.
    Ok = 0,
    /// The caller passed something malformed: a bad reference, option, JSON document,
    /// pattern, path, or a string that is not UTF-8.
    InvalidInput = 1,
    /// A file, image, tag, blob or remote object does not exist.
    NotFound = 2,
    /// Credentials were missing or rejected.
    Auth = 3,
    /// A TLS peer was not trusted (unknown issuer, expired, wrong host, ...).
    Untrusted = 4,
    /// Content did not match its digest or size.
    Integrity = 5,
    /// An archive tried to escape its destination or exceeded a limit.
    UnsafeArchive = 6,
    /// A policy (push guard, insecure host rules, ...) forbade the operation.
    Policy = 7,
    /// A network peer could not be reached or misbehaved.
    Network = 8,
    /// Concurrent modification or an already-existing object.
    Conflict = 9,
    /// The operation was cancelled through its `idpkit_cancel`.
    Cancelled = 10,
    /// Local storage failed: disk full, permission denied, read error.
    Io = 11,
    /// A bug in idpkit.
    Internal = 12,
    /// A required pointer argument was NULL. Nothing was done.
    NullArgument = 100,
    /// idpkit panicked (a bug). The call was abandoned; the handles stay usable.
    Panic = 101,
}

impl idpkit_result {
    pub(crate) fn from_kind(kind: ErrorKind) -> Self {
        use idpkit_result as R;
        match kind {
            ErrorKind::InvalidInput => R::InvalidInput,
            ErrorKind::NotFound => R::NotFound,
            ErrorKind::Auth => R::Auth,
            ErrorKind::Untrusted => R::Untrusted,
            ErrorKind::Integrity => R::Integrity,
            ErrorKind::UnsafeArchive => R::UnsafeArchive,
            ErrorKind::Policy => R::Policy,
            ErrorKind::Network => R::Network,
            ErrorKind::Conflict => R::Conflict,
            ErrorKind::Cancelled => R::Cancelled,
            ErrorKind::Io => R::Io,
            ErrorKind::Internal => R::Internal,
        }
    }

    /// The stable upper-case name (`"NOT_FOUND"`, ...), NUL-terminated.
    pub(crate) fn name(self) -> &'static str {
        use idpkit_result as R;
        match self {
            R::Ok => "OK\0",
            R::InvalidInput => "INVALID_INPUT\0",
            R::NotFound => "NOT_FOUND\0",
            R::Auth => "AUTH\0",
            R::Untrusted => "UNTRUSTED\0",
            R::Integrity => "INTEGRITY\0",
            R::UnsafeArchive => "UNSAFE_ARCHIVE\0",
            R::Policy => "POLICY\0",
            R::Network => "NETWORK\0",
            R::Conflict => "CONFLICT\0",
            R::Cancelled => "CANCELLED\0",
            R::Io => "IO\0",
            R::Internal => "INTERNAL\0",
            R::NullArgument => "NULL_ARGUMENT\0",
            R::Panic => "PANIC\0",
        }
    }
}

/// The stable upper-case name of a result code (`"OK"`, `"NOT_FOUND"`, `"PANIC"`, ...), the
/// same string as the core's `ErrorKind` code and Node's `error.code`.
///
/// Returns a static string that must not be freed, or `"UNKNOWN"` for a value this library
/// does not define. Never fails. Thread-safe.
#[no_mangle]
pub extern "C" fn idpkit_result_name(result: u32) -> *const c_char {
    use idpkit_result as R;
    let all = [
        R::Ok,
        R::InvalidInput,
        R::NotFound,
        R::Auth,
        R::Untrusted,
        R::Integrity,
        R::UnsafeArchive,
        R::Policy,
        R::Network,
        R::Conflict,
        R::Cancelled,
        R::Io,
        R::Internal,
        R::NullArgument,
        R::Panic,
    ];
    let name = all
        .iter()
        .find(|r| **r as u32 == result)
        .map_or("UNKNOWN\0", |r| r.name());
    name.as_ptr().cast()
}

/// Why a call failed before or inside the core.
pub(crate) enum Failure {
    Core(Error),
    Null(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

/// Checks a required pointer argument.
pub(crate) fn non_null<T>(p: *const T, name: &'static str) -> Result<*const T, Failure> {
    if p.is_null() {
        Err(Failure::Null(name))
    } else {
        Ok(p)
    }
}

/// Runs `body` inside the panic boundary and turns its outcome into a result code, storing
/// an error in `*err_out` on failure when `err_out` is not NULL.
///
/// `body` writes the function's outputs itself, as its last step, after everything that can
/// fail: so outputs are written only on success.
pub(crate) fn guard<F>(err_out: *mut *mut idpkit_error, body: F) -> idpkit_result
where
    F: FnOnce() -> Result<(), Failure>,
{
    let (code, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return idpkit_result::Ok,
        Ok(Err(Failure::Core(e))) => (idpkit_result::from_kind(e.kind), e.message),
        Ok(Err(Failure::Null(name))) => (
            idpkit_result::NullArgument,
            format!("argument {name} is NULL; pass a valid pointer"),
        ),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            (
                idpkit_result::Panic,
                format!("idpkit panicked (a bug; please report it): {what}"),
            )
        }
    };
    if !err_out.is_null() {
        // Building the error must not unwind across the boundary either.
        let made = catch_unwind(AssertUnwindSafe(|| idpkit_error::boxed(code, &message)));
        if let Ok(e) = made {
            // SAFETY: the caller passed a writable `idpkit_error **` (documented).
            unsafe { *err_out = e };
        }
    }
    code
}

/// Like [`guard`] for functions without an error out-parameter: a panic yields `fallback`.
pub(crate) fn guard_infallible<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn codes_match_error_kinds() {
        for kind in ErrorKind::ALL {
            let r = idpkit_result::from_kind(kind);
            assert_eq!(r as u32, kind as u32);
            assert_eq!(r.name().trim_end_matches('\0'), kind.code());
        }
    }

    #[test]
    fn panic_becomes_result_panic() {
        let mut err: *mut idpkit_error = ptr::null_mut();
        let r = guard(&mut err, || panic!("boom"));
        assert_eq!(r, idpkit_result::Panic);
        assert!(!err.is_null());
        let msg = unsafe { std::ffi::CStr::from_ptr(crate::idpkit_error_message(err)) };
        assert!(msg.to_str().unwrap().contains("boom"));
        assert_eq!(crate::idpkit_error_result(err), idpkit_result::Panic);
        crate::idpkit_error_free(err);
        // A NULL err_out is allowed.
        assert_eq!(
            guard(ptr::null_mut(), || panic!("again")),
            idpkit_result::Panic
        );
    }

    #[test]
    fn names() {
        let name = |r: u32| unsafe {
            std::ffi::CStr::from_ptr(idpkit_result_name(r))
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(name(0), "OK");
        assert_eq!(name(2), "NOT_FOUND");
        assert_eq!(name(101), "PANIC");
        assert_eq!(name(55), "UNKNOWN");
    }
}
