//! OCI images: references, `.dockerignore`, layers, image config/manifest, and the local
//! OCI image-layout store.

mod build;
pub mod compress;
pub mod document;
pub mod ignore;
pub(crate) mod image;
mod layer;
mod listing;
mod manage;
mod media;
pub mod reference;
mod store;
mod transfer;
mod types;
mod writeback;
pub(crate) use writeback::WritebackFile;

pub use document::{ImageConfig, ImageIndex, ImageManifest};
pub use reference::Reference;
pub use store::Store;
pub use types::*;
