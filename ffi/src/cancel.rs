//! `idpkit_cancel`: a cancellation flag another thread can raise.

use crate::boundary::guard_infallible;
use idpkit::CancelToken;

/// A cancellation handle for calls (every operation takes one: `idpkit_build`, `idpkit_push`, ...).
///
/// Pass it to a call, then call `idpkit_cancel_cancel` from any thread to make that call
/// stop at its next check point and return `IDPKIT_RESULT_CANCELLED`. Once cancelled it
/// stays cancelled: a call started with it fails at once. One handle may serve several
/// calls. Thread-safe: every function but `idpkit_cancel_free` may run concurrently.
pub struct idpkit_cancel {
    pub(crate) token: CancelToken,
}

/// The core token behind an optional handle (NULL: no cancellation).
pub(crate) fn token_of(cancel: *const idpkit_cancel) -> Option<CancelToken> {
    if cancel.is_null() {
        None
    } else {
        // SAFETY: a non-NULL handle came from `idpkit_cancel_new` and is alive (documented
        // for every function that takes one).
        Some(unsafe { (*cancel).token.clone() })
    }
}

/// Creates a new, not yet cancelled handle. Free it with `idpkit_cancel_free`.
///
/// Returns NULL only if memory allocation failed or idpkit panicked.
#[no_mangle]
pub extern "C" fn idpkit_cancel_new() -> *mut idpkit_cancel {
    guard_infallible(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(idpkit_cancel {
            token: CancelToken::new(),
        }))
    })
}

/// Raises the flag: every call running with `cancel` stops at its next check point and
/// returns `IDPKIT_RESULT_CANCELLED`. Idempotent; NULL is ignored. Thread-safe and
/// async-signal-safe (one atomic store).
#[no_mangle]
pub extern "C" fn idpkit_cancel_cancel(cancel: *const idpkit_cancel) {
    guard_infallible((), || {
        if !cancel.is_null() {
            // SAFETY: a non-NULL handle came from `idpkit_cancel_new` and is alive (documented).
            unsafe { (*cancel).token.cancel() }
        }
    })
}

/// Whether `idpkit_cancel_cancel` was called on `cancel`. False for NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn idpkit_cancel_is_cancelled(cancel: *const idpkit_cancel) -> bool {
    guard_infallible(false, || {
        // SAFETY: as in `idpkit_cancel_cancel`.
        !cancel.is_null() && unsafe { (*cancel).token.is_cancelled() }
    })
}

/// Frees a handle. NULL is accepted and ignored.
///
/// Free it only after every call that was given it has returned and no other thread will
/// use it again.
#[no_mangle]
pub extern "C" fn idpkit_cancel_free(cancel: *mut idpkit_cancel) {
    guard_infallible((), || {
        if !cancel.is_null() {
            // SAFETY: came from `idpkit_cancel_new`, freed once (documented).
            drop(unsafe { Box::from_raw(cancel) });
        }
    })
}
