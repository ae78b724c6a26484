//! What one operation call carries besides its options: where its events go, what cancels
//! it, and the credentials it was given. Every operation takes `(&Options, &Call)`; the
//! options are plain serde data (the same JSON in every front end), and everything that is
//! not data (a callback, a cancel handle, a secret) travels here, so a secret can never end
//! up in an options document, a log line or a `Debug` dump.

use crate::cancel::CancelToken;
use crate::event::EventSink;
use crate::registry::Credential;
use std::fmt;

/// Sink, cancel token and credentials of one call. Cheap to clone.
#[derive(Clone, Default)]
pub struct Call {
    sink: Option<EventSink>,
    cancel: Option<CancelToken>,
    credential: Option<Credential>,
    source_credential: Option<Credential>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credential's own Debug redacts its secret.
        f.debug_struct("Call")
            .field("events", &self.sink.is_some())
            .field("cancel", &self.cancel.is_some())
            .field("credential", &self.credential)
            .field("source_credential", &self.source_credential)
            .finish()
    }
}

impl Call {
    /// A call with no events, no cancellation and looked-up credentials.
    pub fn new() -> Call {
        Call::default()
    }

    /// Progress and audit events go to `sink`.
    pub fn with_sink(mut self, sink: Option<EventSink>) -> Call {
        self.sink = sink;
        self
    }

    /// The call stops soon after `cancel` fires, with `CANCELLED`.
    pub fn with_cancel(mut self, cancel: Option<CancelToken>) -> Call {
        self.cancel = cancel;
        self
    }

    /// Credentials for the registry the operation talks to, instead of looking them up
    /// (environment, Docker's config). For `copy` across registries: the destination's.
    pub fn with_credential(mut self, credential: Option<Credential>) -> Call {
        self.credential = credential;
        self
    }

    /// Credentials for the source registry of `copy` (default: its stored login); never
    /// sent to the destination.
    pub fn with_source_credential(mut self, credential: Option<Credential>) -> Call {
        self.source_credential = credential;
        self
    }

    pub fn sink(&self) -> Option<&EventSink> {
        self.sink.as_ref()
    }

    pub fn cancel(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    pub fn source_credential(&self) -> Option<&Credential> {
        self.source_credential.as_ref()
    }

    /// Every secret of the call, for the last redaction of an error leaving a front end.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in [&self.credential, &self.source_credential]
            .into_iter()
            .flatten()
        {
            out.extend(c.secrets());
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// `e` with every secret of the call replaced by `<redacted>` (belt and braces: the core
    /// keeps secrets out of its messages already).
    pub fn redact(&self, mut e: crate::Error) -> crate::Error {
        for s in self.secrets() {
            if e.message.contains(&s) {
                e.message = e.message.replace(&s, "<redacted>");
            }
        }
        e
    }
}
