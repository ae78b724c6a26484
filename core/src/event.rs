//! Progress and audit events: one enum, serialized as JSON for every binding
//! (`{"type": "layer_progress", ...}`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// A progress sink. Cheap to clone; called from worker threads.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Sends an event to the sink when there is one.
pub(crate) fn emit(sink: Option<&EventSink>, event: Event) {
    if let Some(s) = sink {
        s(&event);
    }
}
