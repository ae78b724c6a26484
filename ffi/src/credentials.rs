//! `idpkit_credentials`: the secrets of a call, kept out of every JSON document.

use crate::boundary::{guard, guard_infallible, idpkit_result, non_null, Failure};
use crate::error::idpkit_error;
use crate::strings::arg_str;
use idpkit::registry::Credential;

/// How the core's messages name credentials given through this handle.
const SOURCE: &str = "the idpkit_credentials handle";

/// Registry credentials for one or more calls: a username and password or a token for the
/// registry the operation talks to, and (for `idpkit_copy`) the same for the source
/// registry. Secrets never go through options JSON and never appear in an error or event.
///
/// Created by `idpkit_credentials_new` (empty: credentials are looked up, as with a NULL
/// handle), filled by the `idpkit_credentials_set_*` functions, freed by
/// `idpkit_credentials_free`, which overwrites the secrets first. A handle may be passed to
/// many calls, also at once; do not set it while a call that was given it runs.
pub struct idpkit_credentials {
    credential: Option<Credential>,
    source: Option<Credential>,
}

/// Overwrites the secret bytes of `c` (best effort: copies the core made for a call that
/// has returned are its own).
fn wipe(c: &mut Option<Credential>) {
    let secret = match c {
        Some(Credential::Basic { password, .. }) => password,
        Some(Credential::Token { token, .. }) => token,
        _ => return,
    };
    let mut bytes = std::mem::take(secret).into_bytes();
    for b in bytes.iter_mut() {
        // SAFETY: a valid, aligned byte of a live buffer; volatile so the store stays.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    *c = None;
}

/// The credentials of a call from an optional handle: (registry's, source registry's).
pub(crate) fn credentials_of(
    creds: *const idpkit_credentials,
) -> (Option<Credential>, Option<Credential>) {
    if creds.is_null() {
        return (None, None);
    }
    // SAFETY: a non-NULL handle came from `idpkit_credentials_new` and is alive (documented).
    let c = unsafe { &*creds };
    (c.credential.clone(), c.source.clone())
}

/// Sets one slot of the handle from a username and password or a token.
fn set(
    creds: *mut idpkit_credentials,
    source_slot: bool,
    basic: Option<(*const std::ffi::c_char, *const std::ffi::c_char)>,
    token: *const std::ffi::c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        let p = non_null(creds, "credentials")?.cast_mut();
        let made = match basic {
            Some((u, pw)) => Credential::from_arguments(
                Some(arg_str(u, "username")?.to_string()),
                Some(arg_str(pw, "password")?.to_string()),
                None,
                SOURCE,
            ),
            None => Credential::from_arguments(
                None,
                None,
                Some(arg_str(token, "token")?.to_string()),
                SOURCE,
            ),
        };
        let made = made.map_err(Failure::Core)?;
        // SAFETY: checked non-NULL; the handle is not used by a running call (documented).
        let c = unsafe { &mut *p };
        let slot = if source_slot {
            &mut c.source
        } else {
            &mut c.credential
        };
        wipe(slot);
        *slot = made;
        Ok(())
    })
}

/// Creates an empty handle (no credentials: they are looked up). Free it with
/// `idpkit_credentials_free`. Returns NULL only if allocation failed.
#[no_mangle]
pub extern "C" fn idpkit_credentials_new() -> *mut idpkit_credentials {
    guard_infallible(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(idpkit_credentials {
            credential: None,
            source: None,
        }))
    })
}

/// Sets a username and password (a Gitea token works as the password) for the registry of
/// the call, replacing what was set. `login` takes its credentials from here.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (not UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_credentials_set_basic(
    credentials: *mut idpkit_credentials,
    username: *const std::ffi::c_char,
    password: *const std::ffi::c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    set(
        credentials,
        false,
        Some((username, password)),
        std::ptr::null(),
        err_out,
    )
}

/// Sets a registry bearer token (sent as is) for the registry of the call, replacing what
/// was set.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (not UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_credentials_set_token(
    credentials: *mut idpkit_credentials,
    token: *const std::ffi::c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    set(credentials, false, None, token, err_out)
}

/// Sets a username and password for the source registry of `idpkit_copy` (default: its
/// stored login); never sent to the destination.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (not UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_credentials_set_source_basic(
    credentials: *mut idpkit_credentials,
    username: *const std::ffi::c_char,
    password: *const std::ffi::c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    set(
        credentials,
        true,
        Some((username, password)),
        std::ptr::null(),
        err_out,
    )
}

/// Sets a bearer token for the source registry of `idpkit_copy`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (not UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_credentials_set_source_token(
    credentials: *mut idpkit_credentials,
    token: *const std::ffi::c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    set(credentials, true, None, token, err_out)
}

/// Overwrites the secrets and frees the handle. NULL is accepted and ignored. Free it once,
/// after every call that was given it has returned.
#[no_mangle]
pub extern "C" fn idpkit_credentials_free(credentials: *mut idpkit_credentials) {
    guard_infallible((), || {
        if !credentials.is_null() {
            // SAFETY: came from `idpkit_credentials_new`, freed once (documented).
            let mut c = unsafe { Box::from_raw(credentials) };
            wipe(&mut c.credential);
            wipe(&mut c.source);
        }
    })
}
