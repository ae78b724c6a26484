//! Which documents of a manifest tree point at others: the one place that knows every
//! manifest and index media type the store accepts (OCI, Docker v2 schema 2, Docker manifest
//! list), so gc, import, export and listing all follow the same edges.

use oci_spec::image::MediaType;

/// Docker's image manifest (v2 schema 2) and manifest list, as pulled from Docker Hub and
/// most registries or imported from a skopeo/buildah layout.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// What a descriptor's document is, for following a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    /// Lists manifests (OCI image index, Docker manifest list).
    Index,
    /// Names a config and layers (OCI image manifest, Docker v2 schema 2).
    Manifest,
    /// A leaf: config, layer, or anything else.
    Leaf,
}

pub(crate) fn doc_kind(mt: &MediaType) -> DocKind {
    match mt {
        MediaType::ImageIndex => DocKind::Index,
        MediaType::ImageManifest => DocKind::Manifest,
        MediaType::Other(s) if s == DOCKER_MANIFEST_LIST => DocKind::Index,
        MediaType::Other(s) if s == DOCKER_MANIFEST => DocKind::Manifest,
        _ => DocKind::Leaf,
    }
}

/// Whether the store can follow (and so keep through gc) a top-level image of this type.
pub(crate) fn is_image_document(mt: &MediaType) -> bool {
    doc_kind(mt) != DocKind::Leaf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_oci_documents_are_followed() {
        assert_eq!(doc_kind(&MediaType::ImageIndex), DocKind::Index);
        assert_eq!(
            doc_kind(&MediaType::from(DOCKER_MANIFEST_LIST)),
            DocKind::Index
        );
        assert_eq!(doc_kind(&MediaType::ImageManifest), DocKind::Manifest);
        assert_eq!(
            doc_kind(&MediaType::from(DOCKER_MANIFEST)),
            DocKind::Manifest
        );
        assert_eq!(doc_kind(&MediaType::ImageLayerGzip), DocKind::Leaf);
        assert_eq!(
            doc_kind(&MediaType::from(
                "application/vnd.docker.container.image.v1+json"
            )),
            DocKind::Leaf
        );
    }
}
