//! The one error type that crosses every boundary (C, Go, Python, Node, CLI).
//!
//! `ErrorKind` is a closed set: bindings map each kind to a result code, an exception
//! subclass, an `error.code` string or a Go sentinel. Messages say what failed, where,
//! and what to do; they never contain secrets.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// What went wrong, as a stable machine-readable class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u32)]
pub enum ErrorKind {
    /// The caller passed something malformed: a bad reference, option, pattern or path.
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
    /// The caller cancelled the operation.
    Cancelled = 10,
    /// Local storage failed: disk full, permission denied, read error.
    Io = 11,
    /// A bug in idpkit.
    Internal = 12,
}

impl ErrorKind {
    /// The stable upper-case code (`NOT_FOUND`, ...) used by Node's `error.code` and JSON.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "INVALID_INPUT",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Auth => "AUTH",
            ErrorKind::Untrusted => "UNTRUSTED",
            ErrorKind::Integrity => "INTEGRITY",
            ErrorKind::UnsafeArchive => "UNSAFE_ARCHIVE",
            ErrorKind::Policy => "POLICY",
            ErrorKind::Network => "NETWORK",
            ErrorKind::Conflict => "CONFLICT",
            ErrorKind::Cancelled => "CANCELLED",
            ErrorKind::Io => "IO",
            ErrorKind::Internal => "INTERNAL",
        }
    }

    /// Every kind, in code order; bindings iterate this to stay complete.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Auth,
        ErrorKind::Untrusted,
        ErrorKind::Integrity,
        ErrorKind::UnsafeArchive,
        ErrorKind::Policy,
        ErrorKind::Network,
        ErrorKind::Conflict,
        ErrorKind::Cancelled,
        ErrorKind::Io,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An idpkit failure: a kind plus a human message that names the file, host or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "operation cancelled")
    }

    /// Wraps an I/O error with the path it concerns and picks the kind from the OS error,
    /// so "no such file" becomes NotFound and "no space left" says to free disk space.
    pub fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let p = path.display();
        match err.kind() {
            K::NotFound => Self::not_found(format!("{what} {p}: not found")),
            K::PermissionDenied => Self::new(
                ErrorKind::Io,
                format!("{what} {p}: permission denied; check the file's owner and mode"),
            ),
            K::StorageFull => Self::new(
                ErrorKind::Io,
                format!("{what} {p}: no space left on device; free disk space and retry"),
            ),
            _ if err.raw_os_error() == Some(40) => Self::invalid(format!(
                "{what} {p}: too many levels of symbolic links (a symlink loop)"
            )),
            _ => Self::new(ErrorKind::Io, format!("{what} {p}: {err}")),
        }
    }

    /// Prefixes the message with more context while keeping the kind.
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid(format!("invalid JSON: {e}"))
    }
}
