//! Cooperative cancellation shared by every long call (C's `idpkit_cancel`, Go's context,
//! Python's KeyboardInterrupt, Node's AbortSignal).

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// Two tokens are equal when they are the same token (so option structs holding one can
/// still derive `PartialEq`).
impl PartialEq for CancelToken {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for CancelToken {}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every operation holding this token to stop at its next check point.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// Returns `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::cancelled())
        } else {
            Ok(())
        }
    }
}

/// Checks an optional token.
pub(crate) fn check(token: Option<&CancelToken>) -> Result<()> {
    token.map_or(Ok(()), CancelToken::check)
}
