//! idpkit: one Rust core for the plumbing of an internal developer platform.
//!
//! Every public function blocks (see [`runtime`]); options, results and events are serde
//! types shared by the C ABI, Go, Python and Node bindings.

pub mod archive;
pub mod call;
pub mod cancel;
pub mod config;
pub mod digest;
pub mod doctor;
pub mod error;
pub mod event;
mod fsx;
pub mod gitguard;
pub mod gitops;
pub mod kube;
pub mod oci;
pub mod ops;
pub mod registry;
pub mod runtime;
pub mod sandbox;
pub mod secrets;
pub mod supervise;
pub mod trust;

pub use call::Call;
pub use cancel::CancelToken;
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventSink};
pub use oci::{
    BuildOptions, BuildResult, Compression, GcReport, ImageInspect, ImageSummary, Store,
};

/// The library version (Cargo.toml), also exported by the C header and every binding.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
