//! Operations on the local store: build, images, tag, remove, inspect, gc, import, export.

use super::{need_store, Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::oci::{BuildOptions, BuildResult, GcReport, ImageInspect, ImageSummary, Store};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Options of operations that take nothing but the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NoOptions {}

/// One image of the store, by reference (`registry/repo:tag`) or digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImageRef {
    pub reference: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TagOptions {
    /// The image to tag (reference or digest).
    pub source: String,
    /// The new reference.
    pub target: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// An OCI image layout directory (umoci, skopeo `oci:`, buildah).
    #[schemars(extend("x-path" = true))]
    pub layout: PathBuf,
    /// Import only the image with this `org.opencontainers.image.ref.name`.
    pub tag: Option<String>,
    /// Repository name for the imported images (default: the layout directory's name).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    pub reference: String,
    /// The OCI image layout directory to write (created or added to).
    #[schemars(extend("x-path" = true))]
    pub layout: PathBuf,
    /// `org.opencontainers.image.ref.name` in the layout (default: the reference's tag).
    pub tag: Option<String>,
}

pub struct Build;
impl Operation for Build {
    const NAME: &'static str = "build";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str =
        "Builds an image from a directory into the store (one layer over an optional base).";
    const USES: Uses = Uses::EVENTS_CANCEL_CREDENTIAL;
    const POSITIONAL: &'static [&'static str] = &["context"];
    type Options = BuildOptions;
    type Output = BuildResult;
    fn run(store: Option<&Store>, opts: &BuildOptions, call: &Call) -> Result<BuildResult> {
        need_store(store, Self::NAME)?.build_call(opts, call)
    }
}

pub struct Images;
impl Operation for Images {
    const NAME: &'static str = "images";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "Lists the images of the store with their tags, digest, size.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = NoOptions;
    type Output = Vec<ImageSummary>;
    fn run(store: Option<&Store>, _: &NoOptions, _: &Call) -> Result<Vec<ImageSummary>> {
        need_store(store, Self::NAME)?.images()
    }
}

pub struct Tag;
impl Operation for Tag {
    const NAME: &'static str = "tag";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "Points a new reference at an image of the store.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["source", "target"];
    type Options = TagOptions;
    type Output = ImageSummary;
    fn run(store: Option<&Store>, o: &TagOptions, _: &Call) -> Result<ImageSummary> {
        need_store(store, Self::NAME)?.tag(&o.source, &o.target)
    }
}

pub struct Remove;
impl Operation for Remove {
    const NAME: &'static str = "remove";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str =
        "Removes a tag (or every tag of a digest); `gc` frees the blobs. Returns what was untagged.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["reference"];
    type Options = ImageRef;
    type Output = Vec<String>;
    fn run(store: Option<&Store>, o: &ImageRef, _: &Call) -> Result<Vec<String>> {
        need_store(store, Self::NAME)?.remove(&o.reference)
    }
}

pub struct Inspect;
impl Operation for Inspect {
    const NAME: &'static str = "inspect";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "The manifest and config of an image of the store.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["reference"];
    type Options = ImageRef;
    type Output = ImageInspect;
    fn run(store: Option<&Store>, o: &ImageRef, _: &Call) -> Result<ImageInspect> {
        need_store(store, Self::NAME)?.inspect(&o.reference)
    }
}

pub struct Gc;
impl Operation for Gc {
    const NAME: &'static str = "gc";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "Removes blobs no image of the store references.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = NoOptions;
    type Output = GcReport;
    fn run(store: Option<&Store>, _: &NoOptions, _: &Call) -> Result<GcReport> {
        need_store(store, Self::NAME)?.gc()
    }
}

pub struct Import;
impl Operation for Import {
    const NAME: &'static str = "import";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "Imports the images of an OCI image layout into the store.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["layout"];
    type Options = ImportOptions;
    type Output = Vec<ImageSummary>;
    fn run(store: Option<&Store>, o: &ImportOptions, _: &Call) -> Result<Vec<ImageSummary>> {
        need_store(store, Self::NAME)?.import(&o.layout, o.tag.as_deref(), o.name.as_deref())
    }
}

pub struct Export;
impl Operation for Export {
    const NAME: &'static str = "export";
    const NEEDS_STORE: bool = true;
    const SUMMARY: &'static str = "Writes an image of the store into an OCI image layout.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["reference", "layout"];
    type Options = ExportOptions;
    type Output = ImageSummary;
    fn run(store: Option<&Store>, o: &ExportOptions, _: &Call) -> Result<ImageSummary> {
        need_store(store, Self::NAME)?.export(&o.reference, &o.layout, o.tag.as_deref())
    }
}
