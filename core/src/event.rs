//! Progress and audit events: one enum, serialized as JSON for every binding
//! (`{"type": "layer_progress", ...}`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A build started reading its context.
    BuildStarted { context: String },
    /// Bytes of file content read into the layer so far (sent at most every few MiB).
    LayerProgress { files: u64, bytes: u64 },
    /// The layer came from the layer cache: nothing was re-read.
    LayerCached { digest: String },
    /// The layer is written and hashed.
    LayerDone {
        digest: String,
        diff_id: String,
        size: u64,
    },
    /// An image manifest was stored (and tagged).
    ImageStored { digest: String, tags: Vec<String> },
    /// Something was skipped or looks wrong but the operation goes on.
    Warning { message: String },
    /// A blob transfer (upload or download) started.
    BlobStarted { digest: String, size: u64 },
    /// Bytes of a blob transferred so far (sent every few MiB).
    BlobProgress {
        digest: String,
        bytes: u64,
        size: u64,
    },
    /// A blob transfer finished and was verified.
    BlobDone { digest: String, size: u64 },
    /// The registry (or the store) already had the blob: nothing was sent.
    BlobSkipped { digest: String },
    /// The registry linked the blob from another repository instead of an upload.
    BlobMounted { digest: String, from: String },
    /// A manifest was accepted by the registry.
    ManifestPushed { digest: String, reference: String },
    /// A request failed transiently and will be tried again after `delay_ms`.
    RetryScheduled {
        what: String,
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    /// Audit: TLS verification was skipped, or plain HTTP used, for a host marked insecure.
    InsecureConnection { host: String, reason: String },
    /// A watched source's revision is in the cache (the first, then each new one).
    /// `source_watch_flux` sends it; its fields are those of the `SourceFetched` a fetch
    /// returns.
    SourceFetched {
        /// The entry's directory: the source's files.
        #[schemars(extend("x-path" = true))]
        path: std::path::PathBuf,
        /// `GitRepository namespace/name`, …
        source: String,
        url: String,
        revision: String,
        digest: String,
        /// Bytes downloaded when it was filled.
        size: u64,
        files: u64,
        /// Bytes of file content in the entry.
        bytes: u64,
        /// Whether the entry was already in the cache (nothing was downloaded).
        hit: bool,
        /// Symlinks not created (`name -> target`).
        skipped_symlinks: Vec<String>,
    },
    /// A supervised process changed state (`run`, `sandbox_up`, `sandbox_down`).
    ProcessState {
        name: String,
        state: crate::supervise::ProcessState,
        /// Its process (group) id while it runs.
        pid: Option<u32>,
        restarts: u32,
        /// The exit status once it ended (128 + n: killed by signal n).
        exit_code: Option<i32>,
        /// `restarting`: the backoff before the next start.
        delay_ms: Option<u64>,
        /// Why: the exit, the probe's failure, the dependency that failed.
        message: Option<String>,
    },
    /// A line a supervised process printed (`run` with `output_events`).
    ProcessOutput { name: String, line: String },
    /// A line of a sandbox Job's main container's log (`sandbox_job` with `wait`).
    LogLine {
        pod: String,
        container: String,
        line: String,
    },
}

/// A progress sink. Cheap to clone; called from worker threads.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// A sink that stops delivering when its call ends ("events end with the call"): background
/// work the call leaves behind (a TLS handshake hyper finishes on a pooled connection, a
/// speculative connection) may still emit, and its event must not reach a callback whose
/// `user_data`, Go handle or Python frame is gone. Dropping the scope waits for an event
/// being delivered to finish, then closes the sink; later events are dropped.
pub(crate) struct SinkScope {
    sink: Option<EventSink>,
    open: Option<Arc<std::sync::RwLock<bool>>>,
}

impl SinkScope {
    pub(crate) fn new(sink: Option<&EventSink>) -> SinkScope {
        let Some(inner) = sink.cloned() else {
            return SinkScope {
                sink: None,
                open: None,
            };
        };
        let open = Arc::new(std::sync::RwLock::new(true));
        let gate = open.clone();
        let scoped: EventSink = Arc::new(move |e: &Event| {
            // Held while the callback runs, so closing waits for it.
            let open = gate.read().unwrap_or_else(|p| p.into_inner());
            if *open {
                inner(e);
            }
        });
        SinkScope {
            sink: Some(scoped),
            open: Some(open),
        }
    }

    /// The sink to hand to the call's work.
    pub(crate) fn sink(&self) -> Option<&EventSink> {
        self.sink.as_ref()
    }
}

impl Drop for SinkScope {
    fn drop(&mut self) {
        if let Some(open) = &self.open {
            *open.write().unwrap_or_else(|p| p.into_inner()) = false;
        }
    }
}

thread_local! {
    /// Set while this thread runs a callback: an idpkit call made from there would wait on
    /// the very call that is waiting for the callback (a store lock, the runtime).
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears the in-callback mark when the callback returns or panics.
struct CallbackMark(bool);

impl Drop for CallbackMark {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(self.0));
    }
}

/// Sends an event to the sink when there is one.
pub(crate) fn emit(sink: Option<&EventSink>, event: Event) {
    if let Some(s) = sink {
        let _mark = CallbackMark(IN_CALLBACK.with(|c| c.replace(true)));
        s(&event);
    }
}

/// A `CONFLICT` error when the current thread is inside an idpkit callback: re-entering the
/// store or the runtime from there would deadlock (a store lock held by the calling
/// operation) or abort ("a runtime within a runtime").
pub(crate) fn refuse_in_callback(what: &str) -> crate::Result<()> {
    if IN_CALLBACK.with(|c| c.get()) {
        return Err(crate::Error::new(
            crate::ErrorKind::Conflict,
            format!(
                "{what} was called from inside a progress callback of another idpkit call; a callback may \
                 look at the event, record it or set a flag, but must not call idpkit (the call it came from \
                 waits for it); do that after the call returns"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn event() -> Event {
        Event::InsecureConnection {
            host: "h".into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn a_scoped_sink_delivers_nothing_after_its_call_ends() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let sink: EventSink = Arc::new(move |_: &Event| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let leaked = {
            let scope = SinkScope::new(Some(&sink));
            emit(scope.sink(), event());
            scope.sink().cloned().unwrap()
        };
        // Background work still holding the scoped sink after the call returned.
        std::thread::spawn(move || leaked(&event())).join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_end_of_a_call_waits_for_an_event_being_delivered() {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let sink: EventSink = Arc::new(move |_: &Event| {
            std::thread::sleep(Duration::from_millis(200));
            d.fetch_add(1, Ordering::SeqCst);
        });
        let scope = SinkScope::new(Some(&sink));
        let s = scope.sink().cloned().unwrap();
        let t = std::thread::spawn(move || s(&event()));
        std::thread::sleep(Duration::from_millis(50));
        drop(scope);
        // The callback had finished before the call could return.
        assert_eq!(done.load(Ordering::SeqCst), 1);
        t.join().unwrap();
    }
}
