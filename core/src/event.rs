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
}

/// A progress sink. Cheap to clone; called from worker threads.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Sends an event to the sink when there is one.
pub(crate) fn emit(sink: Option<&EventSink>, event: Event) {
    if let Some(s) = sink {
        s(&event);
    }
}
