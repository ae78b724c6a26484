//! The C ABI of idpkit (see `include/idpkit.h`, generated from this crate by cbindgen).
//!
//! The style is rustls-ffi's:
//!
//! - opaque handles (`idpkit_store`, `idpkit_cancel`, `idpkit_credentials`) created by `*_new` and freed by
//!   `*_free`, which accept NULL;
//! - every fallible function returns an [`idpkit_result`] and, on failure, stores an
//!   [`idpkit_error`] in its `err_out` parameter (when that is not NULL); outputs are written
//!   only on success; there is no thread-local "last error";
//! - every body runs inside one panic boundary: a panic becomes `IDPKIT_RESULT_PANIC`;
//! - strings are UTF-8; strings the library returns are freed with [`idpkit_string_free`];
//! - every operation is `idpkit_call` (or its typed entry, `idpkit_push`, ...): options
//!   and result cross as JSON documents with the shapes of `contract/idpkit.json`, parsed
//!   strictly by the core; secrets cross in an `idpkit_credentials` handle, never in JSON.

#![allow(non_camel_case_types)]
// The functions check their pointers for NULL themselves and document the rest; marking
// every extern "C" fn `unsafe` adds nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod boundary;
mod call;
mod cancel;
mod credentials;
mod error;
// Each typed entry is one call of `call::run`; kept to a few lines each (see the file).
#[rustfmt::skip]
mod ops;
mod store;
mod strings;

pub use boundary::idpkit_result;
pub use call::*;
pub use cancel::*;
pub use credentials::*;
pub use error::*;
pub use ops::*;
pub use store::*;
pub use strings::*;

use std::ffi::c_char;

/// The major part of `IDPKIT_VERSION`.
pub const IDPKIT_VERSION_MAJOR: u32 = 0;
/// The minor part of `IDPKIT_VERSION`.
pub const IDPKIT_VERSION_MINOR: u32 = 1;
/// The patch part of `IDPKIT_VERSION`.
pub const IDPKIT_VERSION_PATCH: u32 = 0;

// The header's version macros are literals (cbindgen copies them; `IDPKIT_VERSION` is built
// from them): these assertions fail the build the moment Cargo.toml's version and the macros
// disagree.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut n = 0u32;
    let mut i = 0;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

const _: () = assert!(IDPKIT_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(IDPKIT_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(IDPKIT_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));
const _: () = assert!(str_eq(env!("CARGO_PKG_VERSION"), idpkit::VERSION));

/// The library's version, `MAJOR.MINOR.PATCH`, as a static NUL-terminated string.
///
/// Compare it with `IDPKIT_VERSION` to detect a header/library mismatch at run time.
/// Never fails; the string must not be freed. Thread-safe.
#[no_mangle]
pub extern "C" fn idpkit_version() -> *const c_char {
    static V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

#[cfg(test)]
mod tests;
