//! The synchronous facade's engine: one process-wide tokio runtime, rebuilt after a fork.
//!
//! Public functions block; internally async work (HTTP, Kubernetes) runs here. A forked child
//! inherits the parent's runtime object but not its worker threads, so the runtime is keyed
//! by the process id and rebuilt when the pid changes (the approach of delta-rs and lancedb).

use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::runtime::Runtime;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The runtime for this process, created on first use and after a fork.
pub fn handle() -> Arc<Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return rt.clone();
        }
        // Inherited from the parent: its threads do not exist here. Leak it rather than
        // drop it, since dropping would try to join threads that are gone.
        if let Some((_, old)) = slot.take() {
            std::mem::forget(old);
        }
    }
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(crate::config::default_threads().clamp(1, 4))
            .thread_name("idpkit")
            .enable_all()
            .build()
            .expect("idpkit: cannot start the async runtime"),
    );
    *slot = Some((pid, rt.clone()));
    rt
}

/// Runs a future to completion from synchronous code.
pub fn block_on<F: Future>(future: F) -> F::Output {
    handle().block_on(future)
}

/// Runs a fallible future to completion, or stops it with `Cancelled` soon after `cancel`
/// fires. Dropping the future aborts its requests; files it was writing are temporary
/// files, removed on drop, so the store stays as it was.
pub fn block_on_cancellable<T, F>(
    cancel: Option<&crate::CancelToken>,
    future: F,
) -> crate::Result<T>
where
    F: Future<Output = crate::Result<T>>,
{
    crate::event::refuse_in_callback("a registry or cluster call")?;
    let Some(token) = cancel else {
        return block_on(future);
    };
    token.check()?;
    block_on(async {
        let watch = async {
            while !token.is_cancelled() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        futures_util::pin_mut!(future);
        futures_util::pin_mut!(watch);
        match futures_util::future::select(future, watch).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right(((), _)) => Err(crate::Error::cancelled()),
        }
    })
}
